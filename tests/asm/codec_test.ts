// The encoder and decoder: every form round-trips in both byte orders, malformed input gives
// FormatError with the right offset, and random bytes give nothing else.
import { assert, assertEquals, assertInstanceOf, assertThrows } from "@std/assert";
import { asm } from "../../mod.ts";
import { FormatError } from "../../errors.ts";
import { allForms } from "./_forms.ts";
import {
  encodeForKernel,
  encodePlainForKernel,
  validateFindingCalls,
} from "../../asm/instructions.ts";

const { R0, R1, R2 } = asm;

function fields(i: asm.Instruction) {
  return [i.opcode, i.dst, i.src, i.offset, i.imm, i.immHi];
}

Deno.test("asm codec: every instruction form round-trips in both byte orders", () => {
  const forms = allForms();
  // Every opcode the decoder accepts appears among the forms.
  const seen = new Set(forms.map((i) => i.opcode));
  for (let op = 0; op < 256; op++) {
    assertEquals(seen.has(op), asm.OPCODE_TABLE[op] !== 0, `opcode 0x${op.toString(16)}`);
  }
  for (const order of ["little", "big"] as const) {
    for (const form of forms) {
      const bytes = new asm.Instructions([form]).marshal(order);
      assertEquals(bytes.length, asm.slots(form) * 8);
      const back = asm.Instructions.unmarshal(bytes, order);
      assertEquals(back.length, 1);
      assertEquals(fields(back.list[0]), fields(form), `${asm.formatInstruction(form)} (${order})`);
      assert(asm.sameEncoding(back.list[0], form));
    }
    // And all of them at once, as one program.
    const all = new asm.Instructions(forms.map(asm.copy));
    const bytes = all.marshal(order);
    assertEquals(asm.Instructions.unmarshal(bytes, order).marshal(order), bytes);
  }
});

Deno.test("asm codec: the two byte orders differ exactly as the uapi struct does", () => {
  const ins = asm.Instruction(0x61, 3, 4, -2, 0x01020304);
  assertEquals([...new asm.Instructions([ins]).marshal("little")], [
    0x61,
    0x43,
    0xfe,
    0xff,
    0x04,
    0x03,
    0x02,
    0x01,
  ]);
  assertEquals([...new asm.Instructions([ins]).marshal("big")], [
    0x61,
    0x34,
    0xff,
    0xfe,
    0x01,
    0x02,
    0x03,
    0x04,
  ]);
  const wide = asm.LoadImm(R1, 0x1122334455667788n);
  assertEquals([...new asm.Instructions([wide]).marshal("little")], [
    0x18,
    0x01,
    0,
    0,
    0x88,
    0x77,
    0x66,
    0x55,
    0,
    0,
    0,
    0,
    0x44,
    0x33,
    0x22,
    0x11,
  ]);
  assertEquals([...new asm.Instructions([wide]).marshal("big")], [
    0x18,
    0x10,
    0,
    0,
    0x55,
    0x66,
    0x77,
    0x88,
    0,
    0,
    0,
    0,
    0x11,
    0x22,
    0x33,
    0x44,
  ]);
});

Deno.test("asm codec: unaligned and offset views decode like aligned ones", () => {
  const prog = new asm.Instructions([asm.LoadImm(R0, -5n), asm.Add.Imm(R0, 3), asm.Return()]);
  for (const order of ["little", "big"] as const) {
    const bytes = prog.marshal(order);
    const padded = new Uint8Array(bytes.length + 3);
    padded.set(bytes, 3);
    const back = asm.Instructions.unmarshal(padded.subarray(3), order);
    assertEquals(back.list.map(fields), prog.list.map(fields));
    assertEquals(asm.constant(back.list[0]), -5n);
  }
});

function expectFormat(bytes: number[], offset: number, pattern: RegExp, order: asm.ByteOrder) {
  const e = assertThrows(
    () => asm.Instructions.unmarshal(new Uint8Array(bytes), order),
    FormatError,
  );
  assertInstanceOf(e, SyntaxError);
  assertEquals(e.offset, offset, e.message);
  assert(pattern.test(e.message), e.message);
}

