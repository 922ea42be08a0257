// The assembler: builders, labels and symbol resolution, metadata and copies, iteration,
// text output, and the helper table.
import { assert, assertEquals, assertNotStrictEquals, assertThrows } from "@std/assert";
import { asm } from "../../mod.ts";

const { R0, R1, R2, R3, R6, R10, Word, DWord, Half, Byte } = asm;

Deno.test("asm assembler: labels resolve to jump, call and function pointer offsets", () => {
  const prog = new asm.Instructions([
    asm.withSymbol(asm.Mov.Imm(R0, 0), "entry"),
    asm.LoadImm(R2, 1n), // two slots
    asm.JEq.Imm(R1, 0, "out"),
    asm.Call.Label("sub"),
    asm.LoadFuncPtr(R3, "sub"),
    asm.Ja.Long("out"),
    asm.MayGoto("entry"),
    asm.Label("out"),
    asm.Return(),
    asm.Label("sub"),
    asm.Mov.Imm(R0, 1),
    asm.Ja.Label("tail"),
    asm.withSymbol(asm.Return(), "tail"),
  ]);
  const offsets = [...prog.offsets()];
  assertEquals(offsets, [0, 1, 3, 4, 5, 7, 8, 9, 10, 11, 12]);
  assertEquals(
    prog.symbolOffsets(),
    new Map([["entry", 0], ["out", 9], ["sub", 10], ["tail", 12]]),
  );
  const back = asm.Instructions.unmarshal(prog.marshal("big"), "big").list;
  assertEquals(back[2].offset, 9 - 3 - 1); // JEq at 3 → out at 9
  assertEquals(back[3].imm, 10 - 4 - 1); // call at 4 → sub at 10
  assertEquals(back[4].imm, 10 - 5 - 1); // func pointer at 5 → sub
  assertEquals(back[5].imm, 9 - 7 - 1); // gotol at 7 → out
  assertEquals(back[6].offset, 0 - 8 - 1); // may_goto at 8 → entry
  assertEquals(back[9].offset, 0); // goto at 11 → tail at 12
  // marshal does not change the program.
  assertEquals(prog.list[2].offset, -1);
  assertEquals(prog.list[2].reference, "out");
  assertEquals(prog.unresolvedReferences(), []);
});

Deno.test("asm assembler: raw offsets need no symbols", () => {
  const prog = new asm.Instructions([asm.JNE.Reg(R1, R2, 1), asm.Mov.Imm(R0, 1), asm.Return()]);
  assertEquals(asm.Instructions.unmarshal(prog.marshal()).list[0].offset, 1);
});

Deno.test("asm assembler: clear errors for missing and duplicate symbols and far jumps", () => {
  const missing = new asm.Instructions([asm.JEq.Imm(R0, 0, "nowhere"), asm.Return()]);
  assertEquals(missing.unresolvedReferences(), ["nowhere"]);
  let e: Error = assertThrows(() => missing.marshal(), ReferenceError);
  assert(e.message.includes(`"nowhere"`) && e.message.includes("instruction 0"), e.message);

  const dup = new asm.Instructions([
    asm.withSymbol(asm.Mov.Imm(R0, 0), "a"),
    asm.withSymbol(asm.Return(), "a"),
  ]);
  e = assertThrows(() => dup.marshal(), TypeError);
  assert(e.message.includes(`Duplicate symbol "a"`), e.message);
  assertThrows(() => dup.symbolOffsets(), TypeError);

  const far: asm.Instruction[] = [asm.Ja.Label("end")];
  for (let i = 0; i < 0x8000; i++) far.push(asm.Mov.Imm(R0, i));
  far.push(asm.withSymbol(asm.Return(), "end"));
  e = assertThrows(() => new asm.Instructions(far).marshal(), RangeError);
  assert(e.message.includes("out of range") && e.message.includes("gotol"), e.message);
  // The long jump reaches.
  far[0] = asm.Ja.Long("end");
  const bytes = new asm.Instructions(far).marshal();
  assertEquals(asm.Instructions.unmarshal(bytes).list[0].imm, 0x8000);

  // Label misuse.
  assertThrows(() => new asm.Instructions([asm.Label("x")]), TypeError);
  assertThrows(
    () => new asm.Instructions([asm.Label("x"), asm.Label("y"), asm.Return()]),
    TypeError,
  );
  assertThrows(() => asm.Label(""), TypeError);
  assertThrows(
    () => new asm.Instructions([asm.Label("x"), asm.withSymbol(asm.Return(), "y")]),
    TypeError,
  );
});

