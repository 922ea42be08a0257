/**
 * A program as a list of instructions: encoding to and decoding from bytes in either byte
 * order, symbol resolution, iteration by raw offset, and disassembly.
 *
 * @module
 */

import { FormatError } from "../errors.ts";
import {
  type ByteOrder,
  copy,
  HOST_BYTE_ORDER,
  Instruction,
  isInstruction,
  isRelative,
  targetInImm,
} from "./instruction.ts";
import {
  CallKind,
  Class,
  isValidAtomic,
  JumpOp,
  LoadImm64Op,
  OPCODE_TABLE,
  Pseudo,
  type Size,
  Source,
} from "./opcode.ts";
import type { Register } from "./register.ts";
import {
  formatInstruction,
  type FormatOptions,
  formatProgram,
  type FormatStyle,
} from "./format.ts";

/** A label: gives its name as `symbol` to the instruction that follows it. */
export interface Label {
  /** The symbol name. */
  readonly label: string;
}

/**
 * A label for {@linkcode Instructions}' constructor: the next instruction gets `name` as its
 * symbol, so that jumps and calls can refer to it.
 *
 * @example
 * ```ts
 * import { asm } from "@ebpf/ebpf";
 * const { R0, Instructions, JEq, Label, Mov, Return } = asm;
 * const prog = new Instructions([
 *   Mov.Imm(R0, 0),
 *   JEq.Imm(R0, 0, "out"),
 *   Mov.Imm(R0, 1),
 *   Label("out"),
 *   Return(),
 * ]);
 * ```
 */
export function Label(name: string): Label {
  if (typeof name !== "string" || name === "") {
    throw new TypeError(`Invalid label: expected a non-empty string, got ${String(name)}`);
  }
  return { label: name };
}

/** One step of {@linkcode Instructions.iterate}. */
export interface InstructionAt {
  /** The instruction. */
  readonly instruction: Instruction;
  /** Its index in the list. */
  readonly index: number;
  /** Its raw offset in 8-byte slots: imm64 loads before it count twice. */
  readonly offset: number;
}

const HOST_LITTLE_ENDIAN = HOST_BYTE_ORDER === "little";

function checkByteOrder(order: unknown): ByteOrder {
  if (order !== "little" && order !== "big") {
    throw new TypeError(`Invalid byte order: expected "little" or "big", got ${String(order)}`);
  }
  return order;
}

