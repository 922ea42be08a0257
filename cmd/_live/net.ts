/**
 * `net`: what runs on the network paths of this namespace, as `bpftool net` shows it — XDP
 * per interface, tcx and netkit chains (BPF_PROG_QUERY, in run order) and clsact BPF filters
 * per interface, the namespace's flow dissector — and with `--cgroup PATH` the programs
 * attached to each cgroup under PATH (as `bpftool cgroup tree PATH`).
 *
 * @module
 */

import { AttachType } from "../../prog/mod.ts";
import { Program } from "../../prog/mod.ts";
import { queryPrograms } from "../../link/mod.ts";
import { NotSupportedError, SyscallError } from "../../errors.ts";
import type { Options, Output } from "./command.ts";
import { attachTypeName } from "./names.ts";
import { btfSpec } from "./btf.ts";
import { clsactFilters, interfaces } from "./netdev.ts";
import { table } from "./output.ts";

/** An XDP entry of `bpftool -j net`. */
export type XdpRecord =
  | { devname: string; ifindex: number; mode: string; id: number }
  | { devname: string; ifindex: number; multi_attachments: { mode: string; id: number }[] };

/** A tc entry of `bpftool -j net`: a tcx/netkit chain member or a clsact filter. */
export interface TcRecord {
  devname: string;
  ifindex: number;
  kind: string;
  name?: string;
  /** tcx and netkit: the program's id, its attach flags and its link's. */
  prog_id?: number;
  prog_flags?: number[];
  link_id?: number;
  link_flags?: number[];
  /** clsact filters: the program's id. */
  id?: number;
}

/** What `bpftool -j net` prints (one object in an array). */
export interface NetRecord {
  xdp: XdpRecord[];
  tc: TcRecord[];
  flow_dissector: { id: number; name?: string }[];
}

/** Each set bit of `flags` as its own number, as bpftool lists attach flags. */
function bits(flags: number): number[] {
  const out: number[] = [];
  for (let j = 0; j < 32; j++) if (flags & (1 << j)) out.push((1 << j) >>> 0);
  return out;
}

/** The name of a program by id, if it still exists and has one. */
function programName(id: number): string | undefined {
  try {
    using prog = Program.fromId(id);
    return prog.name || undefined;
  } catch {
    return undefined;
  }
}

/** Hooks queried per interface, with the names bpftool gives them. */
const CHAINS: [AttachType, string][] = [
  [AttachType.TCXIngress, "tcx/ingress"],
  [AttachType.TCXEgress, "tcx/egress"],
  [AttachType.NetkitPrimary, "netkit/primary"],
  [AttachType.NetkitPeer, "netkit/peer"],
];

/** The programs of a chain, or none where the kernel lacks the hook or the device it. */
function chain(ifindex: number, attachType: AttachType) {
  try {
    return queryPrograms({ interface: ifindex }, attachType).programs;
  } catch (e) {
    // Not a netkit device, no tcx on this kernel: nothing attached there.
    if (e instanceof NotSupportedError || e instanceof SyscallError) return [];
    throw e;
  }
}

/** The namespace's network programs. */
export function netRecord(): NetRecord {
  const out: NetRecord = { xdp: [], tc: [], flow_dissector: [] };
  for (const dev of interfaces()) {
    const { devname, ifindex } = dev;
    if (dev.xdpMulti) out.xdp.push({ devname, ifindex, multi_attachments: dev.xdp });
    else if (dev.xdp.length === 1) out.xdp.push({ devname, ifindex, ...dev.xdp[0] });
    for (const [attachType, kind] of CHAINS) {
      for (const p of chain(ifindex, attachType)) {
        const rec: TcRecord = { devname, ifindex, kind };
        const name = programName(p.programId);
        if (name !== undefined) rec.name = name;
        rec.prog_id = p.programId;
        rec.prog_flags = bits(p.attachFlags);
        if (p.linkId !== undefined) {
          rec.link_id = p.linkId;
          rec.link_flags = bits(p.linkAttachFlags ?? 0);
        }
        out.tc.push(rec);
      }
    }
    for (const f of clsactFilters(ifindex)) out.tc.push({ devname, ifindex, ...f });
  }
  try {
    const { programs } = queryPrograms({ path: "/proc/self/ns/net" }, AttachType.FlowDissector);
    for (const p of programs) out.flow_dissector.push({ id: p.programId });
  } catch (e) {
    if (!(e instanceof NotSupportedError || e instanceof SyscallError)) throw e;
  }
  return out;
}

