/**
 * One eBPF instruction: its raw fields and the metadata the loader needs.
 *
 * @module
 */

import { ALUOp, CallKind, Class, JumpOp, LoadImm64Op, Mode, Pseudo } from "./opcode.ts";
import type { Register } from "./register.ts";
import { formatInstruction, type FormatOptions, type FormatStyle } from "./format.ts";

/** The byte order of encoded instructions: `"little"` (bpfel) or `"big"` (bpfeb). */
export type ByteOrder = "little" | "big";

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

const INT32_MIN = -0x80000000;
const UINT32_MAX = 0xffffffff;

/**
 * One eBPF instruction. The fields are the raw encoding (`opcode`, `dst`, `src`, `offset`,
 * `imm`, and `immHi` for the upper half of a 64-bit immediate load) plus metadata:
 * `symbol` (the function or label that starts here), `reference` (the symbol a jump, call,
 * function pointer, map load or kfunc call refers to), `map` (a map object whose fd the
 * marshaller writes), `line` (the source line) and `meta` (anything else later stages
 * attach, such as CO-RE relocations).
 *
 * Instructions are plain mutable objects; {@linkcode Instruction.copy} is cheap and keeps
 * all metadata. The constructor takes the fields as given and does not validate them;
 * {@linkcode Instructions.marshal} does.
 *
 * @example
 * ```ts
 * import { asm } from "@ebpf/ebpf";
 * const ins = asm.Mov.Imm(asm.R0, 42);
 * console.log(ins.toString()); // "r0 = 42"
 * ```
 */
export class Instruction {
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

  /** Makes an instruction from its raw fields, without metadata. */
  constructor(
    opcode: number,
    dst: Register = 0,
    src: Register = 0,
    offset = 0,
    imm = 0,
    immHi = 0,
  ) {
    this.opcode = opcode;
    this.dst = dst;
    this.src = src;
    this.offset = offset;
    this.imm = imm;
    this.immHi = immHi;
    this.symbol = undefined;
    this.reference = undefined;
    this.map = undefined;
    this.line = undefined;
    this.meta = undefined;
  }

  /** A copy with the same fields and metadata (metadata objects are shared, not cloned). */
  copy(): Instruction {
    const c = new Instruction(this.opcode, this.dst, this.src, this.offset, this.imm, this.immHi);
    c.symbol = this.symbol;
    c.reference = this.reference;
    c.map = this.map;
    c.line = this.line;
    c.meta = this.meta;
    return c;
  }

  /**
   * The constant of the instruction as a bigint: the 64-bit value of an imm64 load, or the
   * sign-extended 32-bit immediate of any other instruction.
   */
  get constant(): bigint {
    if (this.opcode === LoadImm64Op) {
      return (BigInt(this.immHi) << 32n) | BigInt(this.imm >>> 0);
    }
    return BigInt(this.imm);
  }

  /**
   * Sets the constant. An imm64 load takes any value that fits in 64 bits (signed or
   * unsigned); other instructions take a value that fits in 32 bits, and values from 2³¹ to
   * 2³²−1 are stored as their two's complement.
   */
  set constant(value: bigint | number) {
    if (this.opcode === LoadImm64Op) {
      const v = typeof value === "bigint" ? value : BigInt(checkInteger(value, "constant"));
      if (v < -(1n << 63n) || v >= (1n << 64n)) {
        throw new RangeError(`Constant out of range for a 64-bit immediate: ${v}`);
      }
      this.imm = Number(BigInt.asIntN(32, v));
      this.immHi = Number(BigInt.asIntN(32, v >> 32n));
      return;
    }
    this.imm = toInt32(value, "constant");
  }

  /** How many 8-byte slots the instruction takes: 2 for an imm64 load, 1 otherwise. */
  get slots(): 1 | 2 {
    return this.opcode === LoadImm64Op ? 2 : 1;
  }

  /** Whether this is a 64-bit immediate load (`LD | IMM | DW`), of any pseudo source. */
  isDWordLoad(): boolean {
    return this.opcode === LoadImm64Op;
  }

  /** Whether this loads a plain 64-bit constant (pseudo source none). */
  isConstantLoad(): boolean {
    return this.opcode === LoadImm64Op && this.src === Pseudo.None;
  }

  /** Whether this loads a map pointer or map value address (by fd or by fd_array index). */
  isLoadFromMap(): boolean {
    if (this.opcode !== LoadImm64Op) return false;
    const s = this.src;
    return s === Pseudo.MapFD || s === Pseudo.MapValue || s === Pseudo.MapIdx ||
      s === Pseudo.MapIdxValue;
  }

  /** Whether this loads the address of a function (`ld_imm64` with `BPF_PSEUDO_FUNC`). */
  isLoadOfFunctionPointer(): boolean {
    return this.opcode === LoadImm64Op && this.src === Pseudo.Func;
  }

