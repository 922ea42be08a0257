/**
 * eBPF for Deno: read clang-compiled BPF objects, read and write BTF, assemble programs,
 * create maps, load programs and attach them, all through the bpf(2) system call.
 *
 * Importing this module needs no permission. Parsing objects and BTF from bytes needs none
 * either; talking to the kernel needs `--allow-ffi` and CAP_BPF (or root).
 *
 * @module
 */

export * from "./errors.ts";
export * as asm from "./asm/mod.ts";
export * as btf from "./btf/mod.ts";
export * from "./elf/mod.ts";
export * from "./map/mod.ts";
export * from "./prog/mod.ts";
export * from "./link/mod.ts";
