/**
 * BPF_PROG_ATTACH and BPF_PROG_DETACH as they are: attachments that no fd owns, which stay
 * until someone detaches them (or the cgroup, namespace or interface goes away). The
 * {@linkcode ProgAttachLink} of `attachCgroup` and `attachSockmap` builds the same attr but
 * detaches when closed.
 *
 * @module
 */

import { Attr, BpfCmd, bpfErrno, bpfError } from "../ffi.ts";
import { Errno, NotSupportedError } from "../errors.ts";
import type { AttachType } from "../prog/attach_type.ts";
import type { Program } from "../prog/program.ts";
import { type Anchor, encodeAnchor, MprogFlags } from "./_anchor.ts";
import { type HookTarget, MPROG_TYPES, withHookTarget } from "./_hook_target.ts";
import { haveLinkFeature, LINK_FEATURES } from "./link_features.ts";

/** Offsets in the BPF_PROG_ATTACH/DETACH member of `union bpf_attr` (Linux 6.18). */
const ProgAttach = {
  targetFd: 0, // or target_ifindex
  attachBpfFd: 4,
  attachType: 8,
  attachFlags: 12,
  replaceBpfFd: 16,
  relative: 20, // relative_fd or relative_id, 6.6
  expectedRevision: 24, // 6.6
} as const;

/** The optional fields of a BPF_PROG_ATTACH/DETACH attr. */
interface ProgAttachExtras {
  /** The fd of the program to replace (`BPF_F_REPLACE`). */
  replaceFd?: number;
  /** The fd or id of the anchor (`BPF_F_BEFORE`/`AFTER`, with `BPF_F_ID`/`LINK`). */
  relative?: number;
  /** Fail with ESTALE unless the chain is at this revision. */
  expectedRevision?: bigint;
}

/** The attr of BPF_PROG_ATTACH or BPF_PROG_DETACH. */
export function progAttachAttr(
  targetFd: number,
  programFd: number,
  attachType: number,
  flags: number,
  extras: ProgAttachExtras = {},
): Attr {
  return new Attr()
    .u32(ProgAttach.targetFd, targetFd)
    .u32(ProgAttach.attachBpfFd, programFd)
    .u32(ProgAttach.attachType, attachType)
    .u32(ProgAttach.attachFlags, flags)
    .u32(ProgAttach.replaceBpfFd, extras.replaceFd ?? 0)
    .u32(ProgAttach.relative, extras.relative ?? 0)
    .u64(ProgAttach.expectedRevision, extras.expectedRevision ?? 0n);
}

/** Options of {@linkcode rawAttachProgram}. */
export interface RawAttachOptions {
  /** The object the hook belongs to (a cgroup, namespace, sockmap, lirc device, interface). */
  target: HookTarget;
  /** The program to attach. */
  program: Program;
  /** The hook. */
  attachType: AttachType;
  /** `ProgAttachFlags` (cgroup hooks: `AllowMulti` or `AllowOverride`). */
  flags?: number;
  /** Replace this program instead of adding one (`BPF_F_REPLACE`, cgroup hooks in multi mode). */
  replace?: Program;
  /** tcx and netkit: where in the chain (default: last). */
  anchor?: Anchor;
  /** tcx and netkit: fail unless the chain is at this revision (from `queryPrograms`). */
  expectedRevision?: bigint;
}

/** Options of {@linkcode rawDetachProgram}. */
export interface RawDetachOptions {
  /** The object the hook belongs to. */
  target: HookTarget;
  /**
   * The program to detach. Needed where several may be attached (cgroup multi mode, tcx,
   * netkit); a hook with one program (flow dissector, a sockmap's verdict) may leave it out.
   */
  program?: Program;
  /** The hook. */
  attachType: AttachType;
  /**
   * tcx and netkit: which program, by its place: `"head"` or `"tail"` alone detach the
   * first or last (leave `program` out); `{ before: x }` is the one just before `x`, and
   * with `program` given, the detach fails (ERANGE) unless that is where it sits.
   */
  anchor?: Anchor;
  /** tcx and netkit: fail unless the chain is at this revision. */
  expectedRevision?: bigint;
}

