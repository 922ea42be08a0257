// Kernel tests of rawAttachProgram and rawDetachProgram (BPF_PROG_ATTACH/DETACH as they are),
// checked with bpftool cgroup show and, for tcx, queryPrograms in a child in a new network
// namespace (fixtures/query_child.ts).
import { assertEquals, assertStringIncludes, assertThrows } from "@std/assert";
import * as asm from "../../asm/mod.ts";
import { AttachType, ProgramType } from "../../prog/mod.ts";
import {
  linkFeatureMissing,
  ProgAttachFlags,
  rawAttachProgram,
  rawDetachProgram,
} from "../../link/mod.ts";
import { SyscallError } from "../../errors.ts";
import { inNetns, runChild, withVethPair } from "./_netns.ts";
import { assertNoFdLeak, kernelTest, run } from "./_deps.ts";
import { load } from "./_progs.ts";
import { CGROUP2, noCgroup2, noIproute2 } from "./_skips.ts";

const CHILD = new URL("./fixtures/query_child.ts", import.meta.url).pathname;

function returning(name: string) {
  return load(
    ProgramType.CGroupSKB,
    new asm.Instructions([asm.Mov.Imm(asm.R0, 1), asm.Return()]),
    undefined,
    name,
  );
}

/** What bpftool lists at the cgroup's inet egress hook: id and flags per program. */
function shown(path: string): { id: number; attach_flags: string }[] {
  // bpftool prints nothing at all for a cgroup without programs.
  return (JSON.parse(run("bpftool", ["-j", "cgroup", "show", path]).trim() || "[]") as {
    id: number;
    attach_type: string;
    attach_flags: string;
  }[]).filter((p) => p.attach_type === "cgroup_inet_egress")
    .map(({ id, attach_flags }) => ({ id, attach_flags }));
}

kernelTest("rawAttachProgram and rawDetachProgram on a cgroup, as bpftool sees it", async () => {
  await assertNoFdLeak(() => {
    const path = `${CGROUP2}/ebpf_raw_attach_${Deno.pid}`;
    Deno.mkdirSync(path);
    try {
      using a = returning("raw_a");
      using b = returning("raw_b");
      const target = { path };
      const attachType = AttachType.CgroupInetEgress;
      const multi = ProgAttachFlags.AllowMulti;
      rawAttachProgram({ target, program: a, attachType, flags: multi });
      assertEquals(shown(path), [{ id: a.info().id, attach_flags: "multi" }]);
      // BPF_F_REPLACE swaps a for b in place.
      rawAttachProgram({ target, program: b, attachType, flags: multi, replace: a });
      assertEquals(shown(path), [{ id: b.info().id, attach_flags: "multi" }]);
      // Detaching what is not attached is the kernel's ENOENT.
      const e = assertThrows(
        () => rawDetachProgram({ target, program: a, attachType }),
        SyscallError,
      );
      assertEquals(e.code, "ENOENT");
      rawDetachProgram({ target, program: b, attachType });
      assertEquals(shown(path), []);
      assertThrows(
        () => rawAttachProgram({ target, program: a, attachType, anchor: "head" }),
        TypeError,
        "for tcx and netkit",
      );
    } finally {
      Deno.removeSync(path);
    }
  });
}, { skipIf: noCgroup2 });

kernelTest(
  "rawAttachProgram on tcx: anchored ahead of a link, detached by program and anchor",
  () => {
    const r = withVethPair("raw", (a, b) => runChild(CHILD, inNetns(b), ["raw_tcx", a]));
    // The raw attachments went before the link's program, in the order their anchors ask;
    // only the link's entry has a link id.
    assertEquals(r.attached.programs.map((p: { programId: number }) => p.programId), [
      r.first,
      r.second,
      r.linked,
    ]);
    assertEquals(r.attached.programs.map((p: { linkId?: number }) => p.linkId), [
      undefined,
      undefined,
      r.link,
    ]);
    assertEquals(r.detached.programs.map((p: { programId: number }) => p.programId), [r.linked]);
    // An attachment at the revision read before the chain changed is refused.
    assertStringIncludes(r.stale, "ESTALE");
    assertStringIncludes(r.stale, "expectedRevision");
  },
  { skipIf: () => noIproute2() ?? linkFeatureMissing("tcx") },
);
