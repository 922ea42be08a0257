// Link info for every link type this machine can make, against `bpftool -j link show id N`
// where bpftool 7.1 prints the type's fields, and otherwise against what the kernel says
// elsewhere (a cgroup's inode, the namespace's inode, a binary's real path, /proc/kallsyms)
// and what the link was made with. Each link's id, type and program id agree with bpftool.
import { assert, assertEquals } from "@std/assert";
import * as asm from "../../asm/mod.ts";
import { AttachType, attachTypeName, type Program, ProgramType } from "../../prog/mod.ts";
import { BpfMap, MapSpec, MapType } from "../../map/mod.ts";
import {
  attachCgroup,
  attachFentry,
  attachIter,
  attachKprobeMulti,
  attachNetfilter,
  attachRawTracepoint,
  attachSockmap,
  attachTracepoint,
  attachUprobeMulti,
  type Link,
  linkFeatureMissing,
  type LinkInfo,
  LinkType,
  linkTypeName,
  PerfEventKind,
} from "../../link/mod.ts";
import { errnoName } from "../../errors.ts";
import { kernelAtLeast, kernelTest, run } from "../_harness.ts";
import { ensureTracefs } from "./_deps.ts";
import { btfId, load, loadWithBtfId, taskIter } from "./_progs.ts";
import { runChild } from "./_netns.ts";

const CHILD = new URL("./fixtures/link_info_child.ts", import.meta.url).pathname;
const CGROUP2 = "/sys/fs/cgroup/unified";

// deno-lint-ignore no-explicit-any
type Shown = Record<string, any>;

function returning(
  type: ProgramType,
  value: number,
  attachType: AttachType = AttachType.None,
): Program {
  return load(type, new asm.Instructions([asm.Mov.Imm(asm.R0, value), asm.Return()]), attachType);
}

/** bpftool's record of link `id`, after checking the fields every link type has. */
function assertShown(info: LinkInfo | Shown, shown?: Shown): Shown {
  shown ??= JSON.parse(run("bpftool", ["-j", "link", "show", "id", String(info.id)])) as Shown;
  assertEquals(shown.id, info.id);
  assertEquals(shown.prog_id, info.programId);
  // bpftool 7.1 names the link types it knows and prints the number of newer ones.
  const name = linkTypeName(info.type).replace("BPF_LINK_TYPE_", "").toLowerCase();
  assert(shown.type === name || shown.type === info.type, `${shown.type} vs ${name}`);
  return shown;
}

/** How bpftool (libbpf) names an attach type: `BPF_SK_LOOKUP` is `sk_lookup`. */
function bpftoolAttachType(type: AttachType): string {
  return attachTypeName(type).replace("BPF_", "").toLowerCase();
}

function info(link: Link): LinkInfo {
  return link.info();
}

kernelTest("link info: raw_tracepoint, perf_event (tracepoint), cgroup and iter links", () => {
  ensureTracefs();
  using rawTp = returning(ProgramType.RawTracepoint, 0);
  using rawLink = attachRawTracepoint(rawTp, "sys_enter");
  const raw = info(rawLink);
  assertEquals(raw.details, { kind: "raw_tracepoint", name: "sys_enter", cookie: 0n });
  assertEquals(assertShown(raw).tp_name, "sys_enter");

  using tp = returning(ProgramType.TracePoint, 0);
  using tpLink = attachTracepoint(tp, "syscalls", "sys_enter_getpid", { cookie: 7n });
  const perf = info(tpLink);
  assertShown(perf);
  assertEquals(perf.details, {
    kind: "perf_event",
    perfEventType: PerfEventKind.Tracepoint,
    name: "sys_enter_getpid",
    offset: 0n,
    address: 0n,
    cookie: 7n,
    missed: 0n,
    refCtrOffset: 0n,
    eventType: 0,
  });

  const cgroup = `${CGROUP2}/ebpf_link_info_${Deno.pid}`;
  Deno.mkdirSync(cgroup);
  try {
    using skb = returning(ProgramType.CGroupSKB, 1);
    using cgLink = attachCgroup(skb, {
      path: cgroup,
      attachType: AttachType.CgroupInetEgress,
      mode: "link",
    });
    const cg = info(cgLink);
    const shown = assertShown(cg);
    // A cgroup v2 id is its directory's inode number.
    assertEquals(cg.details, {
      kind: "cgroup",
      cgroupId: BigInt(Deno.statSync(cgroup).ino!),
      attachType: AttachType.CgroupInetEgress,
    });
    assertEquals(BigInt(shown.cgroup_id), BigInt(Deno.statSync(cgroup).ino!));
    assertEquals(shown.attach_type, bpftoolAttachType(AttachType.CgroupInetEgress));
  } finally {
    Deno.removeSync(cgroup);
  }

  // A task iterator for this process only.
  using tasks = taskIter(0x41);
  using taskLink = attachIter(tasks, { pid: Deno.pid });
  const it = info(taskLink);
  assertEquals(assertShown(it).target_name, "task");
  assertEquals(it.details, {
    kind: "iter",
    targetName: "task",
    mapId: 0,
    task: { tid: 0, pid: Deno.pid },
  });
});

