// Kernel tests: programs built only with asm builders load, run through BPF_PROG_TEST_RUN, and
// compute what TypeScript computes for the same operations.
import { assertEquals } from "@std/assert";
import { asm } from "../../mod.ts";
import { kernelTest, missingFeature } from "../_harness.ts";
import { isaV4, isIsaV4 } from "../../prog/_prog_features.ts";
import { load, MapType, TestMap, u32Key, unsupported } from "./_kernel.ts";

const { R0, R1, R2, R3, R4, R6, R7, R9, R10, Byte, Half, Word, DWord } = asm;
type Instruction = asm.Instruction;
type Item = asm.Instruction | asm.Label;

const HOST_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** One computed value: code that leaves it in r1, and what TypeScript says it must be. */
interface Case {
  name: string;
  code: Item[];
  want: bigint;
}

let labels = 0;
function uniq(prefix: string): string {
  return `${prefix}_${labels++}`;
}

/**
 * Runs the cases as one socket filter: r6 holds the context, r9 the value of a one-element
 * array map (by direct value access), and each case's r1 is stored in its own 8-byte slot.
 * `tail` (subprograms) follows the main program's exit.
 */
function runCases(cases: Case[], tail: Item[] = [], packet?: Uint8Array): void {
  using results = new TestMap(MapType.ARRAY, 4, 8 * cases.length, 1, "results");
  const items: Item[] = [asm.Mov.Reg(R6, R1), asm.LoadMapValue(R9, results, 0)];
  cases.forEach((c, k) => items.push(...c.code, asm.StoreMem(R9, 8 * k, R1, DWord)));
  items.push(asm.Mov.Imm(R0, 0), asm.Return(), ...tail);
  using prog = load(new asm.Instructions(items));
  prog.run(packet);
  const value = results.lookup(u32Key(0));
  if (value === undefined) throw new Error("The results map has no value");
  const view = new DataView(value.buffer);
  const wrong: string[] = [];
  cases.forEach((c, k) => {
    const got = view.getBigUint64(8 * k, HOST_LE);
    const want = BigInt.asUintN(64, c.want);
    if (got !== want) {
      wrong.push(`${c.name}: got 0x${got.toString(16)}, want 0x${want.toString(16)}`);
    }
  });
  assertEquals(wrong, [], `${wrong.length} of ${cases.length} cases differ`);
}

/** Whether a case uses an ISA v4 instruction, which kernels before 6.6 reject. */
const usesV4 = (c: Case) => c.code.some((i) => "opcode" in i && isIsaV4(i));

/**
 * Registers the cases `make` builds as two tests: the classic instructions, which every
 * kernel runs, and the ISA v4 forms, skipped (naming Linux 6.6) where the kernel lacks them.
 */
function caseTests(name: string, make: () => Case[], packet?: Uint8Array): void {
  kernelTest(name, () => runCases(make().filter((c) => !usesV4(c)), [], packet));
  kernelTest(`${name}: the ISA v4 forms`, () => runCases(make().filter(usesV4), [], packet), {
    skipIf: () => missingFeature(isaV4),
  });
}

const hex = (v: bigint) => `${v < 0n ? "-" : ""}0x${(v < 0n ? -v : v).toString(16)}`;
const fitsInt32 = (v: bigint) => v >= -(1n << 31n) && v < (1n << 31n);

// ---------------------------------------------------------------- ALU

type AluName =
  | "Add"
  | "Sub"
  | "Mul"
  | "Div"
  | "SDiv"
  | "Or"
  | "And"
  | "LSh"
  | "RSh"
  | "Mod"
  | "SMod"
  | "Xor"
  | "Mov"
  | "ArSh"
  | "Neg";
const ALU_NAMES: AluName[] = [
  "Add",
  "Sub",
  "Mul",
  "Div",
  "SDiv",
  "Or",
  "And",
  "LSh",
  "RSh",
  "Mod",
  "SMod",
  "Xor",
  "Mov",
  "ArSh",
  "Neg",
];

