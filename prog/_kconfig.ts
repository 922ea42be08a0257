/**
 * Values of `__kconfig` externs: the kernel's build configuration (from `/boot/config-$(uname
 * -r)` or `/proc/config.gz`) and libbpf's virtual ones (`LINUX_KERNEL_VERSION`,
 * `LINUX_HAS_BPF_COOKIE`, `LINUX_HAS_SYSCALL_WRAPPER`: the three libbpf 1.1 computes),
 * encoded by the extern's BTF type as libbpf encodes them.
 *
 * @module
 */

import { feature } from "../_internal/feature.ts";
import { kallsymsAddress } from "./_kallsyms.ts";
import { probeProgramLoad } from "./_probe_load.ts";
import { Array as ArrayType, Enum, Int, IntEncoding, sizeof, type Type } from "../btf/mod.ts";
import { underlyingType } from "../btf/mod.ts";
import { HOST_BYTE_ORDER } from "../asm/mod.ts";
import { NotSupportedError, PermissionError } from "../errors.ts";

let config: Map<string, string> | undefined;

/**
 * node:zlib's `gunzipSync`, loaded on first use: a static `import "node:zlib"` makes every
 * process that imports this package load Deno's Node compatibility layer (~50 ms at start-up),
 * and only a gzipped configuration (`/proc/config.gz`) needs it. `getBuiltinModule` is the
 * synchronous way to load it, as `newCollection` is synchronous.
 */
function gunzipSync(bytes: Uint8Array): Uint8Array {
  // deno-lint-ignore no-process-global -- lazy on purpose; see above
  const zlib = process.getBuiltinModule("node:zlib") as typeof import("node:zlib");
  return zlib.gunzipSync(bytes);
}

/** Where libbpf looks for the kernel's configuration, in its order. */
export function kernelConfigPaths(): string[] {
  return [`/boot/config-${Deno.osRelease()}`, "/proc/config.gz"];
}

/**
 * The kernel's configuration as `CONFIG_…` → value text, read once: from the first of
 * `/boot/config-$(uname -r)` and `/proc/config.gz` that can be read (each may be plain or
 * gzipped, as libbpf's `gzopen` takes both). Throws {@linkcode NotSupportedError} when
 * neither can be read, as libbpf fails then even for `__weak` externs.
 */
export function kernelConfig(): Map<string, string> {
  return config ??= readKernelConfig(kernelConfigPaths());
}

/** {@linkcode kernelConfig} from the first readable file of `paths`. */
export function readKernelConfig(paths: readonly string[]): Map<string, string> {
  const missing: unknown[] = [];
  for (const path of paths) {
    let bytes: Uint8Array;
    try {
      bytes = Deno.readFileSync(path);
    } catch (e) {
      if (e instanceof Deno.errors.NotCapable) {
        throw new PermissionError(
          `Cannot read the kernel configuration '${path}'`,
          "--allow-read",
          {
            cause: e,
          },
        );
      }
      missing.push(e);
      continue;
    }
    const gzipped = bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
    return parseKernelConfig(new TextDecoder().decode(gzipped ? gunzipSync(bytes) : bytes));
  }
  throw new NotSupportedError(
    "Reading the kernel configuration",
    undefined,
    `none of ${paths.map((p) => `'${p}'`).join(", ")} can be read ` +
      "(/proc/config.gz needs CONFIG_IKCONFIG_PROC)",
    { cause: missing.length === 1 ? missing[0] : new AggregateError(missing) },
  );
}

/** `CONFIG_NAME=value` lines; comments (`# CONFIG_X is not set`) leave X unset. */
export function parseKernelConfig(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split("\n")) {
    const eq = line.indexOf("=");
    if (!line.startsWith("CONFIG_") || eq < 0) continue;
    out.set(line.slice(0, eq), line.slice(eq + 1).trimEnd());
  }
  return out;
}

/** `KERNEL_VERSION(a, b, c)`, the patch level capped at 255 as in the kernel's macro. */
function versionCode(a: number, b: number, c: number): number {
  return (a << 16) + (b << 8) + Math.min(255, c);
}

/**
 * `KERNEL_VERSION(a, b, c)` of a release string such as `uname -r` prints, the patch level
 * capped at 255 (a missing one is 0).
 */
export function kernelVersionCode(release: string): number {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(release);
  if (!m) throw new Error(`Cannot parse kernel release "${release}"`);
  return versionCode(Number(m[1]), Number(m[2]), Number(m[3] ?? 0));
}