/** Loads an iter/bpf_map_elem program: the program, or the errno the kernel refused it with. */
function mapElemIter(): Program | number {
  const r = loadWithBtfId(
    ProgramType.Tracing,
    AttachType.TraceIter,
    btfId("bpf_iter_bpf_map_elem", "func"),
    new asm.Instructions([asm.Mov.Imm(asm.R0, 0), asm.Return()]),
  );
  return "program" in r ? r.program : r.errno;
}

kernelTest("link info: a map element iterator names its map", () => {
  using map = BpfMap.create(
    new MapSpec({ name: "iter_info", type: MapType.Hash, keySize: 4, valueSize: 4, maxEntries: 2 }),
  );
  const prog = mapElemIter();
  if (typeof prog === "number") throw new Error(`iter/bpf_map_elem load: errno ${prog}`);
  using elemProg = prog;
  using elemLink = attachIter(elemProg, { map });
  const mapIter = info(elemLink);
  const shownIter = assertShown(mapIter);
  assertEquals(shownIter.target_name, "bpf_map_elem");
  assertEquals(shownIter.map_id, map.info().id);
  assertEquals(mapIter.details, { kind: "iter", targetName: "bpf_map_elem", mapId: map.info().id });
}, {
  skipIf: () => {
    const prog = mapElemIter();
    if (typeof prog !== "number") return void prog.close();
    return `iter/bpf_map_elem programs are refused here: ${errnoName(prog)}`;
  },
});

/** Loads an fentry program on `__do_sys_getpid`: the program, or the errno it was refused with. */
function fentry(): Program | number {
  const r = loadWithBtfId(
    ProgramType.Tracing,
    AttachType.TraceFentry,
    btfId("__do_sys_getpid", "func"),
    new asm.Instructions([asm.Mov.Imm(asm.R0, 0), asm.Return()]),
  );
  return "program" in r ? r.program : r.errno;
}

kernelTest("link info: a tracing (fentry) link names its target", () => {
  const prog = fentry();
  if (typeof prog === "number") throw new Error(`fentry load: errno ${prog}`);
  using traced = prog;
  using link = attachFentry(traced);
  const got = info(link);
  const shown = assertShown(got);
  if (got.details.kind !== "tracing") throw new Error(`${got.details.kind} link`);
  assertEquals(got.details.attachType, AttachType.TraceFentry);
  assertEquals(got.details.targetBtfId, btfId("__do_sys_getpid", "func"));
  assertEquals(got.details.targetObjId, 1, "vmlinux BTF");
  assertEquals(got.details.cookie, 0n);
  assertEquals(shown.attach_type, bpftoolAttachType(AttachType.TraceFentry));
  // bpftool 7.1 prints the target's ids only where its libbpf knows the fields.
  if ("target_obj_id" in shown) {
    assertEquals(shown.target_obj_id, got.details.targetObjId);
    assertEquals(shown.target_btf_id, got.details.targetBtfId);
  }
}, {
  skipIf: () => {
    const prog = fentry();
    if (typeof prog !== "number") return void prog.close();
    return `fentry programs are refused here: ${errnoName(prog)}`;
  },
});

