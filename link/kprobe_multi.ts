/**
 * kprobe_multi links (`BPF_LINK_TYPE_KPROBE_MULTI`, Linux 5.18): one program on many kernel
 * functions at once, through fprobe. Kernels without it give NotSupportedError.
 *
 * @module
 */

import { allocBuffer, Attr, cString, currentBackend } from "../ffi.ts";
import { AttachType } from "../prog/attach_type.ts";
import type { Program } from "../prog/program.ts";
import { ProgramType, programTypeName } from "../prog/program_type.ts";
import { keepAlive, LinkCreate, linkCreateErrno, linkCreateError } from "./_link_create.ts";
import { RawLink } from "./link.ts";
import { missingLinkFeature } from "./link_features.ts";
import { kernelFunctions } from "./_kernel_functions.ts";

/** One program on many kernel functions. */
export class KprobeMultiLink extends RawLink {}

/**
 * Options of {@linkcode attachKprobeMulti}: symbols, a pattern or addresses, with optional
 * cookies.
 */
export interface KprobeMultiOptions {
  /** Kernel function names. */
  symbols?: string[];
  /**
   * A glob (`*`, `?`) over the kernel functions fprobe can attach to (tracefs
   * `available_filter_functions`), as libbpf's `kprobe.multi/<pattern>` sections: every
   * match, in that file's order (cookies follow it).
   */
  pattern?: string;
  /** Kernel addresses (instead of symbols). */
  addresses?: bigint[];
  /** One cookie per function, for `bpf_get_attach_cookie`. */
  cookies?: bigint[];
  /** Run at function return (a kretprobe_multi). */
  return?: boolean;
  /**
   * Run at entry and at return of each function, one program for both (kprobe.session,
   * Linux 6.10): the entry run returning non-zero skips the return run, and the program
   * tells the two apart with the `bpf_session_is_return` kfunc. The program must be loaded
   * with `AttachType.TraceKprobeSession`.
   */
  session?: boolean;
}

/** `BPF_F_KPROBE_MULTI_RETURN`. */
const KPROBE_MULTI_RETURN = 1;

/** Encodes u64s into an off-heap buffer. */
function u64Array(values: bigint[]): Uint8Array {
  const out = allocBuffer(values.length * 8);
  const v = new DataView(out.buffer);
  values.forEach((x, i) => v.setBigUint64(i * 8, x, true));
  return out;
}

/** The functions `pattern` matches; none is an error naming the pattern. */
function patternSymbols(pattern: string): string[] {
  const names = kernelFunctions(pattern);
  if (names.length === 0) {
    throw new RangeError(`No attachable kernel function matches "${pattern}"`);
  }
  return names;
}

/**
 * Attaches a kprobe program (loaded with `AttachType.TraceKprobeMulti`, or
 * `TraceKprobeSession` for `session`) to many kernel functions.
 *
 * @example
 * ```ts ignore
 * using l = attachKprobeMulti(prog, { symbols: ["vfs_read", "vfs_write"], session: true });
 * ```
 */
export function attachKprobeMulti(program: Program, options: KprobeMultiOptions): KprobeMultiLink {
  if (program.type !== ProgramType.Kprobe) {
    throw new TypeError(
      `Cannot attach ${programTypeName(program.type)} as kprobe_multi: use a kprobe program`,
    );
  }
  const given = [options.symbols, options.pattern, options.addresses].filter((x) => x?.length);
  if (given.length !== 1) {
    throw new TypeError("Give symbols, a pattern or addresses (one of them, not empty)");
  }
  const addrs = options.addresses ?? [];
  const syms = options.pattern === undefined
    ? options.symbols ?? []
    : patternSymbols(options.pattern);
  if (options.session && options.return) {
    throw new TypeError(
      "Invalid kprobe_multi options: session runs at return already: drop return",
    );
  }
  const count = syms.length || addrs.length;
  if (options.cookies && options.cookies.length !== count) {
    throw new RangeError(`${options.cookies.length} cookies for ${count} functions`);
  }
  const backend = currentBackend();
  const names = syms.map((s) => {
    if (s === "" || s.includes("\0")) throw new TypeError(`Invalid kernel symbol: "${s}"`);
    return cString(s);
  });
  const attr = new Attr()
    .u32(LinkCreate.progFd, program.fd)
    .u32(
      LinkCreate.attachType,
      options.session ? AttachType.TraceKprobeSession : AttachType.TraceKprobeMulti,
    )
    .u32(LinkCreate.union, options.return ? KPROBE_MULTI_RETURN : 0)
    .u32(LinkCreate.union + 4, count);
  if (names.length > 0) {
    attr.pointer(LinkCreate.union + 8, u64Array(names.map((n) => backend.address(n))));
  } else attr.pointer(LinkCreate.union + 16, u64Array(addrs));
  if (options.cookies) attr.pointer(LinkCreate.union + 24, u64Array(options.cookies));
  const r = linkCreateErrno(attr);
  keepAlive(names);
  if (r >= 0) return new KprobeMultiLink(r);
  // EOPNOTSUPP: a kernel new enough but built without fprobe; EINVAL: before 5.18 (or a
  // bad symbol, which the probe tells apart).
  const feature = options.session ? "kprobeSession" : "kprobeMulti";
  const cause = linkCreateError(-r, options.session ? "kprobe session link" : "kprobe_multi link");
  throw missingLinkFeature(feature, -r, cause) ?? cause;
}