function bswap32(x: number): number {
  return ((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24);
}

/** What `of` and `lazy` pass the constructor: it then makes no list of its own. */
const NO_ITEMS: Iterable<Instruction> = [];
/** The list of an `Instructions` between its constructor and `of` or `lazy`; never read. */
const NO_LIST: Instruction[] = [];

/** Whether every item of `items` is an instruction (no label, nothing else). */
function onlyInstructions(items: readonly unknown[]): items is Instruction[] {
  for (let i = 0; i < items.length; i++) {
    if (!isInstruction(items[i])) return false;
  }
  return true;
}

/**
 * An eBPF program: a mutable list of {@linkcode Instruction}s in `list`. Jumps and calls
 * may refer to symbols by name; {@linkcode Instructions.marshal} resolves them.
 *
 * @example
 * ```ts
 * import { asm } from "@ebpf/ebpf";
 * const prog = new asm.Instructions([asm.Mov.Imm(asm.R0, 0), asm.Return()]);
 * const bytes = prog.marshal("little");
 * const back = asm.Instructions.unmarshal(bytes, "little");
 * console.log(back.format("llvm"));
 * ```
 */
export class Instructions implements Iterable<Instruction> {
  /**
   * The list; for a program from {@linkcode Instructions.lazy}, what makes it until it has
   * run (one field rather than two: V8 makes objects with `#` fields slowly).
   */
  #list: Instruction[] | (() => Instruction[]) = NO_LIST;

  /**
   * Makes a program from instructions and {@linkcode Label}s; a label names the instruction
   * after it. The instructions are taken as they are, not copied.
   */
  constructor(items: Iterable<Instruction | Label> = []) {
    if (items === NO_ITEMS) return;
    // An array of instructions alone, the common case, is copied in one go: walking it
    // through the iterator protocol and pushing one by one took most of the time of
    // building a 1,000-instruction program.
    if (Array.isArray(items) && onlyInstructions(items)) {
      this.#list = items.slice();
      return;
    }
    const list: Instruction[] = [];
    let pending: string | undefined;
    for (const item of items) {
      if (isInstruction(item)) {
        if (pending !== undefined) {
          if (item.symbol !== undefined && item.symbol !== pending) {
            throw new TypeError(
              `Cannot label instruction ${list.length} "${pending}": it already has symbol "${item.symbol}"`,
            );
          }
          item.symbol = pending;
          pending = undefined;
        }
        list.push(item);
      } else if (item !== null && typeof item === "object" && typeof item.label === "string") {
        if (pending !== undefined) {
          throw new TypeError(
            `Cannot place label "${item.label}" right after label "${pending}": an instruction has one symbol`,
          );
        }
        pending = item.label;
      } else {
        throw new TypeError(`Invalid item ${list.length}: expected an Instruction or a Label`);
      }
    }
    if (pending !== undefined) {
      throw new TypeError(`Label "${pending}" is not followed by an instruction`);
    }
    this.#list = list;
  }

  /**
   * The instructions, in order. Change it freely. An accessor rather than a field so that
   * {@linkcode Instructions.lazy} programs can make it on first read; deep comparisons
   * (`assertEquals`) still see it, as they read a class's accessors.
   */
  get list(): Instruction[] {
    const list = this.#list;
    return typeof list === "function" ? this.#list = list() : list;
  }

  /** Wraps an existing array without copying it. */
  static of(list: Instruction[]): Instructions {
    const insns = new Instructions(NO_ITEMS);
    insns.#list = list;
    return insns;
  }

  /**
   * A program whose list `build` makes when it is first read, for readers of object files:
   * most callers never look at most programs' instructions. `build` runs at most once and
   * must not throw (check the input before, as the ELF reader does).
   */
  static lazy(build: () => Instruction[]): Instructions {
    const insns = new Instructions(NO_ITEMS);
    insns.#list = build;
    return insns;
  }

  /** The number of instructions (an imm64 load counts once). */
  get length(): number {
    return this.list.length;
  }

  /** The size in 8-byte slots (an imm64 load counts twice). */
  get slots(): number {
    let n = 0;
    for (const ins of this.list) n += ins.opcode === LoadImm64Op ? 2 : 1;
    return n;
  }

  /** Iterates over the instructions. */
  [Symbol.iterator](): Iterator<Instruction> {
    return this.list[Symbol.iterator]();
  }

  /** The instruction at `index`; negative indexes count from the end. */
  at(index: number): Instruction | undefined {
    return this.list.at(index);
  }

  /** Appends instructions and returns this program. */
  push(...instructions: Instruction[]): this {
    for (const ins of instructions) this.list.push(ins);
    return this;
  }

  /** A deep copy: every instruction is copied (metadata values are shared). */
  copy(): Instructions {
    const src = this.list;
    const out = new Array<Instruction>(src.length);
    for (let i = 0; i < src.length; i++) out[i] = copy(src[i]);
    return Instructions.of(out);
  }

  /** Iterates with each instruction's index and raw offset in slots. */
  *iterate(): Generator<InstructionAt, void, undefined> {
    let offset = 0;
    const list = this.list;
    for (let index = 0; index < list.length; index++) {
      const instruction = list[index];
      yield { instruction, index, offset };
      offset += instruction.opcode === LoadImm64Op ? 2 : 1;
    }
  }

  /** The raw offset in slots of every instruction, by index. */
  offsets(): Int32Array {
    const list = this.list;
    const out = new Int32Array(list.length);
    let offset = 0;
    for (let i = 0; i < list.length; i++) {
      out[i] = offset;
      offset += list[i].opcode === LoadImm64Op ? 2 : 1;
    }
    return out;
  }

  /** The index of the instruction at raw offset `offset`, or -1 if none starts there. */
  indexOfOffset(offset: number): number {
    const list = this.list;
    let at = 0;
    for (let i = 0; i < list.length && at <= offset; i++) {
      if (at === offset) return i;
      at += list[i].opcode === LoadImm64Op ? 2 : 1;
    }
    return -1;
  }

  /**
   * Every symbol and the raw offset (in slots) of the instruction it starts. Throws a
   * TypeError when two instructions carry the same symbol.
   */
  symbolOffsets(): Map<string, number> {
    const symbols = new Map<string, number>();
    const list = this.list;
    let offset = 0;
    for (let i = 0; i < list.length; i++) {
      const ins = list[i];
      if (ins.symbol !== undefined) addSymbol(symbols, ins.symbol, offset, this);
      offset += ins.opcode === LoadImm64Op ? 2 : 1;
    }
    return symbols;
  }

  /** The symbol names that instructions refer to but that no instruction here carries. */
  unresolvedReferences(): string[] {
    const symbols = this.symbolOffsets();
    const missing = new Set<string>();
    for (const ins of this.list) {
      if (ins.reference !== undefined && isRelative(ins) && !symbols.has(ins.reference)) {
        missing.add(ins.reference);
      }
    }
    return [...missing];
  }

  /**
   * Encodes the program. Jumps, bpf-to-bpf calls and function pointer loads with a
   * `reference` get their offset from the symbol they name; map loads with a `map` get its
   * fd. Throws a ReferenceError for a reference to a missing symbol, a TypeError for a
   * duplicate symbol, and a RangeError for an invalid field or a jump too far for its
   * encoding.
   */
  marshal(byteOrder: ByteOrder = "little"): Uint8Array {
    return encode(this, checkByteOrder(byteOrder));
  }

  /**
   * Decodes instructions. Throws a {@linkcode FormatError} (with the byte offset) for a
   * length that is not a multiple of 8, an unknown opcode or operation, a register above
   * 10, an invalid pseudo source, an imm64 load without a valid second half, or more than
   * {@linkcode MAX_INSTRUCTIONS} slots (the kernel's limit for one program).
   */
  static unmarshal(bytes: Uint8Array, byteOrder: ByteOrder = "little"): Instructions {
    const list: Instruction[] = [];
    decode(bytes, byteOrder, list, undefined);
    return Instructions.of(list);
  }

  /**
   * Checks encoded instructions as {@linkcode Instructions.unmarshal} does, throwing the same
   * {@linkcode FormatError}, without making any object (nor copying aligned input). Returns
   * the number of instructions. In bytes that pass, an instruction starts at each 8-byte
   * slot whose opcode byte is not 0: the second half of an imm64 load is the only slot
   * with a zero opcode.
   */
  static validate(bytes: Uint8Array, byteOrder: ByteOrder = "little"): number {
    return decode(bytes, byteOrder, undefined, undefined);
  }

  /**
   * The program in this library's own readable style: one instruction per line with its
   * raw offset, each symbol on a line of its own before the instruction it starts, and
   * source lines as `;` comments.
   */
  toString(): string {
    return formatProgram(this.list, "text");
  }

  /**
   * The program in the given style. `"llvm"` prints each instruction as
   * `llvm-objdump -d --no-show-raw-insn` does (`     0:\tr0 = 0x0`), without llvm's
   * `<symbol+offset>` annotation of jump targets; a symbol starts a block as in objdump.
   */
  format(style: FormatStyle = "text", options: FormatOptions = {}): string {
    return formatProgram(this.list, style, options);
  }
}

/**
 * The encoding of `insns` in the host's byte order, for BPF_PROG_LOAD: the bytes of
 * `marshal(HOST_BYTE_ORDER)`, as a view at the start of a buffer that may be longer (the
 * kernel reads only the slots it is told), which saves the copy that trims it. The buffer
 * is `into` when it has room for `insns` (16 bytes an instruction), else a new one; both
 * live outside the V8 heap, so the address can go into an attr.
 */
export function encodeForKernel(insns: Instructions, into?: ArrayBuffer): Uint8Array {
  return encode(insns, HOST_BYTE_ORDER, into);
}

/**
 * {@linkcode encodeForKernel} for a program that needs nothing from a loader, or undefined:
 * as soon as an instruction carries metadata or a source line, or has a reference that
 * neither a symbol of the program nor a map object resolves (a kfunc, kernel variable or
 * map by name), and when the encoding fails. The loader then does its usual work (and
 * reports any failure in its usual order); a plain program, such as an assembled one, is
 * read once instead of twice.
 */
export function encodePlainForKernel(
  insns: Instructions,
  into?: ArrayBuffer,
): Uint8Array | undefined {
  if (!HOST_LITTLE_ENDIAN) return undefined;
  try {
    return encode(insns, HOST_BYTE_ORDER, into, true);
  } catch {
    return undefined;
  }
}

/**
 * The encoder behind `marshal`: one pass, then the references patched. With `plainOnly`, it
 * gives up (returns undefined) at the first instruction that is not plain, as
 * {@linkcode encodePlainForKernel} says.
 */
function encode(
  insns: Instructions,
  order: ByteOrder,
  into?: ArrayBuffer,
  plainOnly?: false,
): Uint8Array;
function encode(
  insns: Instructions,
  order: ByteOrder,
  into: ArrayBuffer | undefined,
  plainOnly: boolean,
): Uint8Array | undefined;
function encode(
  insns: Instructions,
  order: ByteOrder,
  into: ArrayBuffer | undefined = undefined,
  plainOnly = false,
): Uint8Array | undefined {
  const list = insns.list;
  const n = list.length;
  if (!HOST_LITTLE_ENDIAN) return encodeWithDataView(list, order === "big", insns);
  // One pass over the instructions, with room for all of them to be imm64 loads: reading a
  // million objects twice costs more than trimming the buffer once.
  // A fresh ArrayBuffer lives outside the V8 heap: its address stays put for a syscall.
  const words = into !== undefined && into.byteLength >= n * 16
    ? new Int32Array(into, 0, n * 4)
    : new Int32Array(new ArrayBuffer(n * 16));
  const big = order === "big";
  let symbols: Map<string, number> | undefined;
  let pending: number[] | undefined;
  let w = 0;
  for (let i = 0; i < n; i++) {
    const ins = list[i];
    const op = ins.opcode;
    const dst = ins.dst;
    const src = ins.src;
    const off = ins.offset;
    const imm = ins.imm;
    if (ins.symbol !== undefined) {
      symbols ??= new Map();
      addSymbol(symbols, ins.symbol, w >>> 1, insns);
    }
    const ref = ins.reference;
    if (
      plainOnly &&
      (ins.meta !== undefined || ins.line !== undefined ||
        (ref !== undefined && ins.map === undefined && !isRelative(ins)))
    ) {
      return undefined;
    }
    if (ref !== undefined || ins.map !== undefined) (pending ??= []).push(i, w);
    if (
      OPCODE_TABLE[op] === 0 || (dst >>> 0) !== dst || dst > 10 || (src >>> 0) !== src ||
      src > 10 || ((off << 16) >> 16) !== off || (imm | 0) !== imm
    ) {
      invalidField(ins, i, off, imm);
    }
    if (big) {
      words[w] = op | (((dst << 4) | src) << 8) | (((off >>> 8) & 0xff) << 16) |
        ((off & 0xff) << 24);
      words[w + 1] = bswap32(imm);
    } else {
      words[w] = op | (((src << 4) | dst) << 8) | (off << 16);
      words[w + 1] = imm;
    }
    w += 2;
    if (op === LoadImm64Op) {
      const hi = ins.immHi;
      if ((hi | 0) !== hi) invalidField(ins, i, off, imm);
      words[w] = 0; // a reused buffer holds old words
      words[w + 1] = big ? bswap32(hi) : hi;
      w += 2;
    }
  }
  if (pending !== undefined) {
    // Symbols are all known now: patch the instructions that refer to one or to a map.
    for (let k = 0; k < pending.length; k += 2) {
      const i = pending[k];
      const at = pending[k + 1];
      const ins = list[i];
      const r = resolve(ins, i, at >>> 1, symbols);
      if (((r.offset << 16) >> 16) !== r.offset || (r.imm | 0) !== r.imm) {
        invalidField(ins, i, r.offset, r.imm);
      }
      const { opcode: op, dst, src } = ins;
      if (big) {
        words[at] = op | (((dst << 4) | src) << 8) | (((r.offset >>> 8) & 0xff) << 16) |
          ((r.offset & 0xff) << 24);
        words[at + 1] = bswap32(r.imm);
      } else {
        words[at] = op | (((src << 4) | dst) << 8) | (r.offset << 16);
        words[at + 1] = r.imm;
      }
    }
  }
  // marshal trims its result; the kernel's copy is read once, up to the slots it is told.
  return into === undefined
    ? new Uint8Array(words.buffer.slice(0, w * 4))
    : new Uint8Array(words.buffer, 0, w * 4);
}

/**
 * The most instructions (8-byte slots: a 64-bit immediate load takes two) the kernel loads
 * as one program, `BPF_COMPLEXITY_LIMIT_INSNS`. Decoding refuses longer streams up front,
 * so that a hostile section cannot make millions of objects before anything fails.
 */
export const MAX_INSTRUCTIONS = 1_000_000;

/**
 * `Instructions.validate` that also appends to `calls` the 8-byte slot of every call whose
 * source field says bpf-to-bpf call (either call opcode), in order: the ELF reader resolves
 * those, and finding them here saves it a second pass over the code. Internal: not
 * exported from `asm/mod.ts`.
 */
export function validateFindingCalls(
  bytes: Uint8Array,
  byteOrder: ByteOrder,
  calls: number[],
): number {
  return decode(bytes, byteOrder, undefined, calls);
}

/**
 * The one decoding loop: checks every instruction and, when `list` is given, appends it;
 * when `calls` is, the slots of bpf-to-bpf calls (see {@linkcode validateFindingCalls}).
 * Returns the number of instructions.
 */
function decode(
  bytes: Uint8Array,
  byteOrder: ByteOrder,
  list: Instruction[] | undefined,
  calls: number[] | undefined,
): number {
  const order = checkByteOrder(byteOrder);
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError("Invalid instructions: expected a Uint8Array");
  }
  const length = bytes.byteLength;
  if (length % 8 !== 0) {
    throw new FormatError(
      `Instructions are truncated: ${length} bytes is not a multiple of 8`,
      length - (length % 8),
    );
  }
  if (length > MAX_INSTRUCTIONS * 8) {
    throw new FormatError(
      `${length / 8} instruction slots are more than the kernel loads as one program ` +
        `(${MAX_INSTRUCTIONS}, its BPF_COMPLEXITY_LIMIT_INSNS)`,
      MAX_INSTRUCTIONS * 8,
    );
  }
  if (!HOST_LITTLE_ENDIAN) return decodeWithDataView(bytes, order === "big", list, calls);
  // Reading whole words needs 4-byte alignment; copy the rare unaligned input once.
  const aligned = (bytes.byteOffset & 3) === 0 ? bytes : bytes.slice();
  const words = new Int32Array(aligned.buffer, aligned.byteOffset, length >>> 2);
  const nwords = words.length;
  const big = order === "big";
  let count = 0;
  for (let w = 0; w < nwords; w += 2) {
    const w0 = words[w];
    // Checking only, the common instruction (a complete opcode, registers up to r10) is one
    // test of two table entries.
    if (list === undefined && !big) {
      const regs = (w0 >>> 8) & 0xff;
      if ((OPCODE_TABLE[w0 & 0xff] & REGISTERS_OK[regs]) === 1) {
        count++;
        // `callx` passes that test; with the pseudo-call source it counts as a bpf-to-bpf
        // call as `call` does (either source, as below and for big-endian code).
        if (calls !== undefined && (w0 & 0xff) === CALLX_OP && regs >>> 4 === CallKind.Func) {
          calls.push(w >>> 1);
        }
        continue;
      }
      // Calls and 64-bit immediate loads, most of what that test leaves, by a test of their
      // own: the checks below cost several times as much.
      const op = w0 & 0xff;
      if (op === CALL_OP && CALL_REGISTERS_OK[regs] === 1) {
        count++;
        if (calls !== undefined && regs >>> 4 === CallKind.Func) calls.push(w >>> 1);
        continue;
      }
      if (
        op === LoadImm64Op && LOAD_IMM64_REGISTERS_OK[regs] === 1 && w + 2 < nwords &&
        words[w + 2] === 0
      ) {
        count++;
        w += 2;
        continue;
      }
    }
    let imm = words[w + 1];
    const op = w0 & 0xff;
    let dst: number, src: number, off: number;
    if (big) {
      dst = (w0 >>> 12) & 0xf;
      src = (w0 >>> 8) & 0xf;
      off = ((((w0 >>> 16) & 0xff) << 24) | ((w0 >>> 24) << 16)) >> 16;
      imm = bswap32(imm);
    } else {
      dst = (w0 >>> 8) & 0xf;
      src = (w0 >>> 12) & 0xf;
      off = w0 >> 16;
    }
    count++;
    const kind = OPCODE_TABLE[op];
    if (kind !== 1 || dst > 10 || src > 10) {
      checkDecoded(op, dst, src, imm, w * 4);
      if (op === LoadImm64Op) {
        if (w + 2 >= nwords) {
          throw new FormatError(
            "Instructions are truncated: a 64-bit immediate load lacks its second half",
            w * 4,
          );
        }
        const second = words[w + 2];
        if (second !== 0) {
          throw new FormatError(
            "Invalid 64-bit immediate load: its second half must have zero opcode, registers and offset",
            w * 4 + 8,
          );
        }
        if (list !== undefined) {
          const hi = big ? bswap32(words[w + 3]) : words[w + 3];
          list.push(Instruction(op, dst as Register, src as Register, off, imm, hi));
        }
        w += 2;
        continue;
      }
    }
    if (calls !== undefined && (op & 0xf7) === CALL_OP && src === CallKind.Func) {
      calls.push(w >>> 1);
    }
    if (list !== undefined) {
      list.push(Instruction(op, dst as Register, src as Register, off, imm, 0));
    }
  }
  return count;
}

