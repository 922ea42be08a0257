/**
 * One eBPF instruction: its raw fields and the metadata the loader needs, as a plain object,
 * and the functions that ask about and change it.
 *
 * Instructions are plain objects rather than class instances on purpose: V8 allocates plain
 * objects from one literal site in the old generation once it sees that they live long, so
 * decoding a million instructions costs a quarter of what class instances cost (see the
 * asm benchmark).
 *
 * @module
 */

import { ALUOp, CallKind, Class, JumpOp, LoadImm64Op, Mode, Pseudo } from "./opcode.ts";
import type { Register } from "./register.ts";

/** The byte order of encoded instructions: `"little"` (bpfel) or `"big"` (bpfeb). */
export type ByteOrder = "little" | "big";

/** The byte order of the machine this runs on, which the kernel expects in everything it reads. */
export const HOST_BYTE_ORDER: ByteOrder = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1
  ? "little"
  : "big";

/**
 * A map as the assembler sees it: something that knows its file descriptor, such as a
 * `BpfMap`. The assembler never creates or owns maps; it asks for the fd at marshal time.
 */
export interface MapLike {
  /** The map's file descriptor. */
  fd(): number;
  /** The map's name, shown by the disassembler when present. */
  readonly name?: string;
}

/**
 * The source line an instruction was compiled from, as BTF line info records it.
 * `btf/` provides objects of this shape; the disassembler prints `text` as a comment.
 */
export interface SourceLine {
  /** The text of the source line. */
  readonly text: string;
  /** The source file, if known. */
  readonly fileName?: string;
  /** The 1-based line number, if known. */
  readonly lineNumber?: number;
  /** The 1-based column, if known. */
  readonly column?: number;
}

/**
 * One eBPF instruction. The fields are the raw encoding (`opcode`, `dst`, `src`, `offset`,
 * `imm`, and `immHi` for the upper half of a 64-bit immediate load) plus metadata:
 * `symbol` (the function or label that starts here), `reference` (the symbol a jump, call,
 * function pointer, map load or kfunc call refers to), `map` (a map object whose fd the
 * marshaller writes), `line` (the source line) and `meta` (anything else later stages
 * attach, such as CO-RE relocations).
 *
 * Instructions are plain mutable objects with every field present; make them with the
 * builders or with {@linkcode Instruction}, copy them with {@linkcode copy}, and print
 * them with `formatInstruction`. Nothing validates the fields until
 * `Instructions.marshal` encodes them.
 */
export interface Instruction {
  /** The opcode byte: class, size/mode or source/operation. */
  opcode: number;
  /** The destination register. */
  dst: Register;
  /** The source register, or the pseudo source of an imm64 load or call. */
  src: Register;
  /** The signed 16-bit offset: jump distance, memory offset or operation variant. */
  offset: number;
  /** The signed 32-bit immediate; for an imm64 load, its lower half. */
  imm: number;
  /** For an imm64 load, the upper half of the constant (signed 32-bit); 0 otherwise. */
  immHi: number;
  /** The symbol (function or label name) that starts at this instruction. */
  symbol: string | undefined;
  /** The symbol this instruction refers to: jump or call target, map name, kfunc name. */
  reference: string | undefined;
  /** The map this instruction loads; its fd is written at marshal time. */
  map: MapLike | undefined;
  /** The source line this instruction was compiled from. */
  line: SourceLine | undefined;
  /** Further metadata, keyed by name. Treat it as immutable: replace it to change it. */
  meta: Readonly<Record<string, unknown>> | undefined;
}

/**
 * Makes an instruction from its raw fields, without metadata. The fields are taken as given;
 * `Instructions.marshal` validates them.
 *
 * @example
 * ```ts
 * import { asm } from "@ebpf/ebpf";
 * const exit = asm.Instruction(0x95); // what asm.Return() builds
 * ```
 */
export function Instruction(
  opcode: number,
  dst: Register = 0,
  src: Register = 0,
  offset = 0,
  imm = 0,
  immHi = 0,
): Instruction {
  // The one allocation site of instructions: keep every field, in this order, so that all
  // instructions share one shape.
  return {
    opcode,
    dst,
    src,
    offset,
    imm,
    immHi,
    symbol: undefined,
    reference: undefined,
    map: undefined,
    line: undefined,
    meta: undefined,
  };
}

