/**
 * Decoding of the per-type union of `struct bpf_link_info` (uapi `bpf.h`).
 *
 * @module
 */

import { LinkType } from "./link_type.ts";

/** Bytes asked for: the common header and the largest union member, with room to spare. */
export const INFO_SIZE = 128;

/** `enum bpf_perf_event_type`: what a perf_event link is attached to. */
export const PerfEventKind = {
  Unspec: 0,
  Uprobe: 1,
  Uretprobe: 2,
  Kprobe: 3,
  Kretprobe: 4,
  Tracepoint: 5,
  Event: 6,
} as const;

/** A `BPF_PERF_EVENT_*` value. */
export type PerfEventKind = typeof PerfEventKind[keyof typeof PerfEventKind];

/** The fields of `bpf_link_info` specific to a link type, tagged by `kind`. */
export type LinkDetails =
  | { kind: "raw_tracepoint"; name: string }
  | { kind: "tracing"; attachType: number; targetObjId: number; targetBtfId: number }
  | { kind: "cgroup"; cgroupId: bigint; attachType: number }
  | { kind: "iter"; targetName: string; mapId: number }
  | { kind: "netns"; netnsIno: number; attachType: number }
  | { kind: "xdp"; ifindex: number }
  | {
    kind: "perf_event";
    perfEventType: PerfEventKind;
    /** Tracepoint, kernel function or file name, for probes and tracepoints. */
    name: string;
    /** Probe offset (probes), or the event's config (`Event`). */
    offset: bigint;
    /** Kernel address of a kprobe. */
    address: bigint;
    cookie: bigint;
  }
  | { kind: "kprobe_multi"; count: number; flags: number; missed: bigint }
  | { kind: "struct_ops"; mapId: number }
  | { kind: "netfilter"; pf: number; hooknum: number; priority: number; flags: number }
  | { kind: "tcx" | "netkit"; ifindex: number; attachType: number }
  | { kind: "uprobe_multi"; count: number; flags: number; pid: number }
  | { kind: "sockmap"; mapId: number; attachType: number }
  | { kind: "unknown" };

const decoder = new TextDecoder();

function cstr(buf: Uint8Array, len: number): string {
  const bytes = buf.subarray(0, Math.min(len, buf.length));
  const end = bytes.indexOf(0);
  return decoder.decode(end < 0 ? bytes : bytes.subarray(0, end));
}

/** Decodes the union of a `bpf_link_info` read into `v`; `name` holds any name it reported. */
export function decodeLinkDetails(type: number, v: DataView, name: Uint8Array): LinkDetails {
  const u32 = (o: number) => v.getUint32(o, true);
  const u64 = (o: number) => v.getBigUint64(o, true);
  switch (type) {
    case LinkType.RawTracepoint:
      return { kind: "raw_tracepoint", name: cstr(name, u32(24)) };
    case LinkType.Tracing:
      return { kind: "tracing", attachType: u32(16), targetObjId: u32(20), targetBtfId: u32(24) };
    case LinkType.Cgroup:
      return { kind: "cgroup", cgroupId: u64(16), attachType: u32(24) };
    case LinkType.Iter:
      return { kind: "iter", targetName: cstr(name, u32(24)), mapId: u32(28) };
    case LinkType.NetNs:
      return { kind: "netns", netnsIno: u32(16), attachType: u32(20) };
    case LinkType.XDP:
      return { kind: "xdp", ifindex: u32(16) };
    case LinkType.PerfEvent: {
      const kind = u32(16) as PerfEventKind;
      const named = kind >= PerfEventKind.Uprobe && kind <= PerfEventKind.Tracepoint;
      const probe = kind >= PerfEventKind.Uprobe && kind <= PerfEventKind.Kretprobe;
      const kprobe = kind === PerfEventKind.Kprobe || kind === PerfEventKind.Kretprobe;
      return {
        kind: "perf_event",
        perfEventType: kind,
        name: named ? cstr(name, u32(32)) : "",
        offset: probe ? BigInt(u32(36)) : kind === PerfEventKind.Event ? u64(24) : 0n,
        address: kprobe ? u64(40) : 0n,
        cookie: kprobe ? u64(56) : u64(40),
      };
    }
    case LinkType.KprobeMulti:
      return { kind: "kprobe_multi", count: u32(24), flags: u32(28), missed: u64(32) };
    case LinkType.StructOps:
      return { kind: "struct_ops", mapId: u32(16) };
    case LinkType.Netfilter:
      return {
        kind: "netfilter",
        pf: u32(16),
        hooknum: u32(20),
        priority: v.getInt32(24, true),
        flags: u32(28),
      };
    case LinkType.TCX:
    case LinkType.Netkit:
      return {
        kind: type === LinkType.TCX ? "tcx" : "netkit",
        ifindex: u32(16),
        attachType: u32(20),
      };
    case LinkType.UprobeMulti:
      return { kind: "uprobe_multi", count: u32(52), flags: u32(56), pid: u32(60) };
    case LinkType.Sockmap:
      return { kind: "sockmap", mapId: u32(16), attachType: u32(20) };
  }
  return { kind: "unknown" };
}