/** 1 for a little-endian registers byte whose both registers are r0…r10. */
const REGISTERS_OK = new Uint8Array(256);
for (let b = 0; b < 256; b++) REGISTERS_OK[b] = (b & 0xf) <= 10 && b >>> 4 <= 10 ? 1 : 0;

const CALL_OP = Class.JMP | JumpOp.Call;
/** `callx`: the call opcode with the register source bit. */
const CALLX_OP = CALL_OP | Source.Reg;
/** 1 for a little-endian registers byte of a call that checkDecoded accepts. */
const CALL_REGISTERS_OK = new Uint8Array(256);
/** 1 for a little-endian registers byte of a 64-bit immediate load that checkDecoded accepts. */
const LOAD_IMM64_REGISTERS_OK = new Uint8Array(256);
for (let b = 0; b < 256; b++) {
  const dst = b & 0xf;
  const src = b >>> 4;
  CALL_REGISTERS_OK[b] = dst <= 10 && src <= CallKind.Kfunc ? 1 : 0;
  LOAD_IMM64_REGISTERS_OK[b] = dst <= 10 && src <= Pseudo.MapIdxValue ? 1 : 0;
}

function addSymbol(
  symbols: Map<string, number>,
  name: string,
  offset: number,
  insns: Instructions,
) {
  const seen = symbols.get(name);
  if (seen !== undefined) {
    throw new TypeError(
      `Duplicate symbol "${name}": instructions at offsets ${seen} and ${offset} both carry it`,
      { cause: insns },
    );
  }
  symbols.set(name, offset);
}

