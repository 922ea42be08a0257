/**
 * The names bpftool (through libbpf) prints for kernel enums: the uapi `bpf.h` enumerator
 * without its prefix, in lower case (`BPF_PROG_TYPE_SCHED_CLS` → `sched_cls`), from the
 * library's own uapi name tables. A number no table knows is printed as the number, as
 * bpftool does.
 *
 * @module
 */

import { attachTypeName as uapiAttachType } from "../../prog/attach_type.ts";
import { programTypeName as uapiProgramType } from "../../prog/program_type.ts";
import { linkTypeName as uapiLinkType } from "../../link/link_type.ts";
import { mapTypeName as uapiMapType } from "../../map/map_type.ts";

/** `uapiName`'s name for `value` without `prefix`, lower case; the number when it has none. */
function short(uapiName: (value: number) => string, prefix: string) {
  return (value: number): string | number => {
    const name = uapiName(value);
    return name.startsWith(prefix) ? name.slice(prefix.length).toLowerCase() : value;
  };
}

/** A program type as bpftool names it (`"xdp"`, `"sched_cls"`), or the number. */
export const progTypeName: (type: number) => string | number = short(
  uapiProgramType,
  "BPF_PROG_TYPE_",
);
/** A map type as bpftool names it (`"percpu_array"`), or the number. */
export const mapTypeName: (type: number) => string | number = short(uapiMapType, "BPF_MAP_TYPE_");
/** A link type as bpftool names it (`"tcx"`), or the number. */
export const linkTypeName: (type: number) => string | number = short(
  uapiLinkType,
  "BPF_LINK_TYPE_",
);
/** An attach type as bpftool names it (`"tcx_ingress"`), or the number. */
export const attachTypeName: (type: number) => string | number = short(uapiAttachType, "BPF_");