Deno.test("asm assembler: map references by name and by object", () => {
  const byName = asm.LoadMapPtr(R1, "counters");
  assertEquals([byName.opcode, byName.src, byName.reference], [0x18, asm.Pseudo.MapFD, "counters"]);
  assert(asm.isLoadFromMap(byName));
  const map = { fd: () => 42, name: "m" };
  const value = asm.LoadMapValue(R1, map, 16);
  assertEquals([value.src, value.immHi, value.map], [asm.Pseudo.MapValue, 16, map]);
  const prog = new asm.Instructions([byName, value, asm.Return()]);
  const back = asm.Instructions.unmarshal(prog.marshal()).list;
  assertEquals(back[0].imm, 0); // the loader resolves names
  assertEquals([back[1].imm, back[1].immHi], [42, 16]);
  assertEquals(prog.toString().split("\n").slice(0, 2), [
    "\t0: r1 = map[counters]",
    "\t2: r1 = map_value[m] + 16",
  ]);
  assertThrows(() => asm.LoadMapPtr(R1, {} as asm.MapLike), TypeError);
  const bad = new asm.Instructions([asm.LoadMapPtr(R1, { fd: () => -1 })]);
  assertThrows(() => bad.marshal(), RangeError);
});

Deno.test("asm assembler: metadata survives copies, and copies are independent", () => {
  const line = { text: "return 0;", fileName: "x.c", lineNumber: 3 };
  const map = { fd: () => 3 };
  const ins = asm.setMeta(asm.LoadMapPtr(R1, map), "core", { kind: "field" });
  ins.symbol = "f";
  ins.reference = "r";
  ins.line = line;
  const c = asm.copy(ins);
  assertNotStrictEquals(c, ins);
  assertEquals([c.symbol, c.reference, c.map, c.line], ["f", "r", map, line]);
  assertEquals(asm.getMeta(c, "core"), { kind: "field" });
  c.offset = 5;
  c.symbol = "g";
  asm.setMeta(c, "core", undefined);
  assertEquals([ins.offset, ins.symbol], [0, "f"]);
  assertEquals(asm.getMeta(ins, "core"), { kind: "field" });
  assertEquals(c.meta, undefined);

  const prog = new asm.Instructions([ins, asm.Return()]);
  const copy = prog.copy();
  assertEquals(copy.length, 2);
  assertNotStrictEquals(copy.list[0], prog.list[0]);
  assert(asm.sameEncoding(copy.list[0], prog.list[0]));
  copy.list[1].imm = 9;
  assertEquals(prog.list[1].imm, 0);
});

Deno.test("asm assembler: iteration knows imm64 takes two slots", () => {
  const prog = new asm.Instructions([
    asm.LoadImm(R1, 1n << 40n),
    asm.Mov.Imm(R0, 0),
    asm.LoadMapPtr(R2, "m"),
    asm.Return(),
  ]);
  assertEquals(prog.length, 4);
  assertEquals(prog.slots, 6);
  assertEquals([...prog.iterate()].map((s) => [s.index, s.offset]), [[0, 0], [1, 2], [2, 3], [
    3,
    5,
  ]]);
  assertEquals([prog.indexOfOffset(3), prog.indexOfOffset(4), prog.indexOfOffset(5)], [2, -1, 3]);
  assertEquals([...prog].length, 4);
  assertEquals(asm.isExit(prog.at(-1)!), true);
});

