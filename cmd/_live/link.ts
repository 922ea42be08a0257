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
import { interfaceName } from "./netdev.ts";

/** One link as `bpftool -j link show` prints it: id, type, prog_id, then the type's fields. */
export type LinkRecord =
  & { id: number; type: string | number; prog_id: number }
  & Record<
    string,
    unknown
  >;

const PERF_EVENT_KINDS: Record<number, string> = {
  [PerfEventKind.Uprobe]: "uprobe",
  [PerfEventKind.Uretprobe]: "uretprobe",
  [PerfEventKind.Kprobe]: "kprobe",
  [PerfEventKind.Kretprobe]: "kretprobe",
  [PerfEventKind.Tracepoint]: "tracepoint",
  [PerfEventKind.Event]: "event",
};

/** The fields of one link type, named as bpftool names them. */
function details(info: LinkInfo): Record<string, unknown> {
  const d = info.details;
  switch (d.kind) {
    case "raw_tracepoint":
      return { tp_name: d.name };
    case "tracing":
      return {
        attach_type: attachTypeName(d.attachType),
        target_obj_id: d.targetObjId,
        target_btf_id: d.targetBtfId,
      };
    case "cgroup":
      return { cgroup_id: d.cgroupId, attach_type: attachTypeName(d.attachType) };
    case "iter":
      return d.mapId
        ? { target_name: d.targetName, map_id: d.mapId }
        : { target_name: d.targetName };
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
      return {
        event_type: PERF_EVENT_KINDS[d.perfEventType] ?? d.perfEventType,
        name: d.name,
        offset: d.offset,
        address: d.address,
        cookie: d.cookie,
      };
    case "kprobe_multi":
      return { func_cnt: d.count, flags: d.flags, missed: d.missed };
    case "uprobe_multi":
      return { func_cnt: d.count, flags: d.flags, pid: d.pid };
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
export function linkRecord(info: LinkInfo): LinkRecord {
  return { id: info.id, type: linkTypeName(info.type), prog_id: info.programId, ...details(info) };
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
  for (using link of loadedLinks()) records.push(linkRecord(link.info()));
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
