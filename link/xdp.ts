/**
 * XDP links (`BPF_LINK_TYPE_XDP`): an XDP program on a network interface.
 *
 * @module
 */

import { Attr } from "../ffi.ts";
import { AttachType } from "../prog/attach_type.ts";
import type { Program } from "../prog/program.ts";
import { ProgramType, programTypeName } from "../prog/program_type.ts";
import { LinkCreate, linkCreate } from "./_link_create.ts";
import { ifindexOf, type NetInterface } from "./_netdev.ts";
import { RawLink } from "./link.ts";
import { enumOption } from "../_internal/enum_option.ts";

/** An XDP program on an interface. */
export class XDPLink extends RawLink {}

/** `XDP_FLAGS_*` attach modes. */
export const XDPMode = {
  /** Whatever the driver supports best (no flag). */
  Default: 0,
  /** Generic XDP in the network stack. */
  Generic: 1 << 1,
  /** Native XDP in the driver. */
  Driver: 1 << 2,
  /** Offloaded to the NIC. */
  Offload: 1 << 3,
} as const;

/** An {@linkcode XDPMode} value. */
export type XDPMode = typeof XDPMode[keyof typeof XDPMode];

/** Options of {@linkcode attachXDP}. */
export interface XDPOptions {
  /** The interface, by index or name. */
  interface: NetInterface;
  /** Attach mode (default: the driver's best). */
  mode?: XDPMode;
}

/**
 * Attaches an XDP program to an interface.
 *
 * @example
 * ```ts ignore
 * using l = attachXDP(prog, { interface: "eth0", mode: XDPMode.Generic });
 * ```
 */
export function attachXDP(program: Program, options: XDPOptions): XDPLink {
  if (program.type !== ProgramType.XDP) {
    throw new TypeError(
      `Cannot attach ${programTypeName(program.type)} as XDP: use an xdp program`,
    );
  }
  const attr = new Attr()
    .u32(LinkCreate.progFd, program.fd)
    .u32(LinkCreate.targetFd, ifindexOf(options.interface))
    .u32(LinkCreate.attachType, AttachType.XDP)
    .u32(
      LinkCreate.flags,
      enumOption(options.mode ?? XDPMode.Default, "XDP mode", XDPMode, "XDPMode"),
    );
  return new XDPLink(linkCreate(attr, "XDP link", "5.9"));
}
