// Load-time feature probes (ISA v4, log_true_size, typed function ksyms) against the kernel's version, and what
// Program.load reports for ISA v4 instructions on a kernel without them.
import { assert, assertEquals, assertInstanceOf, assertThrows } from "@std/assert";
import * as asm from "../../asm/mod.ts";
import { AttachType, Program, ProgramSpec, ProgramType, programTypeName } from "../../prog/mod.ts";
import { Errno, NotSupportedError, SyscallError } from "../../errors.ts";
import { BpfCmd, kernelBackend, setBackend } from "../../ffi.ts";
import { isaV4, isIsaV4, ksymFunctions, logTrueSize } from "../../prog/_prog_features.ts";
import { kernelAtLeast, kernelTest } from "../_harness.ts";

const { R0, R1 } = asm;

function spec(name: string, ...body: asm.Instruction[]): ProgramSpec {
  return new ProgramSpec({
    name,
    type: ProgramType.SocketFilter,
    license: "GPL",
    instructions: new asm.Instructions([asm.Mov.Imm(R0, 0x1234), ...body, asm.Return()]),
  });
}

Deno.test("isIsaV4 names the instructions kernels before 6.6 reject", () => {
  const v4 = [
    asm.MovSX8.Reg(R0, R1),
    asm.MovSX16.Reg32(R0, R1),
    asm.SDiv.Imm(R0, 3),
    asm.SMod.Reg32(R0, R1),
    asm.BSwap(R0, 16),
    asm.Ja.Long("x"),
    asm.LoadMemSX(R0, R1, 0, asm.Byte),
  ];
  for (const ins of v4) assert(isIsaV4(ins), asm.formatInstruction(ins));
  const classic = [
    asm.Mov.Reg(R0, R1),
    asm.Div.Imm(R0, 3),
    asm.Mod.Reg32(R0, R1),
    asm.ToBE(R0, 16),
    asm.Ja.Label("x"),
    asm.LoadMem(R0, R1, 0, asm.Byte),
    asm.Return(),
  ];
  for (const ins of classic) assert(!isIsaV4(ins), String(ins.opcode));
});

kernelTest("ISA v4, log_true_size and function ksym probes agree with the kernel's version", () => {
  assertEquals(isaV4.supported(), kernelAtLeast("6.6"), Deno.osRelease());
  assertEquals(logTrueSize.supported(), kernelAtLeast("6.4"), Deno.osRelease());
  assertEquals(ksymFunctions.supported(), kernelAtLeast("6.4"), Deno.osRelease());
});

kernelTest("a bswap program loads where the kernel has ISA v4, else NotSupportedError", () => {
  const bswap = spec("bswap16", asm.BSwap(R0, 16));
  if (kernelAtLeast("6.6")) {
    using prog = Program.load(bswap);
    assertEquals(prog.run({ data: new Uint8Array(64) }).retval, 0x3412);
    return;
  }
  const e = assertThrows(() => Program.load(bswap), NotSupportedError);
  assertEquals([e.feature, e.minKernel], ["BPF ISA v4", "6.6"]);
  assert(e.message.includes("ISA v4 instruction at index 1"), e.message);
});

Deno.test("a kernel that refuses three-instruction loads: only ISA v4 ones are NotSupported", () => {
  // The ISA v4 probe and both test programs have three instructions; the program type
  // probe has two, so the type is known and only the instructions can be to blame.
  const restore = setBackend({
    bpf: (cmd, attr) =>
      cmd === BpfCmd.PROG_LOAD && attr.getU32(4) === 3
        ? -Errno.EINVAL
        : kernelBackend.bpf(cmd, attr),
    address: kernelBackend.address,
  });
  try {
    const e = assertThrows(() => Program.load(spec("v4", asm.BSwap(R0, 32))), NotSupportedError);
    assertEquals(e.minKernel, "6.6");
    const plain = assertThrows(() => Program.load(spec("plain", asm.Add.Imm(R0, 1))));
    assertInstanceOf(plain, SyscallError);
    assertEquals(plain.errno, Errno.EINVAL);
  } finally {
    restore();
  }
});

function netfilterSpec(): ProgramSpec {
  return new ProgramSpec({
    name: "nf",
    type: ProgramType.Netfilter,
    attachType: AttachType.Netfilter,
    license: "GPL",
    instructions: new asm.Instructions([asm.Mov.Imm(R0, 1), asm.Return()]),
  });
}

kernelTest("a netfilter program loads from 6.4 on, and is NotSupportedError before", () => {
  if (kernelAtLeast("6.4")) {
    Program.load(netfilterSpec()).close();
    return;
  }
  const e = assertThrows(() => Program.load(netfilterSpec()), NotSupportedError);
  assertEquals([e.feature, e.minKernel], [programTypeName(ProgramType.Netfilter), "6.4"]);
  assertInstanceOf(e.cause, SyscallError);
});

Deno.test("a kernel that knows no program type: its EINVAL names the type and kernel", () => {
  const restore = setBackend({
    bpf: (cmd, attr) => cmd === BpfCmd.PROG_LOAD ? -Errno.EINVAL : kernelBackend.bpf(cmd, attr),
    address: kernelBackend.address,
  });
  try {
    const e = assertThrows(() => Program.load(netfilterSpec()), NotSupportedError);
    assertEquals(e.minKernel, "6.4");
    assert(e.message.includes("NETFILTER"), e.message);
  } finally {
    restore();
  }
});
