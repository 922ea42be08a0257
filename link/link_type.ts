/**
 * `enum bpf_link_type` from `include/uapi/linux/bpf.h`: the kinds of bpf_link the kernel has.
 *
 * @module
 */

/** The kernel's link types (`BPF_LINK_TYPE_*`). */
export const LinkType = {
  Unspec: 0,
  RawTracepoint: 1,
  Tracing: 2,
  Cgroup: 3,
  Iter: 4,
  NetNs: 5,
  XDP: 6,
  PerfEvent: 7,
  KprobeMulti: 8,
  StructOps: 9,
  Netfilter: 10,
  TCX: 11,
  UprobeMulti: 12,
  Netkit: 13,
  Sockmap: 14,
} as const;

/** A `BPF_LINK_TYPE_*` value. */
export type LinkType = typeof LinkType[keyof typeof LinkType];

const UAPI_NAMES = [
  "UNSPEC",
  "RAW_TRACEPOINT",
  "TRACING",
  "CGROUP",
  "ITER",
  "NETNS",
  "XDP",
  "PERF_EVENT",
  "KPROBE_MULTI",
  "STRUCT_OPS",
  "NETFILTER",
  "TCX",
  "UPROBE_MULTI",
  "NETKIT",
  "SOCKMAP",
];

/** The uapi name of a link type, such as `"BPF_LINK_TYPE_XDP"`. */
export function linkTypeName(type: number): string {
  const name = UAPI_NAMES[type];
  return name === undefined ? `link type ${type}` : `BPF_LINK_TYPE_${name}`;
}
