/**
 * struct_ops links (`BPF_LINK_TYPE_STRUCT_OPS`): registers a `BPF_MAP_TYPE_STRUCT_OPS` map
 * (a kernel ops table filled with BPF programs, such as `tcp_congestion_ops`) made with
 * `BPF_F_LINK`, for as long as the link lives.
 *
 * @module
 */

import { Attr, BpfCmd, bpfErrno, bpfError } from "../ffi.ts";
import { AttachType } from "../prog/attach_type.ts";
import type { BpfMap } from "../map/bpf_map.ts";
import { LinkCreate, linkCreate } from "./_link_create.ts";
import { RawLink } from "./link.ts";

/** A registered struct_ops map. */
export class StructOpsLink extends RawLink {
  /** Replaces the registered ops table with another struct_ops map (BPF_LINK_UPDATE). */
  updateMap(map: BpfMap, expected?: BpfMap): void {
    const attr = new Attr().u32(0, this.fd).u32(4, map.fd);
    if (expected) attr.u32(8, 1 << 2).u32(12, expected.fd);
    const r = bpfErrno(BpfCmd.LINK_UPDATE, attr);
    if (r < 0) throw bpfError(BpfCmd.LINK_UPDATE, -r);
  }
}

/** Registers the struct_ops map `map` (created with `BPF_F_LINK`) through a link. */
export function attachStructOps(map: BpfMap): StructOpsLink {
  const attr = new Attr()
    .u32(LinkCreate.progFd, map.fd)
    .u32(LinkCreate.attachType, AttachType.StructOps);
  return new StructOpsLink(linkCreate(attr, "struct_ops link", "6.4"));
}