/**
 * Attaches a program with BPF_PROG_ATTACH. Nothing in this process owns the attachment:
 * it stays after the process exits, until {@linkcode rawDetachProgram} (or the target going
 * away) removes it. Prefer the `attach…` functions, whose links detach when closed.
 *
 * @example
 * ```ts ignore
 * rawAttachProgram({
 *   target: { path: "/sys/fs/cgroup/my.slice" },
 *   program: prog,
 *   attachType: AttachType.CgroupInetEgress,
 *   flags: ProgAttachFlags.AllowMulti,
 * });
 * ```
 */
export function rawAttachProgram(options: RawAttachOptions): void {
  const { program, attachType } = options;
  let flags = options.flags ?? 0;
  let relative = 0;
  const mprog = MPROG_TYPES.get(attachType);
  if (mprog !== undefined) {
    const anchor = encodeAnchor(options.anchor);
    flags |= anchor.flags;
    relative = anchor.relative;
  } else if (options.anchor !== undefined || options.expectedRevision !== undefined) {
    throw new TypeError(
      "Invalid attach options: anchor and expectedRevision are for tcx and netkit",
    );
  }
  const replaceFd = options.replace?.fd;
  if (replaceFd !== undefined) flags |= MprogFlags.Replace;
  const { expectedRevision } = options;
  const r = withHookTarget(options.target, attachType, (fd) =>
    bpfErrno(
      BpfCmd.PROG_ATTACH,
      progAttachAttr(fd, program.fd, attachType, flags, { replaceFd, relative, expectedRevision }),
    ));
  if (r < 0) throw progAttachError(BpfCmd.PROG_ATTACH, -r, mprog, options.expectedRevision);
}

/**
 * Detaches a program with BPF_PROG_DETACH, whoever attached it with BPF_PROG_ATTACH (not a
 * link's program: close or detach the link for that).
 */
export function rawDetachProgram(options: RawDetachOptions): void {
  const { attachType } = options;
  const mprog = MPROG_TYPES.get(attachType);
  let flags = 0;
  let relative = 0;
  if (mprog !== undefined) {
    if (options.anchor !== undefined) ({ flags, relative } = encodeAnchor(options.anchor));
  } else if (options.anchor !== undefined || options.expectedRevision !== undefined) {
    throw new TypeError(
      "Invalid detach options: anchor and expectedRevision are for tcx and netkit",
    );
  }
  const programFd = options.program?.fd ?? 0;
  const { expectedRevision } = options;
  const r = withHookTarget(options.target, attachType, (fd) =>
    bpfErrno(
      BpfCmd.PROG_DETACH,
      progAttachAttr(fd, programFd, attachType, flags, { relative, expectedRevision }),
    ));
  if (r < 0) throw progAttachError(BpfCmd.PROG_DETACH, -r, mprog, options.expectedRevision);
}

/** The error for BPF_PROG_ATTACH/DETACH failing with `errno`. */
function progAttachError(
  cmd: number,
  errno: number,
  mprog: "tcx" | "netkit" | undefined,
  expectedRevision: bigint | undefined,
): Error {
  if (mprog !== undefined && errno === Errno.EINVAL && !haveLinkFeature(mprog)) {
    const { feature, minKernel } = LINK_FEATURES[mprog];
    return new NotSupportedError(`BPF_PROG_ATTACH to a ${feature}`, minKernel);
  }
  if (errno === Errno.ESTALE && expectedRevision !== undefined) {
    return bpfError(
      cmd,
      errno,
      undefined,
      `the chain is no longer at expectedRevision ${expectedRevision}: query it again and retry`,
    );
  }
  return bpfError(cmd, errno);
}
