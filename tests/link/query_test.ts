// Kernel tests of queryPrograms (BPF_PROG_QUERY), checked against bpftool and the kernel's own
// ids. cgroup and sockmap hooks run here; tcx, netkit and the netns hooks in a child process
// inside new network namespaces (fixtures/query_child.ts).
import { assert, assertEquals, assertGreater, assertThrows } from "@std/assert";
import * as asm from "../../asm/mod.ts";
import { AttachType, ProgramType } from "../../prog/mod.ts";
import { BpfMap, MapSpec, MapType } from "../../map/mod.ts";
import {
  attachCgroup,
  attachSockmap,
  linkFeatureMissing,
  ProgAttachFlags,
  queryPrograms,
} from "../../link/mod.ts";
import { Errno, NotSupportedError, SyscallError } from "../../errors.ts";
import { BpfCmd, kernelBackend, setBackend } from "../../ffi.ts";
import { inNetns, runChild, withNetnsPair, withVethPair } from "./_netns.ts";
import { assertNoFdLeak, kernelTest, run } from "./_deps.ts";
import { load } from "./_progs.ts";
import { CGROUP2, noCgroup2, noIproute2 } from "./_skips.ts";

const CHILD = new URL("./fixtures/query_child.ts", import.meta.url).pathname;
const { R0 } = asm;

function returning(type: ProgramType, value: number, attachType?: AttachType, name = "query_test") {
  return load(type, new asm.Instructions([asm.Mov.Imm(R0, value), asm.Return()]), attachType, name);
}

/** `bpftool -j cgroup show PATH [effective]`: id and attach_flags of each program. */
function bpftoolCgroup(path: string, effective = false) {
  const shown: { id: number; attach_type: string; attach_flags: string }[] = JSON.parse(
    run("bpftool", ["-j", "cgroup", "show", path, ...(effective ? ["effective"] : [])]),
  );
  return shown.filter((p) => p.attach_type === "cgroup_inet_egress");
}

kernelTest("queryPrograms on a cgroup agrees with bpftool cgroup show", async () => {
  await assertNoFdLeak(() => {
    const parent = `${CGROUP2}/ebpf_query_test_${Deno.pid}`;
    const child = `${parent}/child`;
    Deno.mkdirSync(child, { recursive: true });
    try {
      using a = returning(ProgramType.CGroupSKB, 1, undefined, "query_a");
      using b = returning(ProgramType.CGroupSKB, 1, undefined, "query_b");
      using c = returning(ProgramType.CGroupSKB, 1, undefined, "query_c");
      const egress = AttachType.CgroupInetEgress;
      const empty = queryPrograms({ path: parent }, egress);
      assertEquals(empty.programs, []);
      using _la = attachCgroup(a, { path: parent, attachType: egress, mode: "link" });
      using _lb = attachCgroup(b, { path: parent, attachType: egress, mode: "multi" });
      using _lc = attachCgroup(c, { path: child, attachType: egress, mode: "multi" });
      const direct = queryPrograms({ path: parent }, egress);
      const shown = bpftoolCgroup(parent);
      assertEquals(direct.programs.map((p) => p.programId), shown.map((p) => p.id));
      assertEquals(direct.programs.map((p) => p.programId), [a.info().id, b.info().id]);
      assertEquals(direct.attachFlags, ProgAttachFlags.AllowMulti);
      // Kernels that keep a revision for cgroup hooks (6.18 does, 6.1 not) moved it on.
      if (empty.revision !== 0n) assertGreater(direct.revision, empty.revision);
      // bpftool names each program's flags from prog_attach_flags.
      assertEquals(
        direct.programs.map((p) => p.attachFlags === ProgAttachFlags.AllowMulti ? "multi" : ""),
        shown.map((p) => p.attach_flags),
      );
      // A kernel before 6.0 refuses prog_attach_flags (EINVAL): the same ids, without them.
      const restore = setBackend({
        bpf: (cmd, attr) =>
          cmd === BpfCmd.PROG_QUERY && attr.getU64(32) !== 0n
            ? -Errno.EINVAL
            : kernelBackend.bpf(cmd, attr),
        address: kernelBackend.address,
      });
      try {
        const old = queryPrograms({ path: parent }, egress);
        assertEquals(old.programs.map((p) => p.programId), [a.info().id, b.info().id]);
        assertEquals(old.programs.map((p) => p.attachFlags), [0, 0]);
      } finally {
        restore();
      }
      // The child's effective programs: its own and the ones it inherits.
      const effective = queryPrograms({ path: child }, egress, { effective: true });
      assertEquals(
        effective.programs.map((p) => p.programId).sort(),
        bpftoolCgroup(child, true).map((p) => p.id).sort(),
      );
      assertEquals(effective.programs.length, 3);
      // By an open fd, the same answer.
      const fd = Deno.openSync(parent);
      try {
        // Deno does not expose the fd number; /proc/self/fd does.
        const raw = Number(
          [...Deno.readDirSync("/proc/self/fd")].find((e) => {
            try {
              return Deno.readLinkSync(`/proc/self/fd/${e.name}`) === parent;
            } catch {
              return false;
            }
          })!.name,
        );
        assertEquals(queryPrograms({ fd: raw }, egress).programs, direct.programs);
      } finally {
        fd.close();
      }
    } finally {
      Deno.removeSync(child);
      Deno.removeSync(parent);
    }
  });
}, { skipIf: noCgroup2 });