/** What the ISA says `a op b` is on `bits` bits (32-bit results are zero-extended). */
function alu(op: AluName, a: bigint, b: bigint, bits: 32 | 64): bigint {
  const u = (x: bigint) => BigInt.asUintN(bits, x);
  const s = (x: bigint) => BigInt.asIntN(bits, x);
  const shift = u(b) & BigInt(bits - 1);
  a = u(a);
  b = u(b);
  switch (op) {
    case "Add":
      return u(a + b);
    case "Sub":
      return u(a - b);
    case "Mul":
      return u(a * b);
    case "Div":
      return b === 0n ? 0n : a / b;
    case "SDiv":
      return b === 0n ? 0n : u(s(a) / s(b));
    case "Or":
      return a | b;
    case "And":
      return a & b;
    case "LSh":
      return u(a << shift);
    case "RSh":
      return a >> shift;
    case "Mod":
      return b === 0n ? a : a % b;
    case "SMod":
      return b === 0n ? a : u(s(a) % s(b));
    case "Xor":
      return a ^ b;
    case "Mov":
      return b;
    case "ArSh":
      return u(s(a) >> shift);
    case "Neg":
      return u(-a);
  }
}

const VALUES = [
  0n,
  1n,
  7n,
  -1n,
  -7n,
  100n,
  0x7fffffffn,
  0x80000000n,
  0xffffffffn,
  0x123456789abcdef0n,
  0x7fffffffffffffffn,
  -0x8000000000000000n,
];
const OPERANDS = [0n, 1n, -1n, 3n, -7n, 31n, 0x80000000n, -0x80000000n, 0xfedcba9876543210n];

function aluCases(bits: 32 | 64): Case[] {
  const cases: Case[] = [];
  for (const op of ALU_NAMES) {
    const builder = asm[op];
    for (const a of VALUES) {
      for (let b of OPERANDS) {
        if (op === "LSh" || op === "RSh" || op === "ArSh") b &= BigInt(bits - 1);
        const name = `${op}${bits === 32 ? "32" : ""}(${hex(a)}, ${hex(b)})`;
        const want = alu(op, a, b, bits);
        if (op !== "Neg") {
          const reg = bits === 64 ? builder.Reg(R1, R2) : builder.Reg32(R1, R2);
          cases.push({
            name: `${name} reg`,
            code: [asm.LoadImm(R1, a), asm.LoadImm(R2, b), reg],
            want,
          });
        }
        // The verifier refuses division by a constant zero; a 64-bit immediate is the
        // sign-extended 32-bit one.
        const divides = op === "Div" || op === "SDiv" || op === "Mod" || op === "SMod";
        if (!fitsInt32(b) || (divides && b === 0n)) continue;
        if (op === "Neg" && b !== 0n) continue;
        const imm = bits === 64 ? builder.Imm(R1, b) : builder.Imm32(R1, b);
        cases.push({ name: `${name} imm`, code: [asm.LoadImm(R1, a), imm], want });
      }
    }
  }
  return cases;
}

caseTests("asm kernel: ALU64 results match TypeScript", () => aluCases(64));

caseTests(
  "asm kernel: ALU (32-bit, with wrap-around) results match TypeScript",
  () => aluCases(32),
);

caseTests("asm kernel: sign-extending moves and byte swaps match TypeScript", () => {
  const cases: Case[] = [];
  const sext = (v: bigint, from: number, to: number) => BigInt.asUintN(to, BigInt.asIntN(from, v));
  for (const v of VALUES.concat([0x80n, 0x7fn, 0x8000n, 0xff80n, 0x1234_8765_4321n])) {
    for (const [b, bits] of [[asm.MovSX8, 8], [asm.MovSX16, 16], [asm.MovSX32, 32]] as const) {
      cases.push({
        name: `MovSX${bits}(${hex(v)})`,
        code: [asm.LoadImm(R2, v), b.Reg(R1, R2)],
        want: sext(v, bits, 64),
      });
      if (bits !== 32) {
        cases.push({
          name: `MovSX${bits}.Reg32(${hex(v)})`,
          code: [asm.LoadImm(R2, v), b.Reg32(R1, R2)],
          want: sext(v, bits, 32),
        });
      }
    }
    const swap = (x: bigint, bits: number) => {
      let out = 0n;
      for (let i = 0; i < bits / 8; i++) out = (out << 8n) | ((x >> BigInt(8 * i)) & 0xffn);
      return out;
    };
    for (const bits of [16, 32, 64] as const) {
      const low = BigInt.asUintN(bits, v);
      const cases3: [string, Instruction, bigint][] = [
        ["ToBE", asm.ToBE(R1, bits), HOST_LE ? swap(low, bits) : low],
        ["ToLE", asm.ToLE(R1, bits), HOST_LE ? low : swap(low, bits)],
        ["BSwap", asm.BSwap(R1, bits), swap(low, bits)],
      ];
      for (const [name, ins, want] of cases3) {
        cases.push({ name: `${name}${bits}(${hex(v)})`, code: [asm.LoadImm(R1, v), ins], want });
      }
    }
  }
  return cases;
});

