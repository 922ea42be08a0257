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
  | {
    kind: "raw_tracepoint";
    name: string;
    /** The cookie given at attach (`bpf_get_attach_cookie`; reported since 6.10, else 0). */
    cookie: bigint;
  }
  | {
    kind: "tracing";
    attachType: number;
    /** The target program's id (freplace) or the id of the BTF object holding the target. */
    targetObjId: number;
    targetBtfId: number;
    /** The cookie given at attach (reported since 6.12, else 0). */
    cookie: bigint;
  }
  | { kind: "cgroup"; cgroupId: bigint; attachType: number }
  | {
    kind: "iter";
    targetName: string;
    /** The map iterated, for map element iterators; 0 otherwise. */
    mapId: number;
    /** For `cgroup` iterators: the cgroup and the walk order (`bpf_cgroup_iter_order`). */
    cgroup?: { cgroupId: bigint; order: number };
    /** For `task`, `task_file` and `task_vma` iterators: the thread or process, 0 for all. */
    task?: { tid: number; pid: number };
  }
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
    /** Kprobes: runs missed because another BPF program was running (6.7+, else 0). */
    missed: bigint;
    /** Uprobes: the offset of the USDT semaphore (reference counter), 0 without one. */
    refCtrOffset: bigint;
    /** `Event`: the perf event's `type` (`PERF_TYPE_*`), 0 otherwise. */
    eventType: number;
  }
  | {
    kind: "kprobe_multi";
    count: number;
    flags: number;
    /** Runs missed because another BPF program was running (6.7+, else 0). */
    missed: bigint;
    /** The kernel addresses of the functions (zero when addresses are hidden from this process). */
    addresses: bigint[];
    /** The cookie of each function, in the order of `addresses` (6.9+, else zeros). */
    cookies: bigint[];
  }
  | { kind: "struct_ops"; mapId: number }
  | { kind: "netfilter"; pf: number; hooknum: number; priority: number; flags: number }
  | { kind: "tcx" | "netkit"; ifindex: number; attachType: number }
  | {
    kind: "uprobe_multi";
    count: number;
    flags: number;
    pid: number;
    /** The binary's path, as the kernel resolves it (6.8+, else empty). */
    path: string;
    /** The probed offsets in the binary. */
    offsets: bigint[];
    /** The USDT semaphore offset of each probe, 0 without one. */
    refCtrOffsets: bigint[];
    /** The cookie of each probe. */
    cookies: bigint[];
  }
  | { kind: "sockmap"; mapId: number; attachType: number }
  | { kind: "unknown" };

const decoder = new TextDecoder();

function cstr(buf: Uint8Array | undefined, len: number): string {
  if (buf === undefined) return "";
  const bytes = buf.subarray(0, Math.min(len, buf.length));
  const end = bytes.indexOf(0);
  return decoder.decode(end < 0 ? bytes : bytes.subarray(0, end));
}

/** Room for a name or path the kernel copies out (`PATH_MAX`). */
const NAME_SIZE = 4096;

/**
 * A buffer that a second `BPF_OBJ_GET_INFO_BY_FD` call fills for a link type: its address
 * goes at `pointer` in `bpf_link_info`, and `length` at `lengthAt` when that is given.
 */
export interface InfoBuffer {
  /** What the decoder calls it. */
  key: "name" | "addresses" | "cookies" | "offsets" | "refCtrOffsets";
  /** Offset of the buffer's address field. */
  pointer: number;
  /** Offset of the field that says how big it is, when the kernel reads one. */
  lengthAt?: number;
  /** What goes into that field: bytes for names, elements for arrays. */
  length: number;
  /** The buffer's size in bytes. */
  bytes: number;
}

/**
 * The buffers the info of a link of `type` fills, given the answer `v` of a first call
 * without any: names and paths, and the per-function arrays of multi-probe links.
 */
export function linkInfoBuffers(type: number, v: DataView): InfoBuffer[] {
  const name = (pointer: number, lengthAt: number): InfoBuffer => ({
    key: "name",
    pointer,
    lengthAt,
    length: NAME_SIZE,
    bytes: NAME_SIZE,
  });
  const u64s = (key: InfoBuffer["key"], pointer: number, countAt: number): InfoBuffer => {
    const count = v.getUint32(countAt, true);
    return { key, pointer, lengthAt: countAt, length: count, bytes: count * 8 };
  };
  switch (type) {
    case LinkType.RawTracepoint:
    case LinkType.Iter:
      return [name(16, 24)];
    case LinkType.PerfEvent: {
      const kind = v.getUint32(16, true);
      return kind >= PerfEventKind.Uprobe && kind <= PerfEventKind.Tracepoint ? [name(24, 32)] : [];
    }
    case LinkType.KprobeMulti:
      // The kernel refuses arrays without a count: ask for them only when there are some.
      if (v.getUint32(24, true) === 0) return [];
      return [u64s("addresses", 16, 24), u64s("cookies", 40, 24)];
    case LinkType.UprobeMulti:
      if (v.getUint32(52, true) === 0) return [name(16, 48)];
      return [
        name(16, 48),
        u64s("offsets", 24, 52),
        u64s("refCtrOffsets", 32, 52),
        u64s("cookies", 40, 52),
      ];
  }
  return [];
}