/** What the running kernel tells about its version; see {@linkcode linuxVersionCode}. */
export interface KernelVersionSources {
  /** `/proc/version_signature` (Ubuntu only): `Ubuntu 5.4.0-12.15-generic 5.4.8`. */
  signature?: string;
  /** `uname -v`: `#1 SMP Debian 4.19.260-1 (2022-09-29)` on Debian. */
  version?: string;
  /** `uname -r`: `4.19.0-22-amd64`. */
  release: string;
}

/**
 * The `LINUX_VERSION_CODE` a kernel was built with, found as libbpf's `get_kernel_version`
 * finds it. Ubuntu and Debian keep the stable patch level out of the release (`5.4.0-12`
 * is 5.4.8, `4.19.0-22` is 4.19.260): Ubuntu states it in `/proc/version_signature`,
 * Debian in `uname -v`; other kernels' release says it.
 */
export function linuxVersionCode(sources: KernelVersionSources): number {
  const triple = (s: string | undefined) => {
    const m = s === undefined ? null : /^(\d+)\.(\d+)\.(\d+)/.exec(s);
    return m ? versionCode(Number(m[1]), Number(m[2]), Number(m[3])) : undefined;
  };
  const ubuntu = triple(sources.signature?.trim().split(/\s+/)[2]);
  if (ubuntu !== undefined) return ubuntu;
  const at = sources.version?.indexOf("Debian ") ?? -1;
  const debian = at < 0 ? undefined : triple(sources.version!.slice(at + "Debian ".length));
  return debian ?? kernelVersionCode(sources.release);
}