Deno.test("asm codec: malformed input gives FormatError with the byte offset", () => {
  const exit = [0x95, 0, 0, 0, 0, 0, 0, 0];
  for (const order of ["little", "big"] as const) {
    // Truncated.
    expectFormat([...exit, 0x95, 0, 0], 8, /truncated.*11 bytes/, order);
    // Unknown opcodes: NEG with a register source, DW packet loads, exit in JMP32, 0xff.
    for (const op of [0x8f, 0x38, 0x96, 0xff, 0x00, 0x9d, 0xe6, 0xdf]) {
      expectFormat([...exit, op, 0, 0, 0, 0, 0, 0, 0], 8, /Unknown opcode/, order);
    }
    // Registers above 10, in either nibble.
    const regs = (dst: number, src: number) =>
      order === "little" ? (src << 4) | dst : (dst << 4) | src;
    expectFormat([0xbf, regs(11, 1), 0, 0, 0, 0, 0, 0], 1, /destination register r11/, order);
    expectFormat([0xbf, regs(1, 15), 0, 0, 0, 0, 0, 0], 1, /source register r15/, order);
    // Half an imm64: at the end, and followed by a non-empty slot.
    expectFormat([...exit, 0x18, regs(1, 0), 0, 0, 1, 0, 0, 0], 8, /second half/, order);
    expectFormat(
      [0x18, regs(1, 0), 0, 0, 1, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0],
      8,
      /second half/,
      order,
    );
    // Unknown pseudo source, call kind, conditional pseudo jump.
    expectFormat([0x18, regs(1, 7), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 1, /pseudo/, order);
    expectFormat([0x85, regs(0, 3), 0, 0, 0, 0, 0, 1], 1, /call kind/, order);
    expectFormat([0xe5, regs(0, 1), 0, 0, 0, 0, 0, 0], 1, /conditional pseudo jump/, order);
    // Unknown atomic operations, and read-modify-write atomics of one or two bytes.
    const imm = (v: number) =>
      order === "little"
        ? [v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, v >>> 24]
        : [v >>> 24, (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff];
    expectFormat([0xdb, regs(1, 2), 0, 0, ...imm(0x02)], 4, /atomic operation 0x2/, order);
    expectFormat([0xd3, regs(1, 2), 0, 0, ...imm(0x00)], 4, /atomic operation 0x0/, order);
    // Byte swaps of a width other than 16, 32 or 64.
    expectFormat([0xdc, regs(1, 0), 0, 0, ...imm(8)], 4, /byte swap width 8/, order);
  }
});

/** A xorshift32 generator: a fixed seed keeps failures of the random tests reproducible. */
function xorshift(seed: number): () => number {
  return () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return seed >>> 0;
  };
}

Deno.test("asm codec: 100,000 random byte strings give only FormatError", () => {
  const next = xorshift(0x2545f491);
  const valid = [...asm.OPCODE_TABLE.keys()].filter((op) => asm.OPCODE_TABLE[op] !== 0);
  let decoded = 0;
  let rejected = 0;
  for (let n = 0; n < 100_000; n++) {
    const length = next() % 65;
    const bytes = new Uint8Array(length);
    for (let i = 0; i < length; i++) bytes[i] = next() & 0xff;
    // Make most opcodes valid so that decoding gets past the first byte often.
    for (let i = 0; i + 8 <= length; i += 8) {
      if (next() % 4 !== 0) bytes[i] = valid[next() % valid.length];
      if (next() % 2 === 0) bytes[i + 1] &= 0x77;
    }
    const order = next() % 2 === 0 ? "little" : "big";
    try {
      const insns = asm.Instructions.unmarshal(bytes, order);
      decoded++;
      // Whatever decodes must encode back to the same bytes and format without throwing.
      assertEquals(insns.marshal(order), bytes);
      insns.format("llvm");
      insns.toString();
    } catch (e) {
      if (!(e instanceof FormatError)) throw e;
      assert(e.offset >= 0 && e.offset <= length, `offset ${e.offset} of ${length}`);
      rejected++;
    }
  }
  assert(decoded > 1000 && rejected > 1000, `decoded ${decoded}, rejected ${rejected}`);
});

Deno.test("asm codec: validate accepts and refuses what unmarshal does, with the same error", () => {
  // Streams of calls and 64-bit immediate loads (which validate tests apart from the rest),
  // their registers, second halves and lengths varied around what is valid.
  const next = xorshift(0x1b873593);
  const ops = [0x85, 0x18, 0x95, 0x07, 0x8d, 0x00];
  let accepted = 0;
  let refused = 0;
  for (let n = 0; n < 50_000; n++) {
    const slots = 1 + next() % 6;
    const bytes = new Uint8Array(slots * 8 - (next() % 16 === 0 ? 8 : 0));
    for (let at = 0; at + 8 <= bytes.length; at += 8) {
      if (next() % 3 === 0) continue; // a zero slot: a valid second half, an invalid opcode
      bytes[at] = ops[next() % ops.length];
      // dst r0…r10 mostly, src mostly within the call kinds and pseudo sources.
      bytes[at + 1] = (next() % 8 === 0 ? next() & 0xf : next() % 11) |
        ((next() % 8 === 0 ? next() & 0xf : next() % 7) << 4);
      if (next() % 4 === 0) bytes[at + 4 + (next() % 4)] = next() & 0xff;
    }
    for (const order of ["little", "big"] as const) {
      let want: number | FormatError;
      try {
        want = asm.Instructions.unmarshal(bytes, order).length;
      } catch (e) {
        if (!(e instanceof FormatError)) throw e;
        want = e;
      }
      let got: number | FormatError;
      try {
        got = asm.Instructions.validate(bytes, order);
      } catch (e) {
        if (!(e instanceof FormatError)) throw e;
        got = e;
      }
      if (want instanceof FormatError) {
        refused++;
        if (!(got instanceof FormatError)) {
          throw new Error(`validate gave ${got} where unmarshal refused: ${want.message}`);
        }
        assertEquals([got.message, got.offset], [want.message, want.offset]);
      } else {
        accepted++;
        assertEquals(got, want);
      }
    }
  }
  assert(accepted > 10_000 && refused > 10_000, `accepted ${accepted}, refused ${refused}`);
});

Deno.test("asm codec: validateFindingCalls finds the pseudo calls unmarshal decodes, in both byte orders", () => {
  // Calls and callx (0x8d) with every source field, among other instructions: the slots of
  // those whose source says bpf-to-bpf call, whichever byte order and path decodes them.
  const next = xorshift(0x68e31da4);
  const ops = [0x85, 0x8d, 0x18, 0x95, 0x07, 0xb7];
  let found = 0;
  for (let n = 0; n < 20_000; n++) {
    const slots = 1 + next() % 8;
    const little = new Uint8Array(slots * 8);
    for (let at = 0; at < little.length; at += 8) {
      little[at] = ops[next() % ops.length];
      little[at + 1] = (next() % 11) | ((next() % 6) << 4);
    }
    let want: number[] | undefined;
    try {
      want = [];
      let slot = 0;
      for (const ins of asm.Instructions.unmarshal(little, "little")) {
        if ((ins.opcode & 0xf7) === 0x85 && ins.src === asm.CallKind.Func) want.push(slot);
        slot += ins.opcode === asm.LoadImm64Op ? 2 : 1;
      }
    } catch (e) {
      if (!(e instanceof FormatError)) throw e;
      want = undefined;
    }
    if (want === undefined) continue;
    found += want.length;
    // The same stream in big-endian order: registers swapped, 16- and 32-bit fields reversed.
    const big = little.slice();
    for (let at = 0; at < big.length; at += 8) {
      big[at + 1] = (little[at + 1] >>> 4) | ((little[at + 1] & 0xf) << 4);
      big.subarray(at + 2, at + 4).reverse();
      big.subarray(at + 4, at + 8).reverse();
    }
    for (const [bytes, order] of [[little, "little"], [big, "big"]] as const) {
      const calls: number[] = [];
      assertEquals(
        validateFindingCalls(bytes, order, calls),
        asm.Instructions.validate(bytes, order),
      );
      assertEquals(calls, want, `${order}: ${Array.from(little, (b) => b.toString(16))}`);
    }
  }
  assert(found > 1000, `only ${found} pseudo calls`);
});

Deno.test("asm codec: marshal rejects invalid fields with RangeError", () => {
  const cases: [asm.Instruction, RegExp][] = [
    [asm.Instruction(0x8f, 1, 2), /opcode 0x8f/],
    [asm.Instruction(0xbf, 11 as asm.Register, 2), /destination register 11/],
    [asm.Instruction(0xbf, 1, -1 as asm.Register), /source register -1/],
    [asm.Instruction(0x05, 0, 0, 0x8000), /offset 32768/],
    [asm.Instruction(0xb7, 1, 0, 0, 0x80000000), /immediate 2147483648/],
    [asm.Instruction(0x18, 1, 0, 0, 0, 2 ** 32), /upper immediate/],
  ];
  for (const [ins, pattern] of cases) {
    const e = assertThrows(() => new asm.Instructions([ins]).marshal(), RangeError);
    assert(pattern.test(e.message), e.message);
  }
  assertThrows(() => new asm.Instructions([]).marshal("middle" as "big"), TypeError);
  assertThrows(() => asm.Instructions.unmarshal(new Uint8Array(8), "pdp" as "big"), TypeError);
});

Deno.test("asm codec: constants are bigint where 64 bits are possible", () => {
  const wide = asm.LoadImm(R2, -1n);
  assertEquals(asm.constant(wide), -1n);
  assertEquals([wide.imm, wide.immHi], [-1, -1]);
  asm.setConstant(wide, 0xffffffff00000001n);
  assertEquals(asm.constant(wide), -0xffffffffn);
  assertEquals([wide.imm, wide.immHi], [1, -1]);
  asm.setConstant(wide, 0x7fffffffffffffffn);
  assertEquals(asm.constant(wide), 0x7fffffffffffffffn);
  assertThrows(() => asm.setConstant(wide, 1n << 64n), RangeError);
  assertThrows(() => asm.setConstant(wide, -(1n << 63n) - 1n), RangeError);
  const narrow = asm.Mov.Imm(R0, 0xffffffff);
  assertEquals(narrow.imm, -1);
  assertEquals(asm.constant(narrow), -1n);
  asm.setConstant(narrow, 7n);
  assertEquals(narrow.imm, 7);
  assertThrows(() => asm.setConstant(narrow, 1n << 32n), RangeError);
  assertThrows(() => asm.Mov.Imm(R0, 0.5), RangeError);
});

Deno.test("asm codec: encodeForKernel into a used buffer gives marshal's bytes", () => {
  // Every form (imm64 loads among them, whose second slot must be zeroed again), a jump
  // resolved by label and a map load whose fd is asked for at encode time.
  const map = { fd: () => 42, name: "m" };
  const list = [
    ...allForms().map(asm.copy),
    asm.LoadMapPtr(R1, "m"),
    asm.JEq.Imm(R0, 0, "out"),
    asm.Mov.Imm(R0, 1),
    asm.Label("out"),
    asm.Return(),
  ];
  const insns = new asm.Instructions(list);
  insns.list.find((i) => i.reference === "m")!.map = map;
  const want = insns.marshal(asm.HOST_BYTE_ORDER);
  const used = new ArrayBuffer(insns.length * 16);
  new Uint8Array(used).fill(0xff);
  const got = encodeForKernel(insns, used);
  assert(got.buffer === used, "encoded into the buffer given");
  assertEquals(got, want);
  // A buffer too small for the program is left alone: a new one holds the encoding.
  const small = new ArrayBuffer(insns.length * 16 - 1);
  const fresh = encodeForKernel(insns, small);
  assert(fresh.buffer !== small);
  assertEquals(fresh, want);
  assertEquals(new Uint8Array(small), new Uint8Array(small.byteLength));
});

Deno.test("asm codec: encodePlainForKernel encodes plain programs and leaves the rest to the loader", () => {
  const map = { fd: () => 42, name: "m" };
  const plain = () => [
    ...allForms().map(asm.copy),
    asm.LoadMapPtr(R1, map),
    asm.JEq.Imm(R0, 0, "out"),
    asm.Call.Label("out"),
    asm.Mov.Imm(R0, 1),
    asm.Label("out"),
    asm.Return(),
  ];
  const insns = new asm.Instructions(plain());
  const into = new ArrayBuffer(insns.length * 16);
  const got = encodePlainForKernel(insns, into);
  if (asm.HOST_BYTE_ORDER === "big") {
    assertEquals(got, undefined, "big-endian hosts take the loader's path");
    return;
  }
  assert(got !== undefined && got.buffer === into, "encoded into the buffer given");
  assertEquals(got, insns.marshal(asm.HOST_BYTE_ORDER));
  // A map named and given (as a collection sets it) needs nothing more either.
  const named = asm.LoadMapPtr(R1, "m");
  named.map = map;
  assert(encodePlainForKernel(new asm.Instructions([named, asm.Return()])) !== undefined);

  // Anything for the loader to resolve, and anything the encoder refuses: undefined.
  const withLine = asm.Mov.Imm(R0, 0);
  withLine.line = { text: "return 0;" };
  const notPlain: [string, asm.Instruction][] = [
    ["metadata", asm.setMeta(asm.Mov.Imm(R0, 0), "note", 1)],
    ["a source line", withLine],
    ["a kfunc by name", asm.Call.Kfunc("bpf_obj_new_impl")],
    ["a kernel variable by name", asm.LoadKernelVar(R1, "bpf_prog_active")],
    ["a map by name only", asm.LoadMapPtr(R1, "m")],
    ["an invalid opcode", asm.Instruction(0xff)],
    ["a jump to a missing symbol", asm.Ja.Label("nowhere")],
  ];
  for (const [what, ins] of notPlain) {
    const list = plain();
    list.splice(3, 0, ins);
    assertEquals(encodePlainForKernel(new asm.Instructions(list), into), undefined, what);
  }
});