const resolved = { offset: 0, imm: 0 };

/** The offset and imm of `ins` once its reference and map are resolved. */
function resolve(
  ins: Instruction,
  index: number,
  at: number,
  symbols: Map<string, number> | undefined,
): { offset: number; imm: number } {
  resolved.offset = ins.offset;
  resolved.imm = ins.imm;
  const ref = ins.reference;
  if (ref !== undefined && isRelative(ins)) {
    const target = symbols?.get(ref);
    if (target === undefined) {
      throw new ReferenceError(
        `Cannot resolve reference "${ref}" of instruction ${index} (${
          formatInstruction(ins)
        }): no instruction has this symbol`,
      );
    }
    const delta = target - at - 1;
    if (targetInImm(ins)) {
      resolved.imm = delta;
    } else {
      if (delta < -0x8000 || delta > 0x7fff) {
        const hint = ins.opcode === (Class.JMP | JumpOp.Ja) ? "; use Ja.Long (gotol)" : "";
        throw new RangeError(
          `Jump from instruction ${index} to "${ref}" is out of range: ${delta} does not fit in a 16-bit offset${hint}`,
        );
      }
      resolved.offset = delta;
    }
  }
  const map = ins.map;
  if (map !== undefined && ins.opcode === LoadImm64Op) {
    if (ins.src === Pseudo.MapFD || ins.src === Pseudo.MapValue) {
      const fd = map.fd();
      if (!Number.isInteger(fd) || fd < 0 || fd > 0x7fffffff) {
        throw new RangeError(`Invalid fd ${fd} of the map of instruction ${index}`);
      }
      resolved.imm = fd;
    }
  }
  return resolved;
}

