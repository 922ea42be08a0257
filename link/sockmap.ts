/**
 * sockmap links (`BPF_LINK_TYPE_SOCKMAP`, Linux 6.10): sk_skb and sk_msg programs on a
 * sockmap or sockhash, with BPF_PROG_ATTACH on older kernels.
 *
 * @module
 */

import { Attr } from "../ffi.ts";
import { AttachType } from "../prog/attach_type.ts";
import type { Program } from "../prog/program.ts";
import { ProgramType, programTypeName } from "../prog/program_type.ts";
import type { BpfMap } from "../map/bpf_map.ts";
import { LinkCreate, linkCreateErrno, linkCreateError } from "./_link_create.ts";
import { progAttach, type ProgAttachLink } from "./_prog_attach.ts";
import { RawLink } from "./link.ts";
import { enumOption, enumSubset } from "../_internal/enum_option.ts";
import { missingLinkFeature } from "./link_features.ts";

/** A verdict or parser program on a sockmap or sockhash. */
export class SockmapLink extends RawLink {}

const SOCKMAP_ATTACH = enumSubset(
  AttachType,
  (name) =>
    ["SkSKBStreamParser", "SkSKBStreamVerdict", "SkSKBVerdict", "SkMsgVerdict"].includes(name),
);

/**
 * Attaches an sk_skb (stream parser, stream verdict, verdict) or sk_msg program to a
 * sockmap or sockhash: a bpf_link where the kernel has them, else BPF_PROG_ATTACH.
 */
export function attachSockmap(
  program: Program,
  map: BpfMap,
  attachType: AttachType,
): SockmapLink | ProgAttachLink {
  if (program.type !== ProgramType.SkSKB && program.type !== ProgramType.SkMsg) {
    throw new TypeError(
      `Cannot attach ${programTypeName(program.type)} to a sockmap: use sk_skb or sk_msg`,
    );
  }
  enumOption(attachType, "sockmap attachType", SOCKMAP_ATTACH, "AttachType");
  const attr = new Attr()
    .u32(LinkCreate.progFd, program.fd)
    .u32(LinkCreate.targetFd, map.fd)
    .u32(LinkCreate.attachType, attachType);
  const r = linkCreateErrno(attr);
  if (r >= 0) return new SockmapLink(r);
  // Before sockmap links (6.10) the kernel says EINVAL; the probe confirms it and the
  // program goes on with BPF_PROG_ATTACH, as it did on those kernels.
  const cause = linkCreateError(-r, "sockmap link");
  if (missingLinkFeature("sockmap", -r, cause)) return progAttach(map.fd, program, attachType, 0);
  throw cause;
}