kernelTest("queryPrograms on a sockmap names the verdict program the kernel holds", () => {
  using map = BpfMap.create(
    new MapSpec({ name: "socks", type: MapType.SockMap, keySize: 4, valueSize: 4, maxEntries: 2 }),
  );
  using prog = returning(ProgramType.SkMsg, 1, AttachType.SkMsgVerdict);
  assertEquals(queryPrograms({ map }, AttachType.SkMsgVerdict).programs, []);
  using _link = attachSockmap(prog, map, AttachType.SkMsgVerdict);
  const result = queryPrograms({ map }, AttachType.SkMsgVerdict);
  assertEquals(result.programs.map((p) => p.programId), [prog.info().id]);
  assertEquals(queryPrograms({ map }, AttachType.SkSKBStreamVerdict).programs, []);
});

kernelTest("queryPrograms refuses what BPF_PROG_QUERY cannot answer, with typed errors", () => {
  assertThrows(
    () => queryPrograms({ path: "/proc/self/ns/net" }, AttachType.TraceFentry),
    TypeError,
    "Cannot query programs at BPF_TRACE_FENTRY",
  );
  assertThrows(
    () => queryPrograms({ path: "/proc/self/ns/net" }, AttachType.TCXIngress),
    TypeError,
    "by { interface }",
  );
  assertThrows(
    () => queryPrograms({ interface: "lo" }, AttachType.SkLookup),
    TypeError,
    "only for tcx and netkit",
  );
  assertThrows(
    () => queryPrograms({ interface: "lo" }, AttachType.TCXIngress, { effective: true }),
    TypeError,
    "only for cgroup hooks",
  );
  assertThrows(() => queryPrograms({ fd: -1 }, AttachType.SkLookup), RangeError);
  // /dev/null is no lirc device: the kernel says so, as a SyscallError.
  const error = assertThrows(
    () => queryPrograms({ path: "/dev/null" }, AttachType.LircMode2),
    SyscallError,
  );
  assert(error.message.includes("LIRC_MODE2"), error.message);
});

kernelTest("queryPrograms on a kernel without the hook: NotSupportedError naming it", () => {
  using map = BpfMap.create(
    new MapSpec({ name: "socks", type: MapType.SockMap, keySize: 4, valueSize: 4, maxEntries: 2 }),
  );
  // A kernel before 6.0 for sockmaps and before 6.6 for tcx: BPF_PROG_QUERY says EINVAL,
  // and the probes cannot load or link what they try.
  const restore = setBackend({
    bpf: (cmd, attr) =>
      cmd === BpfCmd.PROG_QUERY || cmd === BpfCmd.LINK_CREATE || cmd === BpfCmd.PROG_LOAD
        ? -Errno.EINVAL
        : kernelBackend.bpf(cmd, attr),
    address: kernelBackend.address,
  });
  try {
    const tcx = assertThrows(
      () => queryPrograms({ interface: "lo" }, AttachType.TCXIngress),
      NotSupportedError,
    );
    assertEquals([tcx.feature, tcx.minKernel], ["BPF_PROG_QUERY of a tcx link", "6.6"]);
    const sockmap = assertThrows(
      () => queryPrograms({ map }, AttachType.SkMsgVerdict),
      NotSupportedError,
    );
    assertEquals(sockmap.minKernel, "6.0");
    // Elsewhere EINVAL stays the kernel's answer.
    assertThrows(
      () => queryPrograms({ path: "/proc/self/ns/net" }, AttachType.SkLookup),
      SyscallError,
    );
  } finally {
    restore();
  }
});

kernelTest("queryPrograms on a tcx chain: order, link ids, revision, anchors", () => {
  const r = withVethPair("query", (a, b) => runChild(CHILD, inNetns(b), ["tcx", a]));
  // The chain in run order, with the ids bpftool lists for the links.
  assertEquals(r.first.programs.map((p: { programId: number }) => p.programId), [r.b, r.a]);
  assertEquals(
    r.first.programs.map((p: { linkId: number }) => p.linkId),
    [r.bLink, r.aLink],
  );
  for (const p of r.first.programs) {
    const shown = r.bpftoolLinks.find((l: { id: number }) => l.id === p.linkId);
    assertEquals(shown?.prog_id, p.programId);
  }
  assertGreater(BigInt(r.first.revision), 0n);
  // c went after the first program of the query, at the revision read.
  assertEquals(r.second.programs.map((p: { programId: number }) => p.programId), [r.b, r.c, r.a]);
  assertEquals(BigInt(r.second.revision), BigInt(r.first.revision) + 1n);
  assertEquals(r.staleError, "SyscallError");
  assert(r.staleMessage.includes("expectedRevision"), r.staleMessage);
  assertEquals(r.ingress.programs, []);
}, { skipIf: () => noIproute2() ?? linkFeatureMissing("tcx") });

kernelTest("queryPrograms on a netkit device, primary and peer", () => {
  const r = withNetnsPair("queryk", (a, b) => runChild(CHILD, inNetns(a), ["netkit", b]));
  assertEquals(r.primary.programs.map((p: { programId: number }) => p.programId), [r.primaryProg]);
  assertEquals(r.primary.programs[0].linkId, r.primaryLink);
  assertEquals(r.peer.programs.map((p: { programId: number }) => p.programId), [r.peerProg]);
  assertEquals(r.peer.programs[0].linkId, r.peerLink);
}, { skipIf: () => noIproute2() ?? linkFeatureMissing("netkit") });

kernelTest("queryPrograms on a network namespace: sk_lookup and flow_dissector", () => {
  const r = runChild(CHILD, ["unshare", "-n"], ["netns"]);
  assertEquals(r.skLookup.programs.map((p: { programId: number }) => p.programId), [r.skProg]);
  assertEquals(r.flowDissector.programs.map((p: { programId: number }) => p.programId), [
    r.flowProg,
  ]);
  // bpftool net show lists the namespace's flow dissector.
  assertEquals(r.bpftoolFlow, [r.flowProg]);
});