function invalidField(ins: Instruction, index: number, off: number, imm: number): never {
  const where = `instruction ${index}`;
  if (OPCODE_TABLE[ins.opcode] === 0 || (ins.opcode >>> 0) !== ins.opcode) {
    throw new RangeError(`Invalid opcode 0x${hex(ins.opcode)} in ${where}`);
  }
  if ((ins.dst >>> 0) !== ins.dst || ins.dst > 10) {
    throw new RangeError(`Invalid destination register ${ins.dst} in ${where}`);
  }
  if ((ins.src >>> 0) !== ins.src || ins.src > 10) {
    throw new RangeError(`Invalid source register ${ins.src} in ${where}`);
  }
  if (((off << 16) >> 16) !== off) {
    throw new RangeError(`Invalid offset ${off} in ${where}: it does not fit in 16 bits`);
  }
  if ((imm | 0) !== imm) {
    throw new RangeError(`Invalid immediate ${imm} in ${where}: it does not fit in 32 bits`);
  }
  throw new RangeError(
    `Invalid upper immediate ${ins.immHi} in ${where}: it does not fit in 32 bits`,
  );
}

function hex(n: number): string {
  return n.toString(16).padStart(2, "0");
}

/** Checks an instruction the fast path did not accept at once; throws a FormatError. */
function checkDecoded(op: number, dst: number, src: number, imm: number, at: number): void {
  const kind = OPCODE_TABLE[op];
  if (kind === 0) throw new FormatError(`Unknown opcode 0x${hex(op)}`, at);
  if (dst > 10) throw new FormatError(`Invalid destination register r${dst}`, at + 1);
  if (src > 10) throw new FormatError(`Invalid source register r${src}`, at + 1);
  const cls = op & 0x07;
  if (op === LoadImm64Op) {
    if (src > Pseudo.MapIdxValue) {
      throw new FormatError(`Unknown pseudo source ${src} of a 64-bit immediate load`, at + 1);
    }
  } else if (cls === Class.STX) {
    if (!isValidAtomic(imm, (op & 0x18) as Size)) {
      throw new FormatError(
        `Unknown atomic operation 0x${imm.toString(16)} for opcode 0x${hex(op)}`,
        at + 4,
      );
    }
  } else if (cls === Class.ALU || cls === Class.ALU64) {
    if (imm !== 16 && imm !== 32 && imm !== 64) {
      throw new FormatError(`Invalid byte swap width ${imm}: expected 16, 32 or 64`, at + 4);
    }
  } else if (op === (Class.JMP | JumpOp.Call)) {
    if (src > CallKind.Kfunc) throw new FormatError(`Unknown call kind ${src}`, at + 1);
  } else if (op === (Class.JMP | JumpOp.JCond)) {
    if (src !== 0) throw new FormatError(`Unknown conditional pseudo jump ${src}`, at + 1);
  }
}