/** A copy with the same fields and metadata (metadata objects are shared, not cloned). */
export function copy(ins: Instruction): Instruction {
  const c = Instruction(ins.opcode, ins.dst, ins.src, ins.offset, ins.imm, ins.immHi);
  c.symbol = ins.symbol;
  c.reference = ins.reference;
  c.map = ins.map;
  c.line = ins.line;
  c.meta = ins.meta;
  return c;
}

/**
 * The constant of an instruction as a bigint: the 64-bit value of an imm64 load, or the
 * sign-extended 32-bit immediate of any other instruction.
 */
export function constant(ins: Instruction): bigint {
  if (ins.opcode === LoadImm64Op) {
    return (BigInt(ins.immHi) << 32n) | BigInt(ins.imm >>> 0);
  }
  return BigInt(ins.imm);
}

/**
 * Sets the constant of an instruction and returns it. An imm64 load takes any value that
 * fits in 64 bits (signed or unsigned); other instructions take a value that fits in 32
 * bits, and values from 2³¹ to 2³²−1 are stored as their two's complement.
 */
export function setConstant(ins: Instruction, value: bigint | number): Instruction {
  if (ins.opcode === LoadImm64Op) {
    const v = typeof value === "bigint" ? value : BigInt(checkInteger(value, "constant"));
    if (v < -(1n << 63n) || v >= (1n << 64n)) {
      throw new RangeError(`Constant out of range for a 64-bit immediate: ${v}`);
    }
    ins.imm = Number(BigInt.asIntN(32, v));
    ins.immHi = Number(BigInt.asIntN(32, v >> 32n));
    return ins;
  }
  ins.imm = toInt32(value, "constant");
  return ins;
}

/** How many 8-byte slots an instruction takes: 2 for an imm64 load, 1 otherwise. */
export function slots(ins: Instruction): 1 | 2 {
  return ins.opcode === LoadImm64Op ? 2 : 1;
}

/** Whether this is a 64-bit immediate load (`LD | IMM | DW`), of any pseudo source. */
export function isDWordLoad(ins: Instruction): boolean {
  return ins.opcode === LoadImm64Op;
}

/** Whether this loads a plain 64-bit constant (pseudo source none). */
export function isConstantLoad(ins: Instruction): boolean {
  return ins.opcode === LoadImm64Op && ins.src === Pseudo.None;
}

/** Whether this loads a map pointer or map value address (by fd or by fd_array index). */
export function isLoadFromMap(ins: Instruction): boolean {
  if (ins.opcode !== LoadImm64Op) return false;
  const s = ins.src;
  return s === Pseudo.MapFD || s === Pseudo.MapValue || s === Pseudo.MapIdx ||
    s === Pseudo.MapIdxValue;
}

/** Whether this loads the address of a function (`ld_imm64` with `BPF_PSEUDO_FUNC`). */
export function isLoadOfFunctionPointer(ins: Instruction): boolean {
  return ins.opcode === LoadImm64Op && ins.src === Pseudo.Func;
}

/** Whether this is a call of any kind (helper, bpf-to-bpf, kfunc, or through a register). */
export function isCall(ins: Instruction): boolean {
  return (ins.opcode & 0xf7) === (Class.JMP | JumpOp.Call);
}

/** Whether this calls a kernel helper. */
export function isBuiltinCall(ins: Instruction): boolean {
  return ins.opcode === (Class.JMP | JumpOp.Call) && ins.src === CallKind.Helper;
}

/** Whether this is a bpf-to-bpf call of another function of the program. */
export function isFunctionCall(ins: Instruction): boolean {
  return ins.opcode === (Class.JMP | JumpOp.Call) && ins.src === CallKind.Func;
}

/** Whether this calls a kernel function (kfunc) by BTF id. */
export function isKfuncCall(ins: Instruction): boolean {
  return ins.opcode === (Class.JMP | JumpOp.Call) && ins.src === CallKind.Kfunc;
}

/** Whether this is `exit`. */
export function isExit(ins: Instruction): boolean {
  return ins.opcode === (Class.JMP | JumpOp.Exit);
}

/**
 * Whether this is a jump with a target encoded in the instruction: `goto`, `gotol`,
 * `may_goto` and every conditional jump (not calls, `exit` or `gotox`).
 */