  /** Whether this is a call of any kind (helper, bpf-to-bpf, kfunc, or through a register). */
  isCall(): boolean {
    return (this.opcode & 0xf7) === (Class.JMP | JumpOp.Call);
  }

  /** Whether this calls a kernel helper. */
  isBuiltinCall(): boolean {
    return this.opcode === (Class.JMP | JumpOp.Call) && this.src === CallKind.Helper;
  }

  /** Whether this is a bpf-to-bpf call of another function of the program. */
  isFunctionCall(): boolean {
    return this.opcode === (Class.JMP | JumpOp.Call) && this.src === CallKind.Func;
  }

  /** Whether this calls a kernel function (kfunc) by BTF id. */
  isKfuncCall(): boolean {
    return this.opcode === (Class.JMP | JumpOp.Call) && this.src === CallKind.Kfunc;
  }

  /** Whether this is `exit`. */
  isExit(): boolean {
    return this.opcode === (Class.JMP | JumpOp.Exit);
  }

  /**
   * Whether this is a jump with a target encoded in the instruction: `goto`, `gotol`,
   * `may_goto` and every conditional jump (not calls, `exit` or `gotox`).
   */
  isJump(): boolean {
    const op = this.opcode;
    const cls = op & 0x07;
    if (cls !== Class.JMP && cls !== Class.JMP32) return false;
    const jop = op & 0xf0;
    if (jop === JumpOp.Call || jop === JumpOp.Exit) return false;
    return op !== (Class.JMP | JumpOp.Ja | 0x08);
  }

  /**
   * Whether the target of this instruction is a relative instruction offset resolved from
   * `reference` at marshal time: jumps, bpf-to-bpf calls and function pointer loads.
   */
  isRelative(): boolean {
    return this.isJump() || this.isFunctionCall() || this.isLoadOfFunctionPointer();
  }

  /** Whether the jump distance lives in `imm` rather than `offset` (`gotol`, calls, func loads). */
  targetInImm(): boolean {
    return this.opcode === (Class.JMP32 | JumpOp.Ja) || this.isFunctionCall() ||
      this.isLoadOfFunctionPointer();
  }

  /** Whether this is an ALU instruction that operates on 32 bits (`ALU` rather than `ALU64`). */
  isALU32(): boolean {
    return (this.opcode & 0x07) === Class.ALU;
  }

  /** Whether this is a signed division or modulo (ISA v4). */
  isSigned(): boolean {
    const op = this.opcode & 0xf0;
    const cls = this.opcode & 0x07;
    return (cls === Class.ALU || cls === Class.ALU64) &&
      (op === ALUOp.Div || op === ALUOp.Mod) && this.offset === 1;
  }

  /** Whether this is a memory load (LDX, including sign-extending loads). */
  isLoad(): boolean {
    const cls = this.opcode & 0x07;
    const mode = this.opcode & 0xe0;
    return cls === Class.LDX && (mode === Mode.MEM || mode === Mode.MEMSX);
  }

  /** Sets `symbol` and returns this instruction, for chaining after a builder. */
  withSymbol(name: string | undefined): this {
    this.symbol = name;
    return this;
  }

  /** Sets `reference` and returns this instruction. */
  withReference(name: string | undefined): this {
    this.reference = name;
    return this;
  }

  /** Sets `map` and returns this instruction. */
  withMap(map: MapLike | undefined): this {
    this.map = map;
    return this;
  }

  /** Sets `line` and returns this instruction. */
  withLine(line: SourceLine | undefined): this {
    this.line = line;
    return this;
  }

  /** Returns the metadata value stored under `key`. */
  getMeta(key: string): unknown {
    return this.meta?.[key];
  }

  /**
   * Stores a metadata value under `key` (undefined removes it) and returns this instruction.
   * The metadata object is replaced, never changed in place, so copies stay independent.
   */
  setMeta(key: string, value: unknown): this {
    const next: Record<string, unknown> = { ...this.meta };
    if (value === undefined) delete next[key];
    else next[key] = value;
    this.meta = Object.keys(next).length === 0 ? undefined : next;
    return this;
  }

  /** Whether two instructions have the same encoding (metadata is not compared). */
  equals(other: Instruction): boolean {
    return this.opcode === other.opcode && this.dst === other.dst && this.src === other.src &&
      this.offset === other.offset && this.imm === other.imm && this.immHi === other.immHi;
  }

  /** The instruction in this library's own readable style, such as `r0 = 42`. */
  toString(): string {
    return formatInstruction(this, "text");
  }

  /**
   * The instruction in the given style: `"text"` is {@linkcode Instruction.toString}'s,
   * `"llvm"` prints what `llvm-objdump -d` prints for it (without the address and without
   * llvm's `<symbol+offset>` annotation of jump targets).
   */
  format(style: FormatStyle = "text", options: FormatOptions = {}): string {
    return formatInstruction(this, style, options);
  }
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
  if (!Number.isInteger(n) || n < INT32_MIN || n > UINT32_MAX) {
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
