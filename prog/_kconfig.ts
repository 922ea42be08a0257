/**
 * Values of `__kconfig` externs: the kernel's build configuration (from `/boot/config-$(uname
 * -r)` or `/proc/config.gz`) and libbpf's virtual ones (`LINUX_KERNEL_VERSION`,
 * `LINUX_HAS_BPF_COOKIE`, `LINUX_HAS_SYSCALL_WRAPPER`: the three libbpf 1.1 computes),
 * encoded by the extern's BTF type as libbpf encodes them.
 *
 * @module
 */

import { gunzipSync } from "node:zlib";
import { feature } from "../_internal/feature.ts";
import { kallsymsAddress } from "./_kallsyms.ts";
import { probeProgramLoad } from "./_probe_load.ts";
import { Array as ArrayType, Enum, Int, IntEncoding, sizeof, type Type } from "../btf/mod.ts";
import { skipQualifiers } from "../btf/mod.ts";

let config: Map<string, string> | undefined;

/** The kernel's configuration as `CONFIG_…` → value text. */
export function kernelConfig(): Map<string, string> {
  if (config) return config;
  let text: string | undefined;
  try {
    text = Deno.readTextFileSync(`/boot/config-${Deno.osRelease()}`);
  } catch {
    try {
      text = new TextDecoder().decode(gunzipSync(Deno.readFileSync("/proc/config.gz")));
    } catch (e) {
      throw new Error(
        "Cannot read the kernel configuration from /boot/config-* or /proc/config.gz",
        { cause: e },
      );
    }
  }
  config = new Map();
  for (const line of text.split("\n")) {
    const eq = line.indexOf("=");
    if (!line.startsWith("CONFIG_") || eq < 0) continue;
    config.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return config;
}

let runningVersion: number | undefined;

/**
 * `KERNEL_VERSION(a, b, c)` of `release` (default: the running kernel's, read once: each
 * `Deno.osRelease()` reads procfs), the patch level capped at 255.
 */
export function kernelVersionCode(release?: string): number {
  if (release === undefined) return runningVersion ??= kernelVersionCode(Deno.osRelease());
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(release);
  if (!m) throw new Error(`Cannot parse kernel release "${release}"`);
  return (Number(m[1]) << 16) + (Number(m[2]) << 8) + Math.min(255, Number(m[3] ?? 0));
}

const BPF_PROG_TYPE_TRACEPOINT = 5;
const BPF_FUNC_GET_ATTACH_COOKIE = 174;
/** `call bpf_get_attach_cookie`, encoded. */
const CALL_GET_ATTACH_COOKIE = [0x85, 0, 0, 0, BPF_FUNC_GET_ATTACH_COOKIE, 0, 0, 0];

/**
 * BPF cookies (`bpf_get_attach_cookie`), asked as libbpf asks: whether the verifier lets a
 * tracepoint program call the helper. `usdt.bpf.h` reads its spec id from the cookie when
 * `LINUX_HAS_BPF_COOKIE` says so, and from an ip → id hash map otherwise.
 */
export const bpfCookie = feature(
  "BPF cookie",
  "5.15",
  () => probeProgramLoad(BPF_PROG_TYPE_TRACEPOINT, CALL_GET_ATTACH_COOKIE),
);

/** The x86-64 syscall entry wrapper's name; other architectures have other prefixes. */
const SYSCALL_WRAPPER = "__x64_sys_bpf";

/**
 * The value libbpf gives virtual kconfig extern `name` (`LINUX_…`), or undefined when it
 * gives none (a `__weak` extern is then 0, as in libbpf).
 *
 * `LINUX_HAS_SYSCALL_WRAPPER` tells `BPF_KSYSCALL` whether syscall arguments sit behind a
 * `pt_regs` wrapper. libbpf 1.1 finds out by opening a kprobe on `__x64_sys_bpf`, which
 * fails on kernels without kprobes although the wrapper is there; the symbol in
 * `/proc/kallsyms` is the fact the program asks about, so that is what is read here.
 */
export function virtualKconfig(name: string): string | undefined {
  switch (name) {
    case "LINUX_KERNEL_VERSION":
      return String(kernelVersionCode());
    case "LINUX_HAS_BPF_COOKIE":
      return bpfCookie.supported() ? "y" : "n";
    case "LINUX_HAS_SYSCALL_WRAPPER":
      return kallsymsAddress(SYSCALL_WRAPPER) !== undefined ? "y" : "n";
    default:
      return undefined;
  }
}

/**
 * Writes the value of kconfig extern `name` of BTF type `type` into `out` at `offset`.
 * Returns false when the kernel has no value for it (the caller decides about `__weak`):
 * a `CONFIG_` option the configuration does not set, or a `LINUX_` name libbpf does not
 * compute.
 */
export function writeKconfig(name: string, type: Type, out: Uint8Array, offset: number): boolean {
  let value: string | undefined;
  if (name.startsWith("LINUX_")) value = virtualKconfig(name);
  else if (name.startsWith("CONFIG_")) value = kernelConfig().get(name);
  else throw new TypeError(`Unsupported kconfig extern '${name}'`);
  if (value === undefined) return false;
  const t = skipQualifiers(type);
  const size = sizeof(t);
  if (offset < 0 || offset + size > out.length) {
    throw new RangeError(`Kconfig extern '${name}' at ${offset} does not fit its map`);
  }
  const view = new DataView(out.buffer, out.byteOffset + offset, size);
  const tri = value === "y" ? 1 : value === "m" ? 2 : value === "n" ? 0 : undefined;
  if (t instanceof Enum && t.name === "libbpf_tristate") {
    if (tri === undefined) throw new TypeError(`Kconfig '${name}' = ${value} is not a tristate`);
    writeInt(view, size, BigInt(tri));
    return true;
  }
  if (t instanceof Int && (t.encoding & IntEncoding.Bool) !== 0) {
    if (tri === undefined || tri === 2) {
      throw new TypeError(`Kconfig '${name}' = ${value} is not a bool`);
    }
    view.setUint8(0, tri);
    return true;
  }
  if (
    t instanceof Int && size === 1 && (t.encoding & IntEncoding.Char) !== 0 && tri !== undefined
  ) {
    view.setUint8(0, value.charCodeAt(0));
    return true;
  }
  if (t instanceof ArrayType) {
    if (!value.startsWith('"') || !value.endsWith('"')) {
      throw new TypeError(`Kconfig '${name}' = ${value} is not a string`);
    }
    const bytes = new TextEncoder().encode(value.slice(1, -1));
    out.set(bytes.subarray(0, size - 1), offset);
    return true;
  }
  if (t instanceof Int || t instanceof Enum) {
    if (tri !== undefined && !/^\d/.test(value)) {
      writeInt(view, size, BigInt(tri));
      return true;
    }
    let n: bigint;
    try {
      n = BigInt(value);
    } catch {
      throw new TypeError(`Kconfig '${name}' = ${value} is not a number`);
    }
    writeInt(view, size, n);
    return true;
  }
  throw new TypeError(`Kconfig extern '${name}' has a type libbpf does not support`);
}

function writeInt(view: DataView, size: number, n: bigint): void {
  const le = true;
  switch (size) {
    case 1:
      view.setUint8(0, Number(BigInt.asUintN(8, n)));
      break;
    case 2:
      view.setUint16(0, Number(BigInt.asUintN(16, n)), le);
      break;
    case 4:
      view.setUint32(0, Number(BigInt.asUintN(32, n)), le);
      break;
    case 8:
      view.setBigUint64(0, BigInt.asUintN(64, n), le);
      break;
    default:
      throw new TypeError(`Kconfig value of ${size} bytes`);
  }
}
