/**
 * XDP links (`BPF_LINK_TYPE_XDP`): an XDP program on a network interface.
 *
 * @module
 */

import { Attr } from "../ffi.ts";
import { AttachType } from "../prog/attach_type.ts";
import type { Program } from "../prog/program.ts";
import { ProgramType, programTypeName } from "../prog/program_type.ts";
import {
  isUnsupportedErrno,
  LinkCreate,
  linkCreateErrno,
  linkCreateError,
} from "./_link_create.ts";
import { Errno } from "../errors.ts";
import { NetlinkXDPLink } from "./xdp_netlink.ts";
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
  /**
   * Attach through netlink (`RTM_SETLINK`, what `ip link set dev X xdp` does) instead of an
   * XDP link: for tools that share the interface with programs set that way. Default: an
   * XDP link, and netlink only when the kernel has no XDP links (before 5.9).
   */
  netlink?: boolean;
}

/**
 * Attaches an XDP program to an interface. With an XDP link (Linux 5.9) when the kernel has
 * them; otherwise, or with `netlink: true`, through netlink, as libbpf's `bpf_xdp_attach`
 * does, which returns a {@linkcode NetlinkXDPLink}: the same {@linkcode Link} interface,
 * but it cannot be pinned, has no link info, and stays on the interface if the process dies
 * without closing it.
 *
 * @example
 * ```ts ignore
 * using l = attachXDP(prog, { interface: "eth0", mode: XDPMode.Generic });
 * ```
 */
export function attachXDP(program: Program, options: XDPOptions): XDPLink | NetlinkXDPLink {
  if (program.type !== ProgramType.XDP) {
    throw new TypeError(
      `Cannot attach ${programTypeName(program.type)} as XDP: use an xdp program`,
    );
  }
  const ifindex = ifindexOf(options.interface);
  const mode = enumOption(options.mode ?? XDPMode.Default, "XDP mode", XDPMode, "XDPMode");
  if (options.netlink) return NetlinkXDPLink.attach(program, ifindex, mode);
  const attr = new Attr()
    .u32(LinkCreate.progFd, program.fd)
    .u32(LinkCreate.targetFd, ifindex)
    .u32(LinkCreate.attachType, AttachType.XDP)
    .u32(LinkCreate.flags, mode);
  const r = linkCreateErrno(attr);
  if (r >= 0) return new XDPLink(r);
  // Kernels before 5.9 reject the XDP attach type with EINVAL (before 5.7 the command
  // itself). A link request the kernel knows but refuses is refused by netlink for the same
  // reason, with the kernel's text: its error is then the better one to throw.
  if (-r === Errno.EINVAL || isUnsupportedErrno(-r)) {
    try {
      return NetlinkXDPLink.attach(program, ifindex, mode);
    } catch (e) {
      if (e instanceof Error && e.cause === undefined) {
        (e as { cause?: unknown }).cause = linkCreateError(-r, "XDP link", "5.9");
      }
      throw e;
    }
  }
  throw linkCreateError(-r, "XDP link", "5.9");
}