export function isJump(ins: Instruction): boolean {
  const op = ins.opcode;
  const cls = op & 0x07;
  if (cls !== Class.JMP && cls !== Class.JMP32) return false;
  const jop = op & 0xf0;
  if (jop === JumpOp.Call || jop === JumpOp.Exit) return false;
  return op !== (Class.JMP | JumpOp.Ja | 0x08);
}

/**
 * Whether the target of this instruction is a relative instruction offset that
 * `Instructions.marshal` resolves from `reference`: jumps, bpf-to-bpf calls and function
 * pointer loads.
 */
export function isRelative(ins: Instruction): boolean {
  return isJump(ins) || isFunctionCall(ins) || isLoadOfFunctionPointer(ins);
}

/** Whether the jump distance lives in `imm` rather than `offset` (`gotol`, calls, func loads). */
export function targetInImm(ins: Instruction): boolean {
  return ins.opcode === (Class.JMP32 | JumpOp.Ja) || isFunctionCall(ins) ||
    isLoadOfFunctionPointer(ins);
}

/** Whether this is a signed division or modulo (ISA v4). */
export function isSigned(ins: Instruction): boolean {
  const op = ins.opcode & 0xf0;
  const cls = ins.opcode & 0x07;
  return (cls === Class.ALU || cls === Class.ALU64) &&
    (op === ALUOp.Div || op === ALUOp.Mod) && ins.offset === 1;
}

/** Whether this is a memory load (LDX, including sign-extending loads). */
export function isLoad(ins: Instruction): boolean {
  const cls = ins.opcode & 0x07;
  const mode = ins.opcode & 0xe0;
  return cls === Class.LDX && (mode === Mode.MEM || mode === Mode.MEMSX);
}

/** Returns the metadata value stored under `key`. */
export function getMeta(ins: Instruction, key: string): unknown {
  return ins.meta?.[key];
}

/**
 * Stores a metadata value under `key` (undefined removes it) and returns the instruction.
 * The metadata object is replaced, never changed in place, so copies stay independent.
 */
export function setMeta(ins: Instruction, key: string, value: unknown): Instruction {
  const next: Record<string, unknown> = { ...ins.meta };
  if (value === undefined) delete next[key];
  else next[key] = value;
  ins.meta = Object.keys(next).length === 0 ? undefined : next;
  return ins;
}

/** Sets `symbol` and returns the instruction, for naming an instruction where it is built. */
export function withSymbol(ins: Instruction, symbol: string): Instruction {
  ins.symbol = symbol;
  return ins;
}

/** Whether two instructions have the same encoding (metadata is not compared). */
export function sameEncoding(a: Instruction, b: Instruction): boolean {
  return a.opcode === b.opcode && a.dst === b.dst && a.src === b.src &&
    a.offset === b.offset && a.imm === b.imm && a.immHi === b.immHi;
}

/** Whether `value` looks like an instruction (has a numeric opcode). */
export function isInstruction(value: unknown): value is Instruction {
  return value !== null && typeof value === "object" &&
    typeof (value as Instruction).opcode === "number";
}

/** Throws unless `value` is a safe integer; returns it. */
export function checkInteger(value: number, what: string): number {
  if (!Number.isSafeInteger(value)) {
    throw new RangeError(`Invalid ${what}: expected an integer, got ${value}`);
  }
  return value;
}

/**
 * Converts a number or bigint from −2³¹ to 2³²−1 to a signed 32-bit integer, wrapping
 * values of 2³¹ and above; throws a RangeError for anything else.
 */
export function toInt32(value: bigint | number, what: string): number {
  const n = typeof value === "bigint" ? Number(value) : value;
  if (!Number.isInteger(n) || n < -0x80000000 || n > 0xffffffff) {
    throw new RangeError(`Invalid ${what}: ${value} does not fit in 32 bits`);
  }
  return n | 0;
}

/** Checks that `value` fits in a signed 16-bit offset. */
export function toInt16(value: number, what: string): number {
  if (!Number.isInteger(value) || value < -0x8000 || value > 0x7fff) {
    throw new RangeError(`Invalid ${what}: ${value} does not fit in a signed 16-bit offset`);
  }
  return value;
}