Deno.test("asm assembler: builders encode what the ISA says", () => {
  const cases: [asm.Instruction, number[], string, string][] = [
    [asm.Mov.Imm(R0, 42), [0xb7, 0, 0, 0, 42], "r0 = 42", "r0 = 0x2a"],
    [asm.Mov.Reg32(R6, R1), [0xbc, 6, 1, 0, 0], "w6 = w1", "w6 = w1"],
    [asm.Add.Imm32(R1, -4), [0x04, 1, 0, 0, -4], "w1 += -4", "w1 += -0x4"],
    [asm.SDiv.Reg(R1, R2), [0x3f, 1, 2, 1, 0], "r1 s/= r2", "r1 s/= r2"],
    [asm.SMod.Imm32(R1, 3), [0x94, 1, 0, 1, 3], "w1 s%= 3", "w1 s%= 0x3"],
    [asm.Neg.Imm(R3), [0x87, 3, 0, 0, 0], "r3 = -r3", "r3 = -r3"],
    [asm.ArSh.Imm(R3, 2), [0xc7, 3, 0, 0, 2], "r3 s>>= 2", "r3 s>>= 0x2"],
    [asm.MovSX8.Reg(R1, R2), [0xbf, 1, 2, 8, 0], "r1 = (s8)r2", "r1 = (s8)r2"],
    [asm.MovSX16.Reg32(R1, R2), [0xbc, 1, 2, 16, 0], "w1 = (s16)w2", "w1 = (s16)w2"],
    [asm.MovSX32.Reg(R1, R2), [0xbf, 1, 2, 32, 0], "r1 = (s32)r2", "r1 = (s32)r2"],
    [asm.ToBE(R1, 16), [0xdc, 1, 0, 0, 16], "r1 = be16 r1", "r1 = be16 r1"],
    [asm.ToLE(R1, 64), [0xd4, 1, 0, 0, 64], "r1 = le64 r1", "r1 = le64 r1"],
    [asm.BSwap(R1, 32), [0xd7, 1, 0, 0, 32], "r1 = bswap32 r1", "r1 = bswap32 r1"],
    [
      asm.AddrSpaceCast(R1, R2, 1, 0),
      [0xbf, 1, 2, 1, 0x10000],
      "r1 = addr_space_cast(r2, 1, 0)",
      "r1 = addr_space_cast(r2, 0x1, 0x0)",
    ],
    [asm.JSet.Imm32(R1, 4, 2), [0x46, 1, 0, 2, 4], "if w1 & 4 goto +2", "if w1 & 0x4 goto +0x2"],
    [asm.JSLT.Reg(R1, R2, -3), [0xcd, 1, 2, -3, 0], "if r1 s< r2 goto -3", "if r1 s< r2 goto -0x3"],
    [asm.Ja.Label(0), [0x05, 0, 0, 0, 0], "goto +0", "goto +0x0"],
    [asm.Ja.Long(100000), [0x06, 0, 0, 0, 100000], "gotol +100000", "gotol +0x186a0"],
    [asm.Ja.Reg(R2), [0x0d, 2, 0, 0, 0], "gotox r2", "gotox r2"],
    [asm.MayGoto(5), [0xe5, 0, 0, 5, 0], "may_goto +5", "may_goto +0x5"],
    [asm.FnMapLookupElem.Call(), [0x85, 0, 0, 0, 1], "call bpf_map_lookup_elem#1", "call 0x1"],
    [asm.Call.Helper(9999), [0x85, 0, 0, 0, 9999], "call helper#9999", "call 0x270f"],
    [asm.Call.Label(-2), [0x85, 0, 1, 0, -2], "call pc-2", "call -0x2"],
    [asm.Call.Kfunc(1234, 2), [0x85, 0, 2, 2, 1234], "call kfunc #1234 (btf 2)", "call 0x4d2"],
    [asm.Call.Reg(R3), [0x8d, 3, 0, 0, 0], "callx r3", "callx r3"],
    [asm.Return(), [0x95, 0, 0, 0, 0], "exit", "exit"],
    [
      asm.LoadMem(R0, R1, 4, Half),
      [0x69, 0, 1, 4, 0],
      "r0 = *(u16 *)(r1 + 4)",
      "r0 = *(u16 *)(r1 + 0x4)",
    ],
    [
      asm.LoadMemSX(R0, R10, -8, Byte),
      [0x91, 0, 10, -8, 0],
      "r0 = *(s8 *)(r10 - 8)",
      "r0 = *(s8 *)(r10 - 0x8)",
    ],
    [
      asm.StoreMem(R10, -8, R1, DWord),
      [0x7b, 10, 1, -8, 0],
      "*(u64 *)(r10 - 8) = r1",
      "*(u64 *)(r10 - 0x8) = r1",
    ],
    [
      asm.StoreImm(R10, -4, -1, Word),
      [0x62, 10, 0, -4, -1],
      "*(u32 *)(r10 - 4) = -1",
      "*(u32 *)(r10 - 0x4) = -0x1",
    ],
    [asm.LoadAbs(12, Half), [0x28, 0, 0, 0, 12], "r0 = *(u16 *)skb[12]", "r0 = *(u16 *)skb[0xc]"],
    [
      asm.LoadInd(R1, -2, Byte),
      [0x50, 0, 1, 0, -2],
      "r0 = *(u8 *)skb[r1 - 2]",
      "r0 = *(u8 *)skb[r1]",
    ],
    [
      asm.Atomic.Add(R1, 8, R2, Word),
      [0xc3, 1, 2, 8, 0],
      "lock *(u32 *)(r1 + 8) += w2",
      "lock *(u32 *)(r1 + 0x8) += r2",
    ],
    [
      asm.Atomic.FetchXor(R1, 0, R2),
      [0xdb, 1, 2, 0, 0xa1],
      "r2 = atomic_fetch_xor((u64 *)(r1 + 0), r2)",
      "r2 = atomic_fetch_xor((u64 *)(r1 + 0x0), r2)",
    ],
    [
      asm.Atomic.Xchg(R1, 0, R2, Word),
      [0xc3, 1, 2, 0, 0xe1],
      "w2 = xchg32_32(r1 + 0, w2)",
      "w2 = xchg32_32(r1 + 0x0, w2)",
    ],
    [
      asm.Atomic.CmpXchg(R1, -8, R2),
      [0xdb, 1, 2, -8, 0xf1],
      "r0 = cmpxchg_64(r1 - 8, r0, r2)",
      "r0 = cmpxchg_64(r1 - 0x8, r0, r2)",
    ],
    [
      asm.Atomic.LoadAcquire(R0, R1, 2, Half),
      [0xcb, 0, 1, 2, 0x100],
      "w0 = load_acquire((u16 *)(r1 + 2))",
      "w0 = load_acquire((u16 *)(r1 + 0x2))",
    ],
    [
      asm.Atomic.StoreRelease(R1, 0, R2, DWord),
      [0xdb, 1, 2, 0, 0x110],
      "store_release((u64 *)(r1 + 0), r2)",
      "store_release((u64 *)(r1 + 0x0), r2)",
    ],
    [asm.LoadMapPtrIndex(R1, 3), [0x18, 1, 5, 0, 3], "r1 = map_idx[3]", "ld_pseudo\tr1, 0x5, 0x3"],
    [asm.LoadKernelVar(R1, 77), [0x18, 1, 3, 0, 77], "r1 = btf_id[77]", "ld_pseudo\tr1, 0x3, 0x4d"],
  ];
  for (const [ins, [op, dst, src, off, imm], text, llvm] of cases) {
    assertEquals(
      [ins.opcode, ins.dst, ins.src, ins.offset, ins.imm],
      [op, dst, src, off, imm],
      text,
    );
    assertEquals(asm.formatInstruction(ins), text);
    assertEquals(asm.formatInstruction(ins, "llvm"), llvm);
  }
  assertEquals(asm.formatInstruction(asm.LoadMapValueIndex(R1, 2, 8)), "r1 = map_idx_value[2] + 8");
  assertEquals(asm.formatInstruction(asm.LoadImm(R1, -2n), "llvm"), "r1 = -0x2 ll");
  assertEquals(asm.formatInstruction(asm.LoadImm(R1, -2n)), "r1 = -2 ll");
  assertEquals(
    asm.formatInstruction(asm.Call.Kfunc("bpf_rcu_read_lock")),
    "call kfunc bpf_rcu_read_lock",
  );
  assertEquals(
    asm.formatInstruction(asm.Atomic.Or(R1, 0, R2, Word), "llvm", { alu32: true }),
    "lock *(u32 *)(r1 + 0x0) |= w2",
  );
  assertEquals(
    asm.formatInstruction(asm.LoadMem(R1, R2, 0, Byte), "llvm", { alu32: true }),
    "w1 = *(u8 *)(r2 + 0x0)",
  );
});

