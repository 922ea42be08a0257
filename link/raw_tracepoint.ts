/**
 * Raw tracepoints (`BPF_LINK_TYPE_RAW_TRACEPOINT`): a program on a kernel tracepoint with
 * the raw arguments, through BPF_RAW_TRACEPOINT_OPEN. BTF-enabled raw tracepoints
 * (`tp_btf`) make the same link type, through {@linkcode attachTracing}.
 *
 * @module
 */

import { Attr, BpfCmd, bpfErrno, bpfError, cString } from "../ffi.ts";
import { Errno, NotSupportedError } from "../errors.ts";
import type { Program } from "../prog/program.ts";
import { ProgramType, programTypeName } from "../prog/program_type.ts";
import { RawLink } from "./link.ts";

/** A program on a raw tracepoint (or a `tp_btf` tracepoint). */
export class RawTracepointLink extends RawLink {}

/** Options of {@linkcode attachRawTracepoint}. */
export interface RawTracepointOptions {
  /** A value the program reads with `bpf_get_attach_cookie` (Linux 6.10). */
  cookie?: bigint;
}

/**
 * BPF_RAW_TRACEPOINT_OPEN of `program` on `name` (null: the program's BTF target); returns
 * the link fd.
 */
export function rawTracepointOpen(
  program: Program,
  name: string | null,
  cookie: bigint | undefined,
): number {
  const attr = new Attr().pointer(0, name === null ? null : cString(name)).u32(8, program.fd);
  if (cookie !== undefined) attr.u64(16, cookie);
  const r = bpfErrno(BpfCmd.RAW_TRACEPOINT_OPEN, attr);
  if (r >= 0) return r;
  if (-r === Errno.ENOENT && name !== null) {
    throw new Deno.errors.NotFound(`Raw tracepoint "${name}" does not exist`, {
      cause: bpfError(BpfCmd.RAW_TRACEPOINT_OPEN, -r),
    });
  }
  if (-r === Errno.EINVAL && cookie !== undefined) {
    throw new NotSupportedError("raw tracepoint cookies", "6.10", undefined, {
      cause: bpfError(BpfCmd.RAW_TRACEPOINT_OPEN, -r),
    });
  }
  throw bpfError(BpfCmd.RAW_TRACEPOINT_OPEN, -r, undefined, `raw tracepoint "${name}"`);
}

/**
 * Attaches a raw tracepoint program (or a writable one) to the kernel tracepoint `name`,
 * such as `"sys_enter"`.
 *
 * @example
 * ```ts ignore
 * using l = attachRawTracepoint(prog, "sys_enter");
 * ```
 */
export function attachRawTracepoint(
  program: Program,
  name: string,
  options: RawTracepointOptions = {},
): RawTracepointLink {
  if (
    program.type !== ProgramType.RawTracepoint &&
    program.type !== ProgramType.RawTracepointWritable
  ) {
    throw new TypeError(
      `Cannot attach ${programTypeName(program.type)} to raw tracepoint "${name}": ` +
        "use a raw_tracepoint or raw_tracepoint_writable program",
    );
  }
  if (name === "") throw new TypeError("A raw tracepoint needs a name");
  return new RawTracepointLink(rawTracepointOpen(program, name, options.cookie));
}
