/**
 * `enum bpf_prog_type` from `include/uapi/linux/bpf.h`.
 *
 * @module
 */

/** The kinds of program the kernel can load, with their uapi numbers. */
export const ProgramType = {
  Unspecified: 0,
  SocketFilter: 1,
  Kprobe: 2,
  SchedCLS: 3,
  SchedACT: 4,
  TracePoint: 5,
  XDP: 6,
  PerfEvent: 7,
  CGroupSKB: 8,
  CGroupSock: 9,
  LWTIn: 10,
  LWTOut: 11,
  LWTXmit: 12,
  SockOps: 13,
  SkSKB: 14,
  CGroupDevice: 15,
  SkMsg: 16,
  RawTracepoint: 17,
  CGroupSockAddr: 18,
  LWTSeg6Local: 19,
  LircMode2: 20,
  SkReuseport: 21,
  FlowDissector: 22,
  CGroupSysctl: 23,
  RawTracepointWritable: 24,
  CGroupSockopt: 25,
  Tracing: 26,
  StructOps: 27,
  Extension: 28,
  LSM: 29,
  SkLookup: 30,
  Syscall: 31,
  Netfilter: 32,
} as const;

/** A program type number, one of {@linkcode ProgramType}'s values. */
export type ProgramType = typeof ProgramType[keyof typeof ProgramType];

const UAPI_PROG_NAMES: readonly string[] = [
  "UNSPEC",
  "SOCKET_FILTER",
  "KPROBE",
  "SCHED_CLS",
  "SCHED_ACT",
  "TRACEPOINT",
  "XDP",
  "PERF_EVENT",
  "CGROUP_SKB",
  "CGROUP_SOCK",
  "LWT_IN",
  "LWT_OUT",
  "LWT_XMIT",
  "SOCK_OPS",
  "SK_SKB",
  "CGROUP_DEVICE",
  "SK_MSG",
  "RAW_TRACEPOINT",
  "CGROUP_SOCK_ADDR",
  "LWT_SEG6LOCAL",
  "LIRC_MODE2",
  "SK_REUSEPORT",
  "FLOW_DISSECTOR",
  "CGROUP_SYSCTL",
  "RAW_TRACEPOINT_WRITABLE",
  "CGROUP_SOCKOPT",
  "TRACING",
  "STRUCT_OPS",
  "EXT",
  "LSM",
  "SK_LOOKUP",
  "SYSCALL",
  "NETFILTER",
];

/** The uapi name of a program type, such as `"BPF_PROG_TYPE_XDP"`. */
export function programTypeName(type: number): string {
  const name = UAPI_PROG_NAMES[type];
  return name === undefined ? `program type ${type}` : `BPF_PROG_TYPE_${name}`;
}
