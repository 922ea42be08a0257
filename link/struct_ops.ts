/**
 * struct_ops links (`BPF_LINK_TYPE_STRUCT_OPS`): registers a `BPF_MAP_TYPE_STRUCT_OPS` map
 * (a kernel ops table filled with BPF programs, such as `tcp_congestion_ops`) made with
 * `BPF_F_LINK`, for as long as the link lives.
 *
 * @module
 */

import { Attr } from "../ffi.ts";
import { AttachType } from "../prog/attach_type.ts";
import type { BpfMap } from "../map/bpf_map.ts";
import { MapType, mapTypeName } from "../map/map_type.ts";
import { LinkCreate, linkCreate } from "./_link_create.ts";
import { linkUpdate, RawLink } from "./link.ts";

/** A registered struct_ops map. */
export class StructOpsLink extends RawLink {
  /**
   * Replaces the registered ops table with another struct_ops map (BPF_LINK_UPDATE), made
   * with `BPF_F_LINK` and already filled. With `expected`, only if that map is the one
   * registered now. The subsystem may add rules: `tcp_congestion_ops` keeps its name, so
   * the new table must carry the same one (EINVAL otherwise).
   */
  updateMap(map: BpfMap, expected?: BpfMap): void {
    checkLinkable(map);
    linkUpdate(this.fd, map.fd, expected?.fd);
  }
}

/** `BPF_F_LINK`: a struct_ops map that a link, not a map update, registers. */
const BPF_F_LINK = 1 << 13;

/** Throws a TypeError unless `map` is a struct_ops map made for links. */
function checkLinkable(map: BpfMap): void {
  if (map.type !== MapType.StructOpsMap) {
    throw new TypeError(
      `Cannot register map "${map.name}" as struct_ops: it is a ${mapTypeName(map.type)} map`,
    );
  }
  if ((map.flags & BPF_F_LINK) === 0) {
    throw new TypeError(
      `Cannot register map "${map.name}" through a link: it was created without BPF_F_LINK`,
    );
  }
}

/**
 * Registers the struct_ops map `map` (created with `BPF_F_LINK` and filled with its
 * programs) through a link; closing the link unregisters it.
 */
export function attachStructOps(map: BpfMap): StructOpsLink {
  checkLinkable(map);
  const attr = new Attr()
    .u32(LinkCreate.progFd, map.fd)
    .u32(LinkCreate.attachType, AttachType.StructOps);
  return new StructOpsLink(linkCreate(attr, "struct_ops link", "6.4"));
}
