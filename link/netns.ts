/**
 * Network namespace links (`BPF_LINK_TYPE_NETNS`): sk_lookup and flow_dissector programs
 * on a network namespace.
 *
 * @module
 */

import { Attr, closeFd, openFd } from "../ffi.ts";
import { AttachType } from "../prog/attach_type.ts";
import type { Program } from "../prog/program.ts";
import { ProgramType, programTypeName } from "../prog/program_type.ts";
import { LinkCreate, linkCreate } from "./_link_create.ts";
import { RawLink } from "./link.ts";

/** A program on a network namespace. */
export class NetNsLink extends RawLink {}

/** Options of {@linkcode attachNetNs}. */
export interface NetNsOptions {
  /** The namespace file, default `/proc/self/ns/net` (or `/run/netns/<name>`). */
  path?: string;
}

/**
 * Attaches an sk_lookup or flow_dissector program to a network namespace.
 *
 * @example
 * ```ts ignore
 * using l = attachNetNs(prog);
 * ```
 */
export function attachNetNs(program: Program, options: NetNsOptions = {}): NetNsLink {
  let attachType: AttachType;
  if (program.type === ProgramType.SkLookup) attachType = AttachType.SkLookup;
  else if (program.type === ProgramType.FlowDissector) attachType = AttachType.FlowDissector;
  else {
    throw new TypeError(
      `Cannot attach ${programTypeName(program.type)} to a network namespace: ` +
        "use an sk_lookup or flow_dissector program",
    );
  }
  const ns = openFd(options.path ?? "/proc/self/ns/net");
  try {
    const attr = new Attr()
      .u32(LinkCreate.progFd, program.fd)
      .u32(LinkCreate.targetFd, ns)
      .u32(LinkCreate.attachType, attachType);
    return new NetNsLink(
      linkCreate(
        attr,
        "network namespace link",
        attachType === AttachType.SkLookup ? "5.9" : "5.8",
      ),
    );
  } finally {
    closeFd(ns);
  }
}