// The same codec through a DataView, for big-endian hosts.

function encodeWithDataView(list: Instruction[], big: boolean, insns: Instructions): Uint8Array {
  let slots = 0;
  let symbols: Map<string, number> | undefined;
  for (const ins of list) {
    if (ins.symbol !== undefined) addSymbol(symbols ??= new Map(), ins.symbol, slots, insns);
    slots += ins.opcode === LoadImm64Op ? 2 : 1;
  }
  const out = new Uint8Array(slots * 8);
  const view = new DataView(out.buffer);
  const le = !big;
  let at = 0;
  for (let i = 0; i < list.length; i++) {
    const ins = list[i];
    let off = ins.offset;
    let imm = ins.imm;
    if (ins.reference !== undefined || ins.map !== undefined) {
      const r = resolve(ins, i, at >>> 3, symbols);
      off = r.offset;
      imm = r.imm;
    }
    const { opcode: op, dst, src } = ins;
    if (
      OPCODE_TABLE[op] === 0 || (dst >>> 0) !== dst || dst > 10 || (src >>> 0) !== src ||
      src > 10 || ((off << 16) >> 16) !== off || (imm | 0) !== imm
    ) {
      invalidField(ins, i, off, imm);
    }
    view.setUint8(at, op);
    view.setUint8(at + 1, big ? (dst << 4) | src : (src << 4) | dst);
    view.setInt16(at + 2, off, le);
    view.setInt32(at + 4, imm, le);
    at += 8;
    if (op === LoadImm64Op) {
      if ((ins.immHi | 0) !== ins.immHi) invalidField(ins, i, off, imm);
      view.setInt32(at + 4, ins.immHi, le);
      at += 8;
    }
  }
  return out;
}

