/**
 * netfilter links (`BPF_LINK_TYPE_NETFILTER`): a program on a netfilter hook with a
 * priority, like an nftables base chain (Linux 6.4).
 *
 * @module
 */

import { Attr } from "../ffi.ts";
import { AttachType } from "../prog/attach_type.ts";
import type { Program } from "../prog/program.ts";
import { ProgramType, programTypeName } from "../prog/program_type.ts";
import { LinkCreate } from "./_link_create.ts";
import { RawLink } from "./link.ts";
import { enumOption } from "../_internal/enum_option.ts";
import { linkCreateOf } from "./link_features.ts";

/** A program on a netfilter hook. */
export class NetfilterLink extends RawLink {}

/** `NFPROTO_*` protocol families netfilter links accept. */
export const NetfilterProtocol = { IPv4: 2, IPv6: 10 } as const;

/** `NF_INET_*` hooks. */
export const NetfilterHook = {
  PreRouting: 0,
  LocalIn: 1,
  Forward: 2,
  LocalOut: 3,
  PostRouting: 4,
} as const;

/** Options of {@linkcode attachNetfilter}. */
export interface NetfilterOptions {
  /** {@linkcode NetfilterProtocol}. */
  protocol: number;
  /** {@linkcode NetfilterHook}. */
  hook: number;
  /** Order among the hook's functions (lower runs first; not INT_MIN or INT_MAX). */
  priority: number;
  /** Defragment IP packets before the program sees them (`BPF_F_NETFILTER_IP_DEFRAG`). */
  defrag?: boolean;
}

/**
 * Attaches a netfilter program to a hook.
 *
 * @example
 * ```ts ignore
 * using l = attachNetfilter(prog, { protocol: NetfilterProtocol.IPv4, hook: NetfilterHook.LocalOut, priority: -128 });
 * ```
 */
export function attachNetfilter(program: Program, options: NetfilterOptions): NetfilterLink {
  if (program.type !== ProgramType.Netfilter) {
    throw new TypeError(
      `Cannot attach ${programTypeName(program.type)} to netfilter: use a netfilter program`,
    );
  }
  if (!Number.isInteger(options.priority) || Math.abs(options.priority) >= 2 ** 31 - 1) {
    throw new RangeError(`Invalid netfilter priority: ${options.priority}`);
  }
  const attr = new Attr()
    .u32(LinkCreate.progFd, program.fd)
    .u32(LinkCreate.attachType, AttachType.Netfilter)
    .u32(
      LinkCreate.union,
      enumOption(options.protocol, "netfilter protocol", NetfilterProtocol, "NetfilterProtocol"),
    )
    .u32(
      LinkCreate.union + 4,
      enumOption(options.hook, "netfilter hook", NetfilterHook, "NetfilterHook"),
    )
    .i32(LinkCreate.union + 8, options.priority)
    .u32(LinkCreate.union + 12, options.defrag ? 1 : 0);
  return new NetfilterLink(linkCreateOf(attr, "netfilter"));
}