kernelTest("link info: XDP, tcx and netns links in a new namespace agree with bpftool", () => {
  const tcxMissing = linkFeatureMissing("tcx");
  const r = runChild(CHILD, ["unshare", "-n"], tcxMissing ? [] : ["tcx"]);
  const xdp = r.xdp;
  assertShown(xdp.ours, xdp.bpftool);
  // bpftool 7.1 prints no interface for XDP and tcx links: sysfs says which lo is.
  assertEquals(xdp.ours.details, { kind: "xdp", ifindex: r.loIfindex });
  if (xdp.bpftool.ifindex !== undefined) assertEquals(xdp.bpftool.ifindex, r.loIfindex);

  if (tcxMissing) {
    console.log(`tcx part skipped: ${tcxMissing}`);
  } else {
    const tcx = r.tcx;
    assertShown(tcx.ours, tcx.bpftool);
    assertEquals(tcx.ours.type, LinkType.TCX);
    assertEquals(tcx.ours.details, {
      kind: "tcx",
      ifindex: r.loIfindex,
      attachType: AttachType.TCXIngress,
    });
  }

  for (
    const [name, attachType] of [["sk_lookup", AttachType.SkLookup], [
      "flow_dissector",
      AttachType.FlowDissector,
    ]] as const
  ) {
    const { ours, bpftool } = r[name];
    assertShown(ours, bpftool);
    assertEquals(ours.details, { kind: "netns", netnsIno: r.netnsIno, attachType }, name);
    assertEquals(bpftool.netns_ino, r.netnsIno, name);
    assertEquals(bpftool.attach_type, bpftoolAttachType(attachType), name);
  }
});

kernelTest("link info: uprobe_multi reports the real path, offsets, cookies and pid", () => {
  using prog = returning(ProgramType.Kprobe, 0, AttachType.TraceUprobeMulti);
  const path = "/bin/true";
  using link = attachUprobeMulti(prog, path, {
    offsets: [0x1000n, 0x1010n],
    cookies: [3n, 4n],
    pid: Deno.pid,
  });
  const got = info(link);
  assertShown(got);
  assertEquals(got.details, {
    kind: "uprobe_multi",
    count: 2,
    flags: 0,
    pid: Deno.pid,
    path: Deno.realPathSync(path),
    offsets: [0x1000n, 0x1010n],
    refCtrOffsets: [0n, 0n],
    cookies: [3n, 4n],
  });
}, {
  skipIf: () =>
    linkFeatureMissing("uprobeMulti") ??
      (kernelAtLeast("6.8") ? undefined : "uprobe_multi link info requires Linux 6.8"),
});

kernelTest("link info: kprobe_multi reports the functions' addresses and cookies", () => {
  using prog = returning(ProgramType.Kprobe, 0, AttachType.TraceKprobeMulti);
  const symbols = ["vfs_read", "vfs_write"];
  using link = attachKprobeMulti(prog, { symbols, cookies: [1n, 2n] });
  const got = info(link);
  assertShown(got);
  const kallsyms = Deno.readTextFileSync("/proc/kallsyms");
  const address = (name: string) =>
    BigInt(`0x${new RegExp(`^([0-9a-f]+) [tT] ${name}$`, "m").exec(kallsyms)![1]}`);
  if (got.details.kind !== "kprobe_multi") throw new Error(`${got.details.kind} link`);
  assertEquals(got.details.count, 2);
  // The kernel sorts the functions by address; cookies follow their functions.
  const pairs = symbols.map((s, i) => [address(s), BigInt(i + 1)] as const)
    .sort((a, b) => a[0] < b[0] ? -1 : 1);
  assertEquals(got.details.addresses, pairs.map((p) => p[0]));
  if (kernelAtLeast("6.9")) assertEquals(got.details.cookies, pairs.map((p) => p[1]));
}, {
  skipIf: () =>
    linkFeatureMissing("kprobeMulti") ??
      (kernelAtLeast("6.6") ? undefined : "kprobe_multi link info requires Linux 6.6"),
});

kernelTest("link info: netfilter reports its hook", () => {
  using prog = returning(ProgramType.Netfilter, 1, /* NF_ACCEPT */ AttachType.Netfilter);
  using link = attachNetfilter(prog, { protocol: 2, hook: 3, priority: -50 });
  const got = info(link);
  assertShown(got);
  assertEquals(got.details, { kind: "netfilter", pf: 2, hooknum: 3, priority: -50, flags: 0 });
}, { skipIf: () => linkFeatureMissing("netfilter") });

kernelTest("link info: sockmap reports its map and attach type", () => {
  using socks = BpfMap.create(
    new MapSpec({
      name: "info_socks",
      type: MapType.SockMap,
      keySize: 4,
      valueSize: 4,
      maxEntries: 2,
    }),
  );
  using prog = returning(ProgramType.SkSKB, 1, /* SK_PASS */ AttachType.SkSKBVerdict);
  using link = attachSockmap(prog, socks, AttachType.SkSKBVerdict);
  const got = info(link);
  assertShown(got);
  assertEquals(got.details, {
    kind: "sockmap",
    mapId: socks.info().id,
    attachType: AttachType.SkSKBVerdict,
  });
}, { skipIf: () => linkFeatureMissing("sockmap") });
