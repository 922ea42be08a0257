/**
 * The network interfaces of this namespace through rtnetlink: names and indexes with their
 * XDP programs (`RTM_GETLINK` dump, `IFLA_XDP`), and the BPF filters of their clsact qdisc
 * (`RTM_GETTFILTER` dump, `TCA_BPF_*`), as `bpftool net` reads them.
 *
 * @module
 */

import { concat, parseAttrs, RtNetlink } from "../../link/_netlink.ts";
import { SyscallError } from "../../errors.ts";

const RTM_NEWLINK = 16;
const RTM_GETLINK = 18;
const RTM_NEWTFILTER = 44;
const RTM_GETTFILTER = 46;
/** `NLM_F_DUMP` (ROOT | MATCH). */
const NLM_F_DUMP = 0x300;
const IFLA_IFNAME = 3;
const IFLA_XDP = 43;
const IFLA_XDP_ATTACHED = 2;
const IFLA_XDP_PROG_ID = 4;
const IFLA_XDP_DRV_PROG_ID = 5;
const IFLA_XDP_SKB_PROG_ID = 6;
const IFLA_XDP_HW_PROG_ID = 7;
const TCA_KIND = 1;
const TCA_OPTIONS = 2;
const TCA_BPF_NAME = 7;
const TCA_BPF_ID = 11;
/** `TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS)` and `…_EGRESS`. */
const CLSACT_INGRESS = 0xfffffff2;
const CLSACT_EGRESS = 0xfffffff3;

/** `XDP_ATTACHED_*`: how a program is attached, as bpftool names it. */
const XDP_MODES: Record<number, string> = { 1: "driver", 2: "generic", 3: "offload" };
const XDP_ATTACHED_MULTI = 4;

/** An XDP program on an interface: its mode and id. */
export interface XdpAttachment {
  mode: string;
  id: number;
}

/** A network interface and its XDP programs. */
export interface NetInterfaceInfo {
  ifindex: number;
  devname: string;
  /** Programs attached, one per mode (several only with `XDP_ATTACHED_MULTI`). */
  xdp: XdpAttachment[];
  /** Whether the kernel reported several modes at once. */
  xdpMulti: boolean;
}

/** A BPF filter of a clsact qdisc. */
export interface TcFilter {
  /** `clsact/ingress` or `clsact/egress`. */
  kind: string;
  /** The name the filter was given (`TCA_BPF_NAME`), if any. */
  name?: string;
  /** The program's id. */
  id?: number;
}

const decoder = new TextDecoder();
const cstr = (b: Uint8Array) => decoder.decode(b.indexOf(0) < 0 ? b : b.subarray(0, b.indexOf(0)));
const u32At = (b: Uint8Array | undefined) =>
  b === undefined || b.length < 4 ? 0 : new DataView(b.buffer, b.byteOffset).getUint32(0, true);

/** Every interface of this network namespace, by index. */
export function interfaces(): NetInterfaceInfo[] {
  using nl = socket();
  // struct ifinfomsg: family, pad, type, index, flags, change; all 0 asks for every link.
  const replies = nl.request(RTM_GETLINK, NLM_F_DUMP, new Uint8Array(16), "RTM_GETLINK");
  const out: NetInterfaceInfo[] = [];
  for (const m of replies) {
    if (m.type !== RTM_NEWLINK || m.payload.length < 16) continue;
    const ifindex = new DataView(m.payload.buffer, m.payload.byteOffset).getInt32(4, true);
    const attrs = parseAttrs(m.payload, 16);
    const name = attrs.get(IFLA_IFNAME);
    const info: NetInterfaceInfo = {
      ifindex,
      devname: name ? cstr(name) : "",
      xdp: [],
      xdpMulti: false,
    };
    const xdp = attrs.get(IFLA_XDP);
    if (xdp !== undefined) {
      const x = parseAttrs(xdp);
      const mode = x.get(IFLA_XDP_ATTACHED)?.[0] ?? 0;
      if (mode === XDP_ATTACHED_MULTI) {
        info.xdpMulti = true;
        // bpftool's order: generic, driver, offload.
        for (
          const [attr, name] of [[IFLA_XDP_SKB_PROG_ID, "generic"], [
            IFLA_XDP_DRV_PROG_ID,
            "driver",
          ], [IFLA_XDP_HW_PROG_ID, "offload"]] as const
        ) {
          const id = u32At(x.get(attr));
          if (id) info.xdp.push({ mode: name, id });
        }
      } else if (XDP_MODES[mode] !== undefined) {
        info.xdp.push({ mode: XDP_MODES[mode], id: u32At(x.get(IFLA_XDP_PROG_ID)) });
      }
    }
    out.push(info);
  }
  return out.sort((a, b) => a.ifindex - b.ifindex);
}

/**
 * A lookup of interface names in this namespace, `(detached)` for 0 and `(unknown)` for an
 * index that is gone; the interfaces are listed once, on the first lookup.
 */
export function interfaceNames(): (ifindex: number) => string {
  let names: Map<number, string> | undefined;
  return (ifindex) => {
    if (ifindex === 0) return "(detached)";
    names ??= new Map(interfaces().map((i) => [i.ifindex, i.devname]));
    return names.get(ifindex) ?? "(unknown)";
  };
}

/** The BPF filters on the clsact qdisc of interface `ifindex`: ingress, then egress. */
export function clsactFilters(ifindex: number): TcFilter[] {
  using nl = socket();
  const out: TcFilter[] = [];
  for (
    const [parent, kind] of [[CLSACT_INGRESS, "clsact/ingress"], [
      CLSACT_EGRESS,
      "clsact/egress",
    ]] as const
  ) {
    // struct tcmsg: family, pads, ifindex, handle, parent, info.
    const msg = new Uint8Array(20);
    const v = new DataView(msg.buffer);
    v.setInt32(4, ifindex, true);
    v.setUint32(12, parent, true);
    let replies;
    try {
      replies = nl.request(RTM_GETTFILTER, NLM_F_DUMP, concat(msg), "RTM_GETTFILTER");
    } catch (e) {
      // No clsact qdisc: nothing to list (EINVAL, ENOENT).
      if (e instanceof SyscallError) continue;
      throw e;
    }
    for (const m of replies) {
      if (m.type !== RTM_NEWTFILTER) continue;
      const attrs = parseAttrs(m.payload, 20);
      const k = attrs.get(TCA_KIND);
      const options = attrs.get(TCA_OPTIONS);
      if (k === undefined || cstr(k) !== "bpf" || options === undefined) continue;
      const bpf = parseAttrs(options);
      const filter: TcFilter = { kind };
      const name = bpf.get(TCA_BPF_NAME);
      if (name !== undefined) filter.name = cstr(name);
      const id = bpf.get(TCA_BPF_ID);
      if (id !== undefined) filter.id = u32At(id);
      out.push(filter);
    }
  }
  return out;
}

/** An rtnetlink socket that `using` closes. */
function socket(): RtNetlink & Disposable {
  const nl = new RtNetlink() as RtNetlink & Disposable;
  nl[Symbol.dispose] = () => nl.close();
  return nl;
}
