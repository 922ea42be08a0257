/**
 * Tracing links (`BPF_LINK_TYPE_TRACING`): fentry, fexit, fmod_ret, freplace and LSM
 * programs on their BTF target; and `tp_btf`, whose link is a raw tracepoint link. The
 * target was fixed when the program was loaded (`attach_btf_id`); freplace may name another.
 *
 * @module
 */

import { Attr } from "../ffi.ts";
import { Errno } from "../errors.ts";
import { AttachType, attachTypeName } from "../prog/attach_type.ts";
import type { Program } from "../prog/program.ts";
import { ProgramType, programTypeName } from "../prog/program_type.ts";
import { LinkCreate, linkCreateErrno, linkCreateError } from "./_link_create.ts";
import { RawLink } from "./link.ts";
import { RawTracepointLink, rawTracepointOpen } from "./raw_tracepoint.ts";
import { enumOption, enumSubset } from "../_internal/enum_option.ts";

/** A trampoline program (fentry, fexit, fmod_ret, freplace, LSM) on its target. */
export class TracingLink extends RawLink {}

/** Options of {@linkcode attachTracing}. */
export interface TracingOptions {
  /**
   * The expected attach type the program was loaded with (`AttachType.TraceFentry`,
   * `TraceFexit`, `ModifyReturn`, `LSMMAC`, `TraceRawTP` for tp_btf, `None` for freplace).
   * BPF_LINK_CREATE must repeat it.
   */
  attachType: AttachType;
  /** freplace: the program whose function to replace, if not the one given at load. */
  target?: Program;
  /** freplace: the BTF id of the function in `target` (with `target`). */
  targetBtfId?: number;
  /** A value the program reads with `bpf_get_attach_cookie`. */
  cookie?: bigint;
}

/** The expected attach types a tracing link repeats (None: freplace). */
const TRACING_ATTACH = enumSubset(
  AttachType,
  (name) =>
    ["TraceFentry", "TraceFexit", "ModifyReturn", "LSMMAC", "TraceRawTP", "None"].includes(name),
);

const TRACING_TYPES = new Set<number>([
  ProgramType.Tracing,
  ProgramType.LSM,
  ProgramType.Extension,
]);

/**
 * Attaches a tracing, LSM or extension program to the target it was loaded for, with
 * BPF_LINK_CREATE, or BPF_RAW_TRACEPOINT_OPEN on kernels before 5.11.
 */
export function attachTracing(program: Program, options: TracingOptions): RawLink {
  if (!TRACING_TYPES.has(program.type)) {
    throw new TypeError(
      `Cannot attach ${programTypeName(program.type)} as a tracing link: ` +
        "use a tracing, lsm or ext program",
    );
  }
  if ((options.target === undefined) !== (options.targetBtfId === undefined)) {
    throw new TypeError("Give both target and targetBtfId, or neither");
  }
  const given = enumOption(options.attachType, "tracing attachType", TRACING_ATTACH, "AttachType");
  const attachType = program.type === ProgramType.Extension ? AttachType.None : given;
  const attr = new Attr()
    .u32(LinkCreate.progFd, program.fd)
    .u32(LinkCreate.targetFd, options.target?.fd ?? 0)
    .u32(LinkCreate.attachType, attachType)
    .u32(LinkCreate.union, options.targetBtfId ?? 0);
  if (options.cookie !== undefined) attr.u64(LinkCreate.union + 8, options.cookie);
  const r = linkCreateErrno(attr);
  const tpBtf = program.type === ProgramType.Tracing && attachType === AttachType.TraceRawTP;
  if (r >= 0) return tpBtf ? new RawTracepointLink(r) : new TracingLink(r);
  // Before 5.11 LINK_CREATE knew no tracing programs; BPF_RAW_TRACEPOINT_OPEN attached them.
  if (-r === Errno.EINVAL && options.target === undefined && options.cookie === undefined) {
    try {
      const fd = rawTracepointOpen(program, null, undefined);
      return tpBtf ? new RawTracepointLink(fd) : new TracingLink(fd);
    } catch {
      // Report the LINK_CREATE error, which names the real problem on current kernels.
    }
  }
  throw linkCreateError(-r, `${attachTypeName(attachType)} link`);
}

/** Attaches an fentry program (runs at the entry of its kernel or BPF function). */
export function attachFentry(program: Program, cookie?: bigint): RawLink {
  return attachTracing(program, { attachType: AttachType.TraceFentry, cookie });
}

/** Attaches an fexit program (runs at the return of its function, with the return value). */
export function attachFexit(program: Program, cookie?: bigint): RawLink {
  return attachTracing(program, { attachType: AttachType.TraceFexit, cookie });
}

/** Attaches an fmod_ret program (may override the return value of its function). */
export function attachModifyReturn(program: Program, cookie?: bigint): RawLink {
  return attachTracing(program, { attachType: AttachType.ModifyReturn, cookie });
}

/** Attaches a BPF LSM program to its security hook. */
export function attachLSM(program: Program): RawLink {
  return attachTracing(program, { attachType: AttachType.LSMMAC });
}

/** Attaches a `tp_btf` program (a BTF-typed raw tracepoint). */
export function attachTpBtf(program: Program, cookie?: bigint): RawLink {
  return attachTracing(program, { attachType: AttachType.TraceRawTP, cookie });
}

/**
 * Attaches an extension (freplace) program in place of a function of another BPF program:
 * the one given at load time, or `target` and the BTF id of its function.
 */
export function attachFreplace(program: Program, target?: Program, targetBtfId?: number): RawLink {
  return attachTracing(program, { attachType: AttachType.None, target, targetBtfId });
}
