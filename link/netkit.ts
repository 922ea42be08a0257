/**
 * netkit links (`BPF_LINK_TYPE_NETKIT`): programs on the primary or peer side of a netkit
 * device pair (Linux 6.7).
 *
 * @module
 */

import { AttachType } from "../prog/attach_type.ts";
import type { Program } from "../prog/program.ts";
import { ProgramType, programTypeName } from "../prog/program_type.ts";
import type { Anchor } from "./_anchor.ts";
import { linkCreateErrno } from "./_link_create.ts";
import { ifindexOf, type NetInterface } from "./_netdev.ts";
import { RawLink } from "./link.ts";
import { mprogAttr, mprogCreateError } from "./tcx.ts";

/** A program on a netkit device. */
export class NetkitLink extends RawLink {}

/** Options of {@linkcode attachNetkit}. */
export interface NetkitOptions {
  /** The netkit device (its primary side), by index or name. */
  interface: NetInterface;
  /** Attach to the peer side's chain instead of the primary's. */
  peer?: boolean;
  /** Where in the chain (default: last). */
  anchor?: Anchor;
  /** Fail unless the chain is at this revision. */
  expectedRevision?: bigint;
}

/**
 * Attaches a `sched_cls` program to a netkit device.
 *
 * A kernel without the netkit driver (older than 6.7, or built without `CONFIG_NETKIT`)
 * answers EINVAL for any device; a probe tells that from a bad anchor and makes it a
 * {@linkcode NotSupportedError}. A netkit kernel answers ENXIO for a device that is not netkit.
 */
export function attachNetkit(program: Program, options: NetkitOptions): NetkitLink {
  if (program.type !== ProgramType.SchedCLS) {
    throw new TypeError(
      `Cannot attach ${programTypeName(program.type)} to netkit: use a sched_cls program`,
    );
  }
  const attr = mprogAttr(
    program,
    ifindexOf(options.interface),
    options.peer ? AttachType.NetkitPeer : AttachType.NetkitPrimary,
    options.anchor,
    options.expectedRevision,
  );
  const r = linkCreateErrno(attr);
  if (r >= 0) return new NetkitLink(r);
  throw mprogCreateError(-r, "netkit", options.expectedRevision);
}