Deno.test("asm assembler: builders reject wrong arguments", () => {
  assertThrows(() => asm.Mov.Imm(11 as asm.Register, 0), RangeError);
  assertThrows(() => asm.Mov.Reg(R0, -1 as asm.Register), RangeError);
  assertThrows(() => asm.Mov.Imm(R0, 2 ** 32), RangeError);
  assertThrows(() => asm.Neg.Reg(R0, R1), TypeError);
  assertThrows(() => asm.MovSX32.Reg32(R0, R1), TypeError);
  assertThrows(() => asm.LoadMem(R0, R1, 0x8000, Word), RangeError);
  assertThrows(() => asm.LoadMem(R0, R1, 0, 3 as asm.Size), RangeError);
  assertThrows(() => asm.LoadMemSX(R0, R1, 0, DWord), RangeError);
  assertThrows(() => asm.LoadAbs(0, DWord), RangeError);
  assertThrows(() => asm.Atomic.Add(R1, 0, R2, Byte), RangeError);
  assertThrows(() => asm.BSwap(R1, 8 as 16), RangeError);
  assertThrows(() => asm.JEq.Imm(R0, 0, ""), TypeError);
  assertThrows(() => asm.JEq.Imm(R0, 0, 0x8000), RangeError);
  assertThrows(() => asm.AddrSpaceCast(R0, R1, 0x10000, 0), RangeError);
  assertThrows(() => asm.Call.Helper(-1), RangeError);
});