function readOptional(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

let runningVersion: number | undefined;

/** {@linkcode linuxVersionCode} of the running kernel, read once. */
export function runningKernelVersion(): number {
  return runningVersion ??= linuxVersionCode({
    signature: readOptional("/proc/version_signature"),
    version: readOptional("/proc/sys/kernel/version"),
    release: Deno.osRelease(),
  });
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
export function virtualKconfig(name: string): bigint | undefined {
  switch (name) {
    case "LINUX_KERNEL_VERSION":
      return BigInt(runningKernelVersion());
    case "LINUX_HAS_BPF_COOKIE":
      return bpfCookie.supported() ? 1n : 0n;
    case "LINUX_HAS_SYSCALL_WRAPPER":
      return kallsymsAddress(SYSCALL_WRAPPER) !== undefined ? 1n : 0n;
    default:
      return undefined;
  }
}

/**
 * How libbpf stores a kconfig extern, by its type with typedefs and qualifiers skipped
 * (`find_kcfg_type`): `extern __u32 X` is an int, `extern bool X` (a typedef of `_Bool`) a
 * bool, any other one-byte int a char, `enum libbpf_tristate` a tristate and an array of
 * chars a string.
 */
export interface KconfigStorage {
  /** libbpf's `kcfg_type`. */
  kind: "bool" | "tristate" | "char" | "int" | "string";
  /** Bytes. */
  size: number;
  /** Whether an int is signed (range checks differ). */
  signed: boolean;
}

/** {@linkcode KconfigStorage} of an extern's type; a TypeError for types libbpf refuses. */
export function kconfigStorage(name: string, type: Type): KconfigStorage {
  const t = underlyingType(type);
  const unsupported = () =>
    new TypeError(`Kconfig extern '${name}' has a type libbpf does not support: ${t.kind}`);
  if (t instanceof Int) {
    const size = t.size;
    const signed = (t.encoding & IntEncoding.Signed) !== 0;
    if ((t.encoding & IntEncoding.Bool) !== 0) {
      if (size !== 1) throw unsupported();
      return { kind: "bool", size, signed: false };
    }
    if (size === 1) return { kind: "char", size, signed };
    if (size !== 2 && size !== 4 && size !== 8) throw unsupported();
    return { kind: "int", size, signed };
  }
  if (t instanceof Enum) {
    if (t.name !== "libbpf_tristate" || (t.size !== 4 && t.size !== 8)) throw unsupported();
    return { kind: "tristate", size: t.size, signed: false };
  }
  if (t instanceof ArrayType) {
    if (t.nelems === 0) throw unsupported();
    let element: KconfigStorage | undefined;
    try {
      element = kconfigStorage(name, t.type);
    } catch { /* said just below */ }
    if (element?.kind !== "char") throw unsupported();
    return { kind: "string", size: sizeof(t), signed: false };
  }
  throw unsupported();
}

/**
 * Writes the value of kconfig extern `name` of BTF type `type` into `out` at `offset`, in
 * the host's byte order. Returns false when the kernel has no value for it (the caller
 * decides about `__weak`): a `CONFIG_` option the configuration does not set, or a `LINUX_`
 * name libbpf does not compute. A value the type cannot hold is a TypeError (RangeError
 * for a number too large), as libbpf refuses it.
 */
export function writeKconfig(name: string, type: Type, out: Uint8Array, offset: number): boolean {
  const storage = kconfigStorage(name, type);
  if (offset < 0 || offset + storage.size > out.length) {
    throw new RangeError(`Kconfig extern '${name}' at ${offset} does not fit its map`);
  }
  const view = new DataView(out.buffer, out.byteOffset + offset, storage.size);
  if (name.startsWith("LINUX_")) {
    const value = virtualKconfig(name);
    if (value === undefined) return false;
    writeNumber(name, storage, view, value, true);
    return true;
  }
  if (!name.startsWith("CONFIG_")) throw new TypeError(`Unsupported kconfig extern '${name}'`);
  const value = kernelConfig().get(name);
  if (value === undefined) return false;
  if (value === "y" || value === "n" || value === "m") {
    writeTristate(name, storage, view, value);
  } else if (value.startsWith('"')) {
    writeString(name, storage, out.subarray(offset, offset + storage.size), value);
  } else {
    const n = parseU64(value);
    if (n === undefined) throw new TypeError(`Kconfig '${name}' = ${value} is not a number`);
    if (storage.kind !== "int" && storage.kind !== "char") {
      throw new TypeError(
        `Kconfig '${name}' = ${value} needs an integer type, not ${storage.kind}`,
      );
    }
    writeNumber(name, storage, view, n, false);
  }
  return true;
}

/** libbpf's `set_kcfg_value_tri`: a bool, a tristate, or the letter itself in a char. */
function writeTristate(name: string, s: KconfigStorage, view: DataView, value: string): void {
  switch (s.kind) {
    case "bool":
      if (value === "m") throw new TypeError(`Kconfig '${name}' = m is not a bool`);
      view.setUint8(0, value === "y" ? 1 : 0);
      return;
    case "tristate":
      writeInt(view, value === "y" ? 1n : value === "m" ? 2n : 0n);
      return;
    case "char":
      view.setUint8(0, value.charCodeAt(0));
      return;
    default:
      throw new TypeError(
        `Kconfig '${name}' = ${value} needs a bool, tristate or char type, not ${s.kind}`,
      );
  }
}

/** libbpf's `set_kcfg_value_str`: quotes removed, cut to fit with its NUL. */
function writeString(name: string, s: KconfigStorage, out: Uint8Array, value: string): void {
  if (s.kind !== "string") {
    throw new TypeError(`Kconfig '${name}' = ${value} needs a char array, not ${s.kind}`);
  }
  if (value.length < 2 || !value.endsWith('"')) {
    throw new TypeError(`Kconfig '${name}' = ${value} is not a valid string`);
  }
  const bytes = new TextEncoder().encode(value.slice(1, -1));
  out.fill(0);
  out.set(bytes.subarray(0, s.size - 1));
}

/** libbpf's `set_kcfg_value_num`: ints and chars in range; bools (virtual values) 0 or 1. */
function writeNumber(
  name: string,
  s: KconfigStorage,
  view: DataView,
  n: bigint,
  boolAllowed: boolean,
): void {
  if (s.kind === "bool" && boolAllowed) {
    if (n > 1n) throw new RangeError(`Kconfig '${name}' = ${n} is not a bool`);
    view.setUint8(0, Number(n));
    return;
  }
  if (s.kind !== "int" && s.kind !== "char") {
    throw new TypeError(`Kconfig '${name}' = ${n} needs an integer type, not ${s.kind}`);
  }
  const bits = BigInt(s.size * 8);
  const inRange = s.size === 8 ||
    (s.signed ? BigInt.asUintN(64, n + (1n << (bits - 1n))) < (1n << bits) : (n >> bits) === 0n);
  if (!inRange) throw new RangeError(`Kconfig '${name}' = ${n} does not fit in ${s.size} bytes`);
  writeInt(view, n);
}

/** C's `strtoull(s, &end, 0)` over the whole text: hex `0x`, octal `0`, decimal, a sign. */
export function parseU64(text: string): bigint | undefined {
  const m = /^\s*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.exec(text);
  if (!m) return undefined;
  const digits = m[2];
  const n = /^0[0-7]+$/.test(digits) ? BigInt(`0o${digits.slice(1)}`) : BigInt(digits);
  if (n >= 1n << 64n) return undefined;
  return BigInt.asUintN(64, m[1] === "-" ? -n : n);
}

function writeInt(view: DataView, n: bigint): void {
  const le = HOST_BYTE_ORDER === "little";
  switch (view.byteLength) {
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
      throw new TypeError(`Kconfig value of ${view.byteLength} bytes`);
  }
}
