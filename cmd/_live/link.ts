/**
 * `link list`, `link show ID`: the bpf_links in the kernel as `bpftool link` shows them,
 * with each link type's own fields under bpftool's names.
 *
 * @module
 */

import { linkFromId, type LinkInfo, loadedLinks, PerfEventKind } from "../../link/mod.ts";
import { type Options, type Output, parseId, UsageError } from "./command.ts";
import { attachTypeName, linkTypeName } from "./names.ts";
import { fields, table, toJson } from "./output.ts";
import { interfaceNames } from "./netdev.ts";
import { kallsymsNames } from "../../prog/_kallsyms.ts";

/** One link as `bpftool -j link show` prints it: id, type, prog_id, then the type's fields. */
export type LinkRecord =
  & { id: number; type: string | number; prog_id: number }
  & Record<
    string,
    unknown
  >;

/** `BPF_F_KPROBE_MULTI_RETURN` and `BPF_F_UPROBE_MULTI_RETURN`: the probes are return probes. */
const MULTI_RETURN = 1;

/** A perf_event link's fields, named as bpftool names them for each kind of event. */
function perfEvent(
  d: Extract<LinkInfo["details"], { kind: "perf_event" }>,
): Record<string, unknown> {
  switch (d.perfEventType) {
    case PerfEventKind.Kprobe:
    case PerfEventKind.Kretprobe:
      return {
        retprobe: d.perfEventType === PerfEventKind.Kretprobe,
        addr: d.address,
        func: d.name,
        offset: d.offset,
        missed: d.missed,
        cookie: d.cookie,
      };
    case PerfEventKind.Uprobe:
    case PerfEventKind.Uretprobe:
      return {
        retprobe: d.perfEventType === PerfEventKind.Uretprobe,
        file: d.name,
        offset: d.offset,
        ref_ctr_offset: d.refCtrOffset,
        cookie: d.cookie,
      };
    case PerfEventKind.Tracepoint:
      return { tracepoint: d.name, cookie: d.cookie };
    case PerfEventKind.Event:
      return { event_type: d.eventType, event_config: d.offset, cookie: d.cookie };
  }
  return {};
}

/** The fields of one link type, named as bpftool names them. */
function details(
  info: LinkInfo,
  interfaceName: (ifindex: number) => string,
): Record<string, unknown> {
  const d = info.details;
  switch (d.kind) {
    case "raw_tracepoint":
      return { tp_name: d.name, cookie: d.cookie };
    case "tracing":
      return {
        attach_type: attachTypeName(d.attachType),
        target_obj_id: d.targetObjId,
        target_btf_id: d.targetBtfId,
        cookie: d.cookie,
      };
    case "cgroup":
      return { cgroup_id: d.cgroupId, attach_type: attachTypeName(d.attachType) };
    case "iter":
      return {
        target_name: d.targetName,
        ...(d.mapId ? { map_id: d.mapId } : {}),
        ...(d.cgroup ? { cgroup_id: d.cgroup.cgroupId, order: d.cgroup.order } : {}),
        ...(d.task ? { tid: d.task.tid, pid: d.task.pid } : {}),
      };
    case "netns":
      return { netns_ino: d.netnsIno, attach_type: attachTypeName(d.attachType) };
    case "xdp":
      return { devname: interfaceName(d.ifindex), ifindex: d.ifindex };
    case "tcx":
    case "netkit":
      return {
        devname: interfaceName(d.ifindex),
        ifindex: d.ifindex,
        attach_type: attachTypeName(d.attachType),
      };
    case "perf_event":
      return perfEvent(d);
    case "kprobe_multi": {
      const symbol = kallsymsNames();
      return {
        retprobe: (d.flags & MULTI_RETURN) !== 0,
        func_cnt: d.count,
        missed: d.missed,
        funcs: d.addresses.map((addr, i) => ({
          addr,
          func: addr === 0n ? undefined : symbol(addr),
          cookie: d.cookies[i],
        })),
      };
    }
    case "uprobe_multi":
      return {
        path: d.path,
        func_cnt: d.count,
        pid: d.pid,
        retprobe: (d.flags & MULTI_RETURN) !== 0,
        funcs: d.offsets.map((offset, i) => ({
          offset,
          ref_ctr_offset: d.refCtrOffsets[i],
          cookie: d.cookies[i],
        })),
      };
    case "struct_ops":
      return { map_id: d.mapId };
    case "netfilter":
      return { pf: d.pf, hook: d.hooknum, prio: d.priority, flags: d.flags };
    case "sockmap":
      return { map_id: d.mapId, attach_type: attachTypeName(d.attachType) };
  }
  return {};
}

/** The record of a link from what the kernel reports. */
export function linkRecord(
  info: LinkInfo,
  interfaceName: (ifindex: number) => string = interfaceNames(),
): LinkRecord {
  return {
    id: info.id,
    type: linkTypeName(info.type),
    prog_id: info.programId,
    ...details(info, interfaceName),
  };
}

/** The type's fields in one column: `devname=v0 ifindex=3`. */
function detailText(r: LinkRecord): string {
  const { id: _i, type: _t, prog_id: _p, ...rest } = r;
  return Object.entries(rest).map(([k, v]) => `${k}=${typeof v === "string" ? v : toJson(v)}`)
    .join(" ");
}

/** `link list`. */
export function linkList(): Output {
  const records: LinkRecord[] = [];
  const names = interfaceNames();
  for (using link of loadedLinks()) records.push(linkRecord(link.info(), names));
  return {
    json: records,
    text: () =>
      table(
        ["ID", "TYPE", "PROG", "DETAILS"],
        records.map((r) => [r.id, r.type, r.prog_id, detailText(r)]),
      ),
  };
}

/** `link show ID`. */
export function linkShow(id: number): Output {
  using link = linkFromId(id);
  const r = linkRecord(link.info());
  return {
    json: r,
    text: () =>
      fields(
        Object.entries(r).map(([k, v]) => [k, typeof v === "object" ? toJson(v) : v as string]),
      ),
  };
}

/** Runs `link VERB …`. */
export function link(verb: string | undefined, args: string[], _options: Options): Output {
  switch (verb) {
    case undefined:
    case "list":
      return linkList();
    case "show":
      return args.length === 0 ? linkList() : linkShow(parseId(args, "link"));
  }
  throw new UsageError(`Unknown command: 'link ${verb}'`);
}
