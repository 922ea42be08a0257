// ESTALE from a tcx attachment whose expectedRevision the chain has moved on from names the
// revision and says what to do, instead of "E116: unknown error". The attachment is refused,
// so nothing is attached to the loopback interface it is tried on.
import { assertEquals, assertStringIncludes, assertThrows } from "@std/assert";
import * as asm from "../../asm/mod.ts";
import { Errno, SyscallError } from "../../errors.ts";
import { attachTCX, linkFeatureMissing } from "../../link/mod.ts";
import { Program, ProgramSpec, ProgramType } from "../../prog/mod.ts";
import { kernelTest } from "../_harness.ts";

kernelTest("tcx: a stale expectedRevision is ESTALE with the revision named", () => {
  using prog = Program.load(
    new ProgramSpec({
      name: "stale",
      type: ProgramType.SchedCLS,
      instructions: new asm.Instructions([asm.Mov.Imm(asm.R0, -1), asm.Return()]),
      license: "GPL",
    }),
  );
  const revision = 1n << 40n;
  const e = assertThrows(
    () => attachTCX(prog, { interface: "lo", direction: "ingress", expectedRevision: revision }),
    SyscallError,
  );
  assertEquals(e.errno, Errno.ESTALE);
  assertEquals(e.code, "ESTALE");
  assertStringIncludes(e.message, `the chain is no longer at expectedRevision ${revision}`);
}, { skipIf: () => linkFeatureMissing("tcx") });
