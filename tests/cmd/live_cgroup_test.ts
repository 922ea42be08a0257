// `net --cgroup PATH` lists the programs attached to each cgroup under PATH as
// `bpftool -j cgroup tree PATH` does: a link on the parent, two multi programs on a child.
import { assertEquals } from "@std/assert";
import * as asm from "../../asm/mod.ts";
import { AttachType, Program, ProgramSpec, ProgramType } from "../../prog/mod.ts";
import { attachCgroup } from "../../link/mod.ts";
import { cgroupTree } from "../../cmd/_live/net.ts";
import { kernelTest } from "../_harness.ts";
import { CGROUP2, noCgroup2 } from "../link/_skips.ts";
import { asRead, assertAgrees, bpftool } from "./_bpftool.ts";

function passing(name: string): Program {
  return Program.load(
    new ProgramSpec({
      name,
      type: ProgramType.CGroupSKB,
      instructions: new asm.Instructions([asm.Mov.Imm(asm.R0, 1), asm.Return()]),
      license: "GPL",
    }),
  );
}

kernelTest("live: net --cgroup agrees with bpftool -j cgroup tree", () => {
  const parent = `${CGROUP2}/ebpf_live_test_${Deno.pid}`;
  const child = `${parent}/child`;
  Deno.mkdirSync(child, { recursive: true });
  try {
    using a = passing("live_cg_a");
    using b = passing("live_cg_b");
    using _parentLink = attachCgroup(a, {
      path: parent,
      attachType: AttachType.CgroupInetIngress,
      mode: "link",
    });
    using _childA = attachCgroup(a, {
      path: child,
      attachType: AttachType.CgroupInetEgress,
      mode: "multi",
    });
    using _childB = attachCgroup(b, {
      path: child,
      attachType: AttachType.CgroupInetEgress,
      mode: "multi",
    });
    const ours = asRead(cgroupTree(parent));
    const theirs = bpftool("cgroup", "tree", parent);
    assertEquals(ours.map((c: { cgroup: string }) => c.cgroup), [parent, child]);
    assertEquals(ours.length, theirs.length);
    theirs.forEach((c: { cgroup: string; programs: Record<string, unknown>[] }, i: number) => {
      assertEquals(ours[i].cgroup, c.cgroup);
      assertEquals(ours[i].programs.length, c.programs.length, c.cgroup);
      c.programs.forEach((p, j) => assertAgrees(ours[i].programs[j], p, `${c.cgroup} #${j}`));
    });
    assertEquals(ours[1].programs.map((p: { name: string }) => p.name), ["live_cg_a", "live_cg_b"]);
  } finally {
    Deno.removeSync(child);
    Deno.removeSync(parent);
  }
}, { skipIf: noCgroup2 });