/** `n` u64 values of `buf` (shorter when the buffer holds fewer). */
function u64Array(buf: Uint8Array | undefined, n: number): bigint[] {
  if (buf === undefined) return [];
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const count = Math.min(n, Math.floor(buf.byteLength / 8));
  return Array.from({ length: count }, (_, i) => view.getBigUint64(i * 8, true));
}

/**
 * Decodes the union of a `bpf_link_info` read into `v`; `buffers` holds what the second
 * call filled (see {@linkcode linkInfoBuffers}), by key.
 */
export function decodeLinkDetails(
  type: number,
  v: DataView,
  buffers: Partial<Record<InfoBuffer["key"], Uint8Array>> = {},
): LinkDetails {
  const u32 = (o: number) => v.getUint32(o, true);
  const u64 = (o: number) => v.getBigUint64(o, true);
  switch (type) {
    case LinkType.RawTracepoint:
      return { kind: "raw_tracepoint", name: cstr(buffers.name, u32(24)), cookie: u64(32) };
    case LinkType.Tracing:
      return {
        kind: "tracing",
        attachType: u32(16),
        targetObjId: u32(20),
        targetBtfId: u32(24),
        cookie: u64(32),
      };
    case LinkType.Cgroup:
      return { kind: "cgroup", cgroupId: u64(16), attachType: u32(24) };
    case LinkType.Iter: {
      const targetName = cstr(buffers.name, u32(24));
      const details: LinkDetails = { kind: "iter", targetName, mapId: u32(28) };
      // The second union of `iter` holds what the target kind fills.
      if (targetName === "cgroup") details.cgroup = { cgroupId: u64(32), order: u32(40) };
      if (targetName.startsWith("task")) details.task = { tid: u32(32), pid: u32(36) };
      return details;
    }
    case LinkType.NetNs:
      return { kind: "netns", netnsIno: u32(16), attachType: u32(20) };
    case LinkType.XDP:
      return { kind: "xdp", ifindex: u32(16) };
    case LinkType.PerfEvent: {
      const kind = u32(16) as PerfEventKind;
      const named = kind >= PerfEventKind.Uprobe && kind <= PerfEventKind.Tracepoint;
      const uprobe = kind === PerfEventKind.Uprobe || kind === PerfEventKind.Uretprobe;
      const kprobe = kind === PerfEventKind.Kprobe || kind === PerfEventKind.Kretprobe;
      return {
        kind: "perf_event",
        perfEventType: kind,
        name: named ? cstr(buffers.name, u32(32)) : "",
        offset: uprobe || kprobe ? BigInt(u32(36)) : kind === PerfEventKind.Event ? u64(24) : 0n,
        address: kprobe ? u64(40) : 0n,
        cookie: kprobe ? u64(56) : u64(40),
        missed: kprobe ? u64(48) : 0n,
        refCtrOffset: uprobe ? u64(48) : 0n,
        eventType: kind === PerfEventKind.Event ? u32(32) : 0,
      };
    }
    case LinkType.KprobeMulti:
      return {
        kind: "kprobe_multi",
        count: u32(24),
        flags: u32(28),
        missed: u64(32),
        addresses: u64Array(buffers.addresses, u32(24)),
        cookies: u64Array(buffers.cookies, u32(24)),
      };
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
      return {
        kind: "uprobe_multi",
        count: u32(52),
        flags: u32(56),
        pid: u32(60),
        path: cstr(buffers.name, u32(48) || NAME_SIZE),
        offsets: u64Array(buffers.offsets, u32(52)),
        refCtrOffsets: u64Array(buffers.refCtrOffsets, u32(52)),
        cookies: u64Array(buffers.cookies, u32(52)),
      };
    case LinkType.Sockmap:
      return { kind: "sockmap", mapId: u32(16), attachType: u32(20) };
  }
  return { kind: "unknown" };
}
