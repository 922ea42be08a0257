// A program built with the assembler, no C: a socket filter that counts the packets it sees
// in an array map and accepts them. Runs it on test packets.
// Run: sudo deno run -A examples/asm.ts
import { asm, BpfMap, btf, MapSpec, MapType, Program, ProgramSpec, ProgramType } from "../mod.ts";

const { R0, R1, R2, R10, Word, DWord } = asm;
using counter = BpfMap.create(
  new MapSpec({
    name: "packets",
    type: MapType.Array,
    keySize: 4,
    valueSize: 8,
    maxEntries: 1,
    // BTF types make lookups decode the u64 value to a bigint.
    key: new btf.Int("u32", 4),
    value: new btf.Int("u64", 8),
  }),
);
const instructions = new asm.Instructions([
  asm.StoreImm(R10, -4, 0, Word), // key = 0 on the stack
  asm.Mov.Reg(R2, R10),
  asm.Add.Imm(R2, -4),
  asm.LoadMapPtr(R1, { fd: () => counter.fd, name: "packets" }), // r1 = &packets
  asm.FnMapLookupElem.Call(), // r0 = lookup(packets, &key)
  asm.JEq.Imm(R0, 0, "out"),
  asm.Mov.Imm(R1, 1),
  asm.Atomic.Add(R0, 0, R1, DWord), // atomically *(u64 *)r0 += 1
  asm.Label("out"),
  asm.Mov.Imm(R0, -1), // accept the whole packet
  asm.Return(),
]);
console.log(instructions.toString());
using prog = Program.load(
  new ProgramSpec({ name: "count", type: ProgramType.SocketFilter, instructions, license: "MIT" }),
);
for (let i = 0; i < 3; i++) prog.run({ data: new Uint8Array(64) });
console.log(`packets counted: ${counter.lookup(0)}`);