function decodeWithDataView(
  bytes: Uint8Array,
  big: boolean,
  list: Instruction[] | undefined,
  calls: number[] | undefined,
): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const le = !big;
  let count = 0;
  for (let at = 0; at < bytes.byteLength; at += 8) {
    const op = view.getUint8(at);
    const regs = view.getUint8(at + 1);
    const dst = big ? regs >>> 4 : regs & 0xf;
    const src = big ? regs & 0xf : regs >>> 4;
    const off = view.getInt16(at + 2, le);
    const imm = view.getInt32(at + 4, le);
    checkDecoded(op, dst, src, imm, at);
    if (calls !== undefined && (op & 0xf7) === CALL_OP && src === CallKind.Func) {
      calls.push(at >>> 3);
    }
    let hi = 0;
    if (op === LoadImm64Op) {
      if (at + 8 >= bytes.byteLength) {
        throw new FormatError(
          "Instructions are truncated: a 64-bit immediate load lacks its second half",
          at,
        );
      }
      if (view.getUint32(at + 8) !== 0) {
        throw new FormatError(
          "Invalid 64-bit immediate load: its second half must have zero opcode, registers and offset",
          at + 8,
        );
      }
      hi = view.getInt32(at + 12, le);
      at += 8;
    }
    count++;
    list?.push(Instruction(op, dst as Register, src as Register, off, imm, hi));
  }
  return count;
}
