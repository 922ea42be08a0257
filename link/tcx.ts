/**
 * tcx links (`BPF_LINK_TYPE_TCX`): `sched_cls` programs on the ingress or egress of an
 * interface, in an ordered chain (Linux 6.6).
 *
 * @module
 */

import { Attr, BpfCmd, bpfError } from "../ffi.ts";
import { Errno } from "../errors.ts";
import { AttachType } from "../prog/attach_type.ts";
import type { Program } from "../prog/program.ts";
import { ProgramType, programTypeName } from "../prog/program_type.ts";
import { type Anchor, encodeAnchor } from "./_anchor.ts";
import { LinkCreate, linkCreateErrno, linkCreateError } from "./_link_create.ts";
import { ifindexOf, type NetInterface } from "./_netdev.ts";
import { RawLink } from "./link.ts";
import { choices, enumOption } from "../_internal/enum_option.ts";
import { missingLinkFeature } from "./link_features.ts";

export type { Anchor, AnchorTarget } from "./_anchor.ts";

/** A program on the tcx ingress or egress of an interface. */
export class TCXLink extends RawLink {}

/** Options of {@linkcode attachTCX}. */
export interface TCXOptions {
  /** The interface, by index or name. */
  interface: NetInterface;
  /** Which direction's chain. */
  direction: "ingress" | "egress";
  /** Where in the chain (default: last). */
  anchor?: Anchor;
  /** Fail unless the chain is at this revision (optimistic concurrency). */
  expectedRevision?: bigint;
}

/** Fills the tcx/netkit part of a LINK_CREATE attr. */
export function mprogAttr(
  program: Program,
  ifindex: number,
  attachType: AttachType,
  anchor: Anchor | undefined,
  expectedRevision: bigint | undefined,
): Attr {
  const { flags, relative } = encodeAnchor(anchor);
  return new Attr()
    .u32(LinkCreate.progFd, program.fd)
    .u32(LinkCreate.targetFd, ifindex)
    .u32(LinkCreate.attachType, attachType)
    .u32(LinkCreate.flags, flags)
    .u32(LinkCreate.union, relative)
    .u64(LinkCreate.union + 8, expectedRevision ?? 0n);
}

/**
 * Attaches a `sched_cls` program to the tcx hook of an interface.
 *
 * @example
 * ```ts ignore
 * using l = attachTCX(prog, { interface: "eth0", direction: "ingress", anchor: "head" });
 * ```
 */
export function attachTCX(program: Program, options: TCXOptions): TCXLink {
  if (program.type !== ProgramType.SchedCLS) {
    throw new TypeError(
      `Cannot attach ${programTypeName(program.type)} to tcx: use a sched_cls program`,
    );
  }
  const direction = enumOption(options.direction, "tcx direction", choices("ingress", "egress"));
  const type = direction === "ingress" ? AttachType.TCXIngress : AttachType.TCXEgress;
  const attr = mprogAttr(
    program,
    ifindexOf(options.interface),
    type,
    options.anchor,
    options.expectedRevision,
  );
  const r = linkCreateErrno(attr);
  if (r >= 0) return new TCXLink(r);
  throw mprogCreateError(-r, "tcx", options.expectedRevision);
}

/**
 * The error for a failed tcx or netkit attachment. ESTALE there means the chain moved on
 * from `expectedRevision`, which the bare errno ("stale file handle") does not say.
 */
export function mprogCreateError(
  errno: number,
  feature: "tcx" | "netkit",
  expectedRevision: bigint | undefined,
): Error {
  if (errno === Errno.ESTALE && expectedRevision !== undefined) {
    return bpfError(
      BpfCmd.LINK_CREATE,
      errno,
      undefined,
      `${feature} link: the chain is no longer at expectedRevision ${expectedRevision} ` +
        "(a program was attached or detached since): read its revision again and retry",
    );
  }
  const cause = linkCreateError(errno, `${feature} link`);
  return missingLinkFeature(feature, errno, cause) ?? cause;
}