Deno.test("asm assembler: toString prints symbols, source lines and references", () => {
  const line = (ins: asm.Instruction, text: string) => {
    ins.line = { text };
    return ins;
  };
  const prog = new asm.Instructions([
    line(asm.withSymbol(asm.Mov.Imm(R0, 0), "main"), "  int r = 0;"),
    line(asm.JEq.Imm(R1, 0, "out"), "  if (x) {"),
    line(asm.Call.Label("helper"), "  if (x) {"),
    asm.LoadImm(R1, 0x1122334455667788n),
    asm.Label("out"),
    asm.Return(),
    asm.Label("helper"),
    asm.Mov.Imm(R0, 1),
    asm.Return(),
  ]);
  assertEquals(
    prog.toString(),
    [
      "main:",
      "\t; int r = 0;",
      "\t0: r0 = 0",
      "\t; if (x) {",
      "\t1: if r1 == 0 goto +3 <out>",
      "\t2: call helper",
      "\t3: r1 = 1234605616436508552 ll",
      "out:",
      "\t5: exit",
      "helper:",
      "\t6: r0 = 1",
      "\t7: exit",
    ].join("\n"),
  );
  assertEquals(
    prog.format("llvm").split("\n").slice(0, 4),
    [
      "0000000000000000 <main>:",
      "       0:\tr0 = 0x0",
      "       1:\tif r1 == 0x0 goto +0x3",
      "       2:\tcall 0x3",
    ],
  );
  assertThrows(() => prog.format("intel" as "llvm"), TypeError);
});

Deno.test("asm helpers: the table matches the uapi header and ends at cgrp_storage_delete", () => {
  assertEquals(asm.HELPER_COUNT, 212);
  assertEquals(asm.FnMapLookupElem.id, 1);
  assertEquals(asm.FnMapLookupElem.name, "bpf_map_lookup_elem");
  assertEquals(asm.FnTailCall.id, 12);
  assertEquals(asm.FnLoop.id, 181);
  assertEquals(asm.FnUserRingbufDrain.id, 209);
  assertEquals(asm.FnCgrpStorageGet.id, 210);
  assertEquals(asm.FnCgrpStorageDelete.id, 211);
  assertEquals(asm.BuiltinFunc.byName("bpf_ringbuf_output")?.id, 130);
  assertEquals(asm.BuiltinFunc.byName("ringbuf_output")?.id, 130);
  assertEquals(asm.BuiltinFunc.byName("nope"), undefined);
  assertEquals(asm.helperName(6), "bpf_trace_printk");
  assertEquals(String(new asm.BuiltinFunc(500)), "helper#500");
  // Every name of the (older) installed header is at the same number here.
  let header: string;
  try {
    header = Deno.readTextFileSync("/usr/include/linux/bpf.h");
  } catch {
    return;
  }
  const names = [...header.matchAll(/^\s*FN\((\w+)(?:,\s*(\d+))?/gm)];
  assert(names.length > 200, `only ${names.length} helpers in the header`);
  names.forEach((m, i) => {
    const id = m[2] === undefined ? i : Number(m[2]);
    assertEquals(asm.helperName(id), `bpf_${m[1]}`);
  });
});