/** One entry of `bpftool -j cgroup tree`: a cgroup and what is attached to it. */
export interface CgroupRecord {
  cgroup: string;
  programs: {
    id: number;
    attach_type: string | number;
    attach_flags: string;
    name?: string;
    /** For BPF_LSM_CGROUP programs, the kernel function they hook ("" and 0 for others). */
    attach_btf_name?: string;
    attach_btf_obj_id?: number;
    attach_btf_id?: number;
  }[];
}

/** A program's name and the BTF function it is attached to, as `bpftool cgroup` shows them. */
function attachTarget(
  id: number,
): Omit<CgroupRecord["programs"][number], "id" | "attach_type" | "attach_flags"> {
  let info;
  try {
    using prog = Program.fromId(id);
    info = prog.info();
  } catch {
    return {};
  }
  let btfName = "";
  if (info.attachBtfId !== 0) {
    try {
      btfName = btfSpec(info.attachBtfObjId).typeById(info.attachBtfId).name;
    } catch {
      // A module unloaded meanwhile: the ids still say where.
    }
  }
  return {
    ...(info.name ? { name: info.name } : {}),
    attach_btf_name: btfName,
    attach_btf_obj_id: info.attachBtfObjId,
    attach_btf_id: info.attachBtfId,
  };
}

/** The cgroup attach types (every `BPF_CGROUP_*`, and `BPF_LSM_CGROUP`). */
const CGROUP_TYPES = Object.entries(AttachType)
  .filter(([name]) => name.startsWith("Cgroup") || name === "LSMCgroup")
  .map(([, value]) => value as AttachType);

/** `BPF_F_ALLOW_OVERRIDE` and `BPF_F_ALLOW_MULTI`, as bpftool names the attach mode. */
function attachMode(flags: number): string {
  if (flags & 2) return "multi";
  if (flags & 1) return "override";
  return "";
}

/** The programs attached to each cgroup at or under `root`, depth first. */
export function cgroupTree(root: string): CgroupRecord[] {
  const out: CgroupRecord[] = [];
  const visit = (dir: string) => {
    const programs: CgroupRecord["programs"] = [];
    for (const type of CGROUP_TYPES) {
      let result;
      try {
        result = queryPrograms({ path: dir }, type);
      } catch (e) {
        if (e instanceof NotSupportedError || e instanceof SyscallError) continue;
        throw e;
      }
      for (const p of result.programs) {
        programs.push({
          id: p.programId,
          attach_type: attachTypeName(type),
          attach_flags: attachMode(result.attachFlags),
          ...attachTarget(p.programId),
        });
      }
    }
    if (programs.length > 0) out.push({ cgroup: dir, programs });
    const children = [...Deno.readDirSync(dir)].filter((e) => e.isDirectory).map((e) => e.name);
    for (const child of children.sort()) visit(`${dir.replace(/\/$/, "")}/${child}`);
  };
  visit(root);
  return out;
}

function netText(r: NetRecord): string {
  const parts = [
    "xdp:",
    table(
      ["DEV", "IFINDEX", "MODE", "PROG"],
      r.xdp.flatMap((x) =>
        "multi_attachments" in x
          ? x.multi_attachments.map((m) => [x.devname, x.ifindex, m.mode, m.id])
          : [[x.devname, x.ifindex, x.mode, x.id]]
      ),
    ),
    "",
    "tc:",
    table(
      ["DEV", "IFINDEX", "KIND", "NAME", "PROG", "LINK"],
      r.tc.map((t) => [t.devname, t.ifindex, t.kind, t.name, t.prog_id ?? t.id, t.link_id]),
    ),
    "",
    "flow_dissector:",
    table(["PROG"], r.flow_dissector.map((f) => [f.id])),
  ];
  return parts.join("\n");
}

function cgroupText(records: CgroupRecord[]): string {
  return table(
    ["CGROUP", "PROG", "ATTACH TYPE", "FLAGS", "NAME"],
    records.flatMap((c) =>
      c.programs.map((
        p,
        i,
      ) => [i === 0 ? c.cgroup : "", p.id, p.attach_type, p.attach_flags, p.name])
    ),
  );
}

/** Runs `net [--cgroup PATH]`. */
export function net(_verb: string | undefined, _args: string[], options: Options): Output {
  const r = netRecord();
  if (options.cgroup === undefined) return { json: [r], text: () => netText(r) };
  const cgroups = cgroupTree(options.cgroup);
  return {
    json: [{ ...r, cgroups }],
    text: () => `${netText(r)}\n\ncgroups under ${options.cgroup}:\n${cgroupText(cgroups)}`,
  };
}
