// Benchmarks of the asm codec: marshal and unmarshal of an 880,000-instruction program in
// both byte orders, each against the C baseline in asm_codec.c (built by tests/bench/build.sh
// into tests/bench/.build/asm_codec.so) doing the same work on struct bpf_insn arrays.
import { asm } from "../../mod.ts";

// 880,000 instructions take 990,000 slots (two of every sixteen are 16-byte loads): the largest
// program the kernel loads is 1,000,000 slots, and unmarshal refuses more.
const N = 880_000;
const { R0, R1, R2, R3, R6, R10, Word, DWord } = asm;

/** A realistic mix: what clang emits for map lookups, arithmetic, branches and calls. */
function program(): asm.Instructions {
  const block = [
    asm.Mov.Reg(R6, R1),
    asm.LoadMem(R1, R6, 0, Word),
    asm.StoreImm(R10, -4, 0, Word),
    asm.Mov.Reg(R2, R10),
    asm.Add.Imm(R2, -4),
    asm.LoadMapPtr(R1, "counters"),
    asm.FnMapLookupElem.Call(),
    asm.JEq.Imm(R0, 0, 3),
    asm.Mov.Imm(R1, 1),
    asm.Atomic.Add(R0, 0, R1, DWord),
    asm.LoadImm(R3, 0x1122334455667788n),
    asm.LoadMem(R1, R6, 16, Word),
    asm.LSh.Imm(R1, 2),
    asm.Add.Reg(R0, R1),
    asm.JGT.Reg32(R0, R1, -5),
    asm.Mov.Imm(R0, 0),
  ];
  const list: asm.Instruction[] = [];
  for (let i = 0; list.length < N; i++) list.push(asm.copy(block[i % block.length]));
  return asm.Instructions.of(list);
}

// Each benchmark runs with the heap a user would have: unmarshal with only the bytes alive
// (a live million-instruction program would make every major GC of the run mark it), and
// marshal with the program alive. So the program is made for the bytes, dropped, and made
// again after the unmarshal benchmarks (they are registered, and run, first).
const { little, big, slots } = (() => {
  const p = program();
  return { little: p.marshal("little"), big: p.marshal("big"), slots: p.slots };
})();
let insns: asm.Instructions | undefined;
const live = () => insns ??= program();

const LIB = new URL("./.build/asm_codec.so", import.meta.url).pathname;
let lib:
  | Deno.DynamicLibrary<{
    asm_encode: { parameters: ["buffer", "buffer", "u32", "i32"]; result: "void" };
    asm_decode: { parameters: ["buffer", "buffer", "u32", "i32"]; result: "i32" };
  }>
  | undefined;
try {
  lib = Deno.dlopen(
    LIB,
    {
      asm_encode: { parameters: ["buffer", "buffer", "u32", "i32"], result: "void" },
      asm_decode: { parameters: ["buffer", "buffer", "u32", "i32"], result: "i32" },
    } as const,
  );
} catch (e) {
  console.error(`asm_bench: no C baseline (${LIB}: ${e}); run tests/bench/build.sh first`);
}

// The C side works on the same instructions as struct bpf_insn arrays (host order).
const structs = new Uint8Array(little); // on a little-endian host, the LE encoding is the array
const cOut = new Uint8Array(slots * 8);

for (const [order, bytes, flag] of [["little", little, 0], ["big", big, 1]] as const) {
  Deno.bench({
    name: `asm unmarshal ${order}-endian [×${N}]`,
    group: `asm unmarshal ${order}`,
    fn() {
      asm.Instructions.unmarshal(bytes, order);
    },
  });
  if (lib !== undefined) {
    const { asm_decode } = lib.symbols;
    Deno.bench({
      name: `C decode struct bpf_insn ${order}-endian [×${N}]`,
      group: `asm unmarshal ${order}`,
      baseline: true,
      fn() {
        if (asm_decode(bytes, cOut, slots, flag) !== -1) throw new Error("C decode failed");
      },
    });
  }
}

for (const [order, flag] of [["little", 0], ["big", 1]] as const) {
  Deno.bench({
    name: `asm marshal ${order}-endian [×${N}]`,
    group: `asm marshal ${order}`,
    fn() {
      live().marshal(order);
    },
  });
  if (lib !== undefined) {
    const { asm_encode } = lib.symbols;
    Deno.bench({
      name: `C encode struct bpf_insn ${order}-endian [×${N}]`,
      group: `asm marshal ${order}`,
      baseline: true,
      fn() {
        asm_encode(structs, cOut, slots, flag);
      },
    });
  }
}
