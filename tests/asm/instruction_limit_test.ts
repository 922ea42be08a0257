// Instruction streams are bounded as the kernel bounds one program (BPF_COMPLEXITY_LIMIT_INSNS,
// 1,000,000 slots): a longer stream is a FormatError before any instruction object is made,
// in Instructions.unmarshal and in an ELF program section; up to the limit, decoding stays
// linear in memory.
import { assert, assertEquals, assertStringIncludes, assertThrows } from "@std/assert";
import { asm } from "../../mod.ts";
import { parseCollectionSpec } from "../../elf/mod.ts";
import { FormatError } from "../../errors.ts";

/** `slots` instructions: a mix of ALU, loads, jumps and two-slot 64-bit immediate loads. */
function stream(slots: number): Uint8Array {
  const unit = new asm.Instructions([
    asm.Mov.Imm(asm.R0, 1),
    asm.LoadMem(asm.R1, asm.R10, -8, asm.DWord),
    asm.Add.Reg(asm.R0, asm.R1),
    asm.LoadImm(asm.R2, 0x1234567890n),
    asm.JEq.Imm(asm.R0, 0, 1),
  ]).marshal("little");
  const filler = asm.Mov.Imm(asm.R3, 2);
  const fill = new asm.Instructions([filler]).marshal("little");
  const out = new Uint8Array(slots * 8);
  let at = 0;
  while (at + unit.length <= out.length) {
    out.set(unit, at);
    at += unit.length;
  }
  for (; at < out.length; at += 8) out.set(fill, at);
  return out;
}

Deno.test("asm: more than MAX_INSTRUCTIONS slots is a FormatError naming the kernel's limit", () => {
  assertEquals(asm.MAX_INSTRUCTIONS, 1_000_000);
  const over = stream(asm.MAX_INSTRUCTIONS + 1);
  for (const decode of [asm.Instructions.unmarshal, asm.Instructions.validate]) {
    const e = assertThrows(() => decode(over, "little"), FormatError, "BPF_COMPLEXITY_LIMIT_INSNS");
    assertStringIncludes(e.message, "1000001 instruction slots");
    assertEquals(e.offset, asm.MAX_INSTRUCTIONS * 8);
  }
  // Exactly at the limit decodes.
  // (Units of 5 instructions in 6 slots, then one-slot fillers.)
  const units = Math.floor(asm.MAX_INSTRUCTIONS / 6);
  assertEquals(
    asm.Instructions.validate(stream(asm.MAX_INSTRUCTIONS)),
    units * 5 + (asm.MAX_INSTRUCTIONS - units * 6),
  );
});

Deno.test("asm: decoding up to the limit is linear in memory", () => {
  const gc = (globalThis as { gc?: () => void }).gc;
  const measure = (slots: number) => {
    const bytes = stream(slots);
    gc?.();
    const before = Deno.memoryUsage().heapUsed;
    const start = performance.now();
    const insns = asm.Instructions.unmarshal(bytes, "little");
    const ms = performance.now() - start;
    gc?.();
    const perInstruction = (Deno.memoryUsage().heapUsed - before) / insns.list.length;
    return { n: insns.list.length, ms, perInstruction };
  };
  const small = measure(100_000);
  const full = measure(asm.MAX_INSTRUCTIONS);
  console.log(
    `unmarshal: ${small.n} instructions in ${small.ms.toFixed(0)} ms, ` +
      `${full.n} in ${full.ms.toFixed(0)} ms, ${full.perInstruction.toFixed(0)} B each`,
  );
  if (gc === undefined) return; // heap figures need --expose-gc (the test task passes it)
  // An instruction is one small object: the same cost per instruction at 10× the count.
  assert(full.perInstruction < 256, `${full.perInstruction} bytes per instruction`);
  assert(full.perInstruction < small.perInstruction * 1.5 + 16, JSON.stringify({ small, full }));
});

const haveClang = (() => {
  try {
    return new Deno.Command("clang-19", { args: ["--version"], stdout: "null" }).outputSync()
      .success;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "elf: a program section of more than MAX_INSTRUCTIONS slots is a FormatError",
  ignore: !haveClang,
  fn() {
    const dir = Deno.makeTempDirSync();
    try {
      Deno.writeTextFileSync(
        `${dir}/big.c`,
        `__attribute__((section("socket"), used)) int big(void *ctx) {
  asm volatile(".rept ${asm.MAX_INSTRUCTIONS}\\n r0 = 0\\n .endr");
  return 0;
}
char _license[] __attribute__((section("license"), used)) = "GPL";
`,
      );
      const out = new Deno.Command("clang-19", {
        args: ["-target", "bpf", "-O2", "-c", `${dir}/big.c`, "-o", `${dir}/big.o`],
        stderr: "piped",
      }).outputSync();
      assert(out.success, new TextDecoder().decode(out.stderr));
      const start = performance.now();
      assertThrows(
        () => parseCollectionSpec(Deno.readFileSync(`${dir}/big.o`)),
        FormatError,
        `section "socket": 1000002 instruction slots are more than the kernel loads`,
      );
      // Refused up front, not after making a million instruction objects.
      assert(performance.now() - start < 5000);
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});