// ---------------------------------------------------------------- JMP

const JUMPS = [
  "JEq",
  "JNE",
  "JGT",
  "JGE",
  "JLT",
  "JLE",
  "JSGT",
  "JSGE",
  "JSLT",
  "JSLE",
  "JSet",
] as const;

function taken(op: typeof JUMPS[number], a: bigint, b: bigint, bits: 32 | 64): boolean {
  const u = (x: bigint) => BigInt.asUintN(bits, x);
  const s = (x: bigint) => BigInt.asIntN(bits, x);
  switch (op) {
    case "JEq":
      return u(a) === u(b);
    case "JNE":
      return u(a) !== u(b);
    case "JGT":
      return u(a) > u(b);
    case "JGE":
      return u(a) >= u(b);
    case "JLT":
      return u(a) < u(b);
    case "JLE":
      return u(a) <= u(b);
    case "JSGT":
      return s(a) > s(b);
    case "JSGE":
      return s(a) >= s(b);
    case "JSLT":
      return s(a) < s(b);
    case "JSLE":
      return s(a) <= s(b);
    case "JSet":
      return (u(a) & u(b)) !== 0n;
  }
}

function jumpCases(bits: 32 | 64): Case[] {
  const cases: Case[] = [];
  for (const op of JUMPS) {
    const builder = asm[op];
    for (const a of VALUES) {
      for (const b of OPERANDS.concat([a])) {
        const want = taken(op, a, b, bits) ? 1n : 0n;
        const name = `${op}${bits === 32 ? "32" : ""}(${hex(a)}, ${hex(b)})`;
        // Register forms jump by raw offset, immediate forms by label.
        const reg = bits === 64 ? builder.Reg(R3, R4, 1) : builder.Reg32(R3, R4, 1);
        cases.push({
          name: `${name} reg`,
          code: [
            asm.LoadImm(R3, a),
            asm.LoadImm(R4, b),
            asm.Mov.Imm(R1, 1),
            reg,
            asm.Mov.Imm(R1, 0),
          ],
          want,
        });
        if (!fitsInt32(b)) continue;
        const label = uniq("j");
        const imm = bits === 64 ? builder.Imm(R3, b, label) : builder.Imm32(R3, b, label);
        cases.push({
          name: `${name} imm`,
          code: [asm.LoadImm(R3, a), asm.Mov.Imm(R1, 1), imm, asm.Mov.Imm(R1, 0), asm.Label(label)],
          want,
        });
      }
    }
  }
  return cases;
}

kernelTest("asm kernel: JMP (64-bit) conditions match TypeScript", () => {
  // A case ends with a label, so give the store that follows it the symbol: add a no-op.
  runCases(jumpCases(64).map(withLandingPad));
});

kernelTest("asm kernel: JMP32 conditions match TypeScript", () => {
  runCases(jumpCases(32).map(withLandingPad));
});

/** A label must name an instruction: end label-terminated code with a no-op move. */
function withLandingPad(c: Case): Case {
  const last = c.code.at(-1);
  if (last !== undefined && asm.isInstruction(last)) return c;
  return { ...c, code: [...c.code, asm.Mov.Reg(R1, R1)] };
}

// ---------------------------------------------------------------- memory

caseTests("asm kernel: loads, sign-extending loads and stores of every size", () => {
  const pattern = 0x8182838485868788n; // little-endian bytes 88 87 … 81 in memory
  const cases: Case[] = [];
  const byteAt = (i: number) =>
    HOST_LE ? (pattern >> BigInt(8 * i)) & 0xffn : (pattern >> BigInt(8 * (7 - i))) & 0xffn;
  const read = (at: number, n: number) => {
    let v = 0n;
    for (let i = 0; i < n; i++) {
      const b = byteAt(at + i);
      v |= HOST_LE ? b << BigInt(8 * i) : b << BigInt(8 * (n - 1 - i));
    }
    return v;
  };
  const init = [asm.LoadImm(R2, pattern), asm.StoreMem(R10, -8, R2, DWord)];
  for (const [size, n] of [[Byte, 1], [Half, 2], [Word, 4], [DWord, 8]] as const) {
    for (let at = 0; at + n <= 8; at += n) {
      cases.push({
        name: `LoadMem u${n * 8} at ${at}`,
        code: [...init, asm.LoadMem(R1, R10, -8 + at, size)],
        want: read(at, n),
      });
      if (size !== DWord) {
        cases.push({
          name: `LoadMemSX s${n * 8} at ${at}`,
          code: [...init, asm.LoadMemSX(R1, R10, -8 + at, size)],
          want: BigInt.asIntN(n * 8, read(at, n)),
        });
      }
    }
    for (const imm of [-1n, 0x12345678n, -0x80000000n, 0x5an]) {
      // Zero the slot, store the immediate's low bytes at its start, read the slot back.
      const stored = BigInt.asUintN(n * 8, imm);
      cases.push({
        name: `StoreImm u${n * 8} ${hex(imm)}`,
        code: [
          asm.StoreImm(R10, -16, 0, DWord),
          asm.StoreImm(R10, -16, imm, size),
          asm.LoadMem(R1, R10, -16, DWord),
        ],
        want: HOST_LE ? stored : stored << BigInt(64 - n * 8),
      });
      cases.push({
        name: `StoreMem u${n * 8} ${hex(imm)}`,
        code: [
          asm.StoreImm(R10, -16, 0, DWord),
          asm.LoadImm(R2, imm),
          asm.StoreMem(R10, -16, R2, size),
          asm.LoadMem(R1, R10, -16, DWord),
        ],
        want: HOST_LE ? stored : stored << BigInt(64 - n * 8),
      });
    }
  }
  return cases;
});

// ---------------------------------------------------------------- atomics

type AtomicName =
  | "Add"
  | "Or"
  | "And"
  | "Xor"
  | "FetchAdd"
  | "FetchOr"
  | "FetchAnd"
  | "FetchXor"
  | "Xchg"
  | "CmpXchg";

kernelTest("asm kernel: atomic operations of 32 and 64 bits match TypeScript", () => {
  const names: AtomicName[] = [
    "Add",
    "Or",
    "And",
    "Xor",
    "FetchAdd",
    "FetchOr",
    "FetchAnd",
    "FetchXor",
    "Xchg",
    "CmpXchg",
  ];
  const cases: Case[] = [];
  const pairs: [bigint, bigint][] = [
    [0x0123456789abcdefn, 0xffn],
    [0xffffffffn, 1n],
    [-1n, 0x8000000080000000n],
    [5n, 5n],
  ];
  for (const name of names) {
    for (const [size, bits] of [[Word, 32], [DWord, 64]] as const) {
      for (const [init, operand] of pairs) {
        const mask = (1n << BigInt(bits)) - 1n;
        const full = BigInt.asUintN(64, init);
        const old = full & mask;
        const op = BigInt.asUintN(64, operand) & mask;
        let next: bigint;
        let fetched: bigint | undefined;
        // CmpXchg compares with r0: once equal (init), once not (init + 1).
        const r0 = name === "CmpXchg" && operand === 5n ? old : BigInt.asUintN(64, old + 1n);
        switch (name) {
          case "Add":
          case "FetchAdd":
            next = (old + op) & mask;
            break;
          case "Or":
          case "FetchOr":
            next = old | op;
            break;
          case "And":
          case "FetchAnd":
            next = old & op;
            break;
          case "Xor":
          case "FetchXor":
            next = old ^ op;
            break;
          case "Xchg":
            next = op;
            break;
          case "CmpXchg":
            next = (r0 & mask) === old ? op : old;
            break;
        }
        if (name.startsWith("Fetch") || name === "Xchg" || name === "CmpXchg") fetched = old;
        // 32-bit atomics touch the low half of the 8-byte slot only (on a little-endian host).
        const memory = bits === 64 ? next : HOST_LE ? (full & ~mask) | next : full;
        const label = `${name}${bits}(${hex(init)}, ${hex(operand)})`;
        const code: Item[] = [
          asm.LoadImm(R2, init),
          asm.StoreMem(R10, -8, R2, DWord),
          asm.LoadImm(R3, operand),
          asm.LoadImm(R0, r0),
          asm.Atomic[name](R10, -8, R3, size),
          asm.LoadMem(R1, R10, -8, DWord),
        ];
        if (!HOST_LE && bits === 32) continue; // the offset of the low half differs; skip
        cases.push({ name: `${label} memory`, code, want: memory });
        if (fetched !== undefined) {
          const reg = name === "CmpXchg" ? R0 : R3;
          cases.push({ name: `${label} fetched`, code: [asm.Mov.Reg(R1, reg)], want: fetched });
        }
      }
    }
  }
  runCases(cases);
});

const acquireProbe = new asm.Instructions([
  asm.StoreImm(R10, -8, 0, DWord),
  asm.Atomic.LoadAcquire(R0, R10, -8, DWord),
  asm.Return(),
]);

kernelTest(
  "asm kernel: load-acquire and store-release of every size",
  () => {
    const cases: Case[] = [];
    const pattern = 0x1122334455667788n;
    for (const [size, n] of [[Byte, 1], [Half, 2], [Word, 4], [DWord, 8]] as const) {
      const low = BigInt.asUintN(n * 8, pattern);
      cases.push({
        name: `LoadAcquire u${n * 8}`,
        code: [
          asm.LoadImm(R2, pattern),
          asm.StoreMem(R10, -8, R2, DWord),
          asm.Atomic.LoadAcquire(R1, R10, HOST_LE ? -8 : -n, size),
        ],
        want: low,
      });
      cases.push({
        name: `StoreRelease u${n * 8}`,
        code: [
          asm.StoreImm(R10, -16, 0, DWord),
          asm.LoadImm(R3, pattern),
          asm.Atomic.StoreRelease(R10, HOST_LE ? -16 : -8 - n, R3, size),
          asm.LoadMem(R1, R10, -16, DWord),
        ],
        want: low,
      });
    }
    runCases(cases);
  },
  { skipIf: () => unsupported(acquireProbe, "load-acquire (Linux 6.15)") },
);

// ---------------------------------------------------------------- control flow

const packet = new Uint8Array(64).map((_, i) => (i * 7 + 3) & 0xff);

/** may_goto (Linux 6.9): a program with one, which older kernels refuse with EINVAL. */
const mayGotoProbe = new asm.Instructions([
  asm.Mov.Imm(R0, 0),
  asm.MayGoto("probe_out"),
  asm.Label("probe_out"),
  asm.Return(),
]);
const noMayGoto = () => unsupported(mayGotoProbe, "may_goto (Linux 6.9)");

function controlCases(): Case[] {
  // A socket filter sees the packet after the 14-byte Ethernet header; LD_ABS is big endian.
  const net = (at: number, n: number) => {
    let v = 0n;
    for (let i = 0; i < n; i++) v = (v << 8n) | BigInt(packet[14 + at + i]);
    return v;
  };
  const cases: Case[] = [
    {
      name: "gotol forwards and backwards",
      code: [
        asm.Mov.Imm(R1, 1),
        asm.Ja.Long("long_a"),
        asm.withSymbol(asm.Add.Imm(R1, 100), "long_b"),
        asm.Ja.Long("long_c"),
        asm.withSymbol(asm.Add.Imm(R1, 10), "long_a"),
        asm.Ja.Long("long_b"),
        asm.withSymbol(asm.Mov.Reg(R1, R1), "long_c"),
      ],
      want: 111n,
    },
    {
      name: "may_goto falls through while the budget lasts",
      code: [
        asm.Mov.Imm(R1, 1),
        asm.MayGoto("mg_out"),
        asm.Mov.Imm(R1, 2),
        asm.Label("mg_out"),
        asm.Add.Imm(R1, 10),
      ],
      want: 12n,
    },
    { name: "LoadAbs u8", code: [asm.LoadAbs(3, Byte), asm.Mov.Reg(R1, R0)], want: net(3, 1) },
    { name: "LoadAbs u16", code: [asm.LoadAbs(4, Half), asm.Mov.Reg(R1, R0)], want: net(4, 2) },
    { name: "LoadAbs u32", code: [asm.LoadAbs(8, Word), asm.Mov.Reg(R1, R0)], want: net(8, 4) },
    {
      name: "LoadInd u16",
      code: [asm.Mov.Imm(R7, 5), asm.LoadInd(R7, 2, Half), asm.Mov.Reg(R1, R0)],
      want: net(7, 2),
    },
  ];
  return cases;
}

const isMayGoto = (c: Case) => c.name.startsWith("may_goto");

// (A callback by function pointer, as for bpf_loop, needs BTF func info: btf/ tests it.)
kernelTest("asm kernel: legacy packet loads", () => {
  runCases(controlCases().filter((c) => !usesV4(c) && !isMayGoto(c)), [], packet);
});

kernelTest("asm kernel: gotol", () => runCases(controlCases().filter(usesV4), [], packet), {
  skipIf: () => missingFeature(isaV4),
});

kernelTest("asm kernel: may_goto falls through", () => {
  runCases(controlCases().filter(isMayGoto), [], packet);
}, { skipIf: noMayGoto });

kernelTest("asm kernel: a may_goto loop ends", () => {
  runCases([{
    name: "loop",
    code: [
      asm.Mov.Imm(R1, 0),
      asm.withSymbol(asm.MayGoto("loop_done"), "loop"),
      asm.Add.Imm(R1, 1),
      asm.JLT.Imm(R1, 1000, "loop"),
      asm.withSymbol(asm.Mov.Reg(R1, R1), "loop_done"),
    ],
    want: 1000n,
  }]);
}, { skipIf: noMayGoto });

// ---------------------------------------------------------------- a whole program

kernelTest("asm kernel: map helpers, label jumps and a bpf-to-bpf call", () => {
  using counts = new TestMap(MapType.HASH, 4, 8, 16, "counts");
  const prog = new asm.Instructions([
    asm.Mov.Reg(R6, R1),
    asm.LoadMem(R1, R6, 0, Word), // skb->len
    asm.Call.Label("add_one"),
    asm.Mov.Reg(R7, R0),
    asm.StoreImm(R10, -4, 7, Word), // key = 7
    asm.Mov.Reg(R2, R10),
    asm.Add.Imm(R2, -4),
    asm.LoadMapPtr(R1, counts),
    asm.FnMapLookupElem.Call(),
    asm.JEq.Imm(R0, 0, "insert"),
    asm.LoadMem(R1, R0, 0, DWord),
    asm.Add.Reg(R1, R7),
    asm.StoreMem(R0, 0, R1, DWord),
    asm.Mov.Imm(R0, 1),
    asm.Ja.Label("out"),
    asm.Label("insert"),
    asm.StoreMem(R10, -16, R7, DWord),
    asm.LoadMapPtr(R1, counts),
    asm.Mov.Reg(R2, R10),
    asm.Add.Imm(R2, -4),
    asm.Mov.Reg(R3, R10),
    asm.Add.Imm(R3, -16),
    asm.Mov.Imm(R4, 0),
    asm.FnMapUpdateElem.Call(),
    asm.Mov.Imm(R0, 2),
    asm.Label("out"),
    asm.Return(),
    asm.Label("add_one"),
    asm.Mov.Reg(R0, R1),
    asm.Add.Imm(R0, 1),
    asm.Return(),
  ]);
  using loaded = load(prog);
  const packet = new Uint8Array(64);
  const len = BigInt(packet.length - 14 + 1);
  const value = () => {
    const v = counts.lookup(u32Key(7));
    return v === undefined ? undefined : new DataView(v.buffer).getBigUint64(0, HOST_LE);
  };
  assertEquals(value(), undefined);
  assertEquals(loaded.run(packet), 2, "first run inserts");
  assertEquals(value(), len);
  assertEquals(loaded.run(packet), 1, "second run updates in place");
  assertEquals(value(), 2n * len);
  // What the kernel loaded decodes back to the same program.
  const again = asm.Instructions.unmarshal(prog.marshal("little"), "little");
  assertEquals(again.length, prog.length);
});
