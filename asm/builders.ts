/**
 * Builders: one function or method per instruction form, checking their arguments.
 *
 * @module
 */

import { Instruction, type MapLike, setConstant, toInt16, toInt32 } from "./instruction.ts";
import {
  ALUOp,
  AtomicOp,
  CallKind,
  Class,
  DWord,
  Endian,
  JumpOp,
  LoadImm64Op,
  Mode,
  Pseudo,
  Size,
  Source,
} from "./opcode.ts";
import { checkRegister, R0, type Register } from "./register.ts";

/** A jump target: a symbol name resolved at marshal time, or a raw offset in slots. */
export type Target = string | number;

function checkSize(size: unknown, allowDWord = true): Size {
  if (
    size !== Size.Word && size !== Size.Half && size !== Size.Byte &&
    !(allowDWord && size === Size.DWord)
  ) {
    throw new RangeError(`Invalid size: ${String(size)}`);
  }
  return size as Size;
}

function checkName(name: unknown, what: string): string {
  if (typeof name !== "string" || name === "") {
    throw new TypeError(`Invalid ${what}: expected a non-empty string, got ${String(name)}`);
  }
  return name;
}

/** Sets the jump target of `ins` in `offset` (or `imm` when `inImm`). */
function withTarget(ins: Instruction, target: Target, inImm: boolean): Instruction {
  if (typeof target === "string") {
    ins.reference = checkName(target, "jump target");
    // A placeholder that no valid program uses; marshal replaces it.
    if (inImm) ins.imm = -1;
    else ins.offset = -1;
  } else if (inImm) {
    ins.imm = toInt32(target, "jump offset");
  } else {
    ins.offset = toInt16(target, "jump offset");
  }
  return ins;
}

/**
 * The builders of one ALU operation: `Imm` and `Reg` for 64-bit arithmetic (ALU64),
 * `Imm32` and `Reg32` for 32-bit arithmetic (ALU), which zero-extends into the register.
 */
export class ALUBuilder {
  /** The operation bits. */
  readonly op: number;
  /** The `offset` field that selects a variant (1 for signed division and modulo). */
  readonly variant: number;
  readonly #name: string;

  /** Makes the builders of an operation; `variant` goes into `offset`. */
  constructor(op: number, name: string, variant = 0) {
    this.op = op;
    this.variant = variant;
    this.#name = name;
  }

  #make(cls: number, source: number, dst: Register, src: Register, imm: number): Instruction {
    return Instruction(
      cls | this.op | source,
      checkRegister(dst, "destination register"),
      src,
      this.variant,
      imm,
    );
  }

  #reg(cls: number, dst: Register, src: Register): Instruction {
    if (this.op === ALUOp.Neg) {
      throw new TypeError(`${this.#name} takes no source register: use ${this.#name}.Imm`);
    }
    return this.#make(cls, Source.Reg, dst, checkRegister(src, "source register"), 0);
  }

  /** `dst op= value` on 64 bits; the 32-bit value is sign-extended. */
  Imm(dst: Register, value: number | bigint = 0): Instruction {
    return this.#make(Class.ALU64, Source.Imm, dst, 0, toInt32(value, "immediate"));
  }

  /** `dst op= src` on 64 bits. */
  Reg(dst: Register, src: Register): Instruction {
    return this.#reg(Class.ALU64, dst, src);
  }

  /** `wdst op= value` on 32 bits. */
  Imm32(dst: Register, value: number | bigint = 0): Instruction {
    return this.#make(Class.ALU, Source.Imm, dst, 0, toInt32(value, "immediate"));
  }

  /** `wdst op= wsrc` on 32 bits. */
  Reg32(dst: Register, src: Register): Instruction {
    return this.#reg(Class.ALU, dst, src);
  }
}

/** Addition. */
export const Add: ALUBuilder = new ALUBuilder(ALUOp.Add, "Add");
/** Subtraction. */
export const Sub: ALUBuilder = new ALUBuilder(ALUOp.Sub, "Sub");
/** Multiplication. */
export const Mul: ALUBuilder = new ALUBuilder(ALUOp.Mul, "Mul");
/** Unsigned division; division by zero gives 0. */
export const Div: ALUBuilder = new ALUBuilder(ALUOp.Div, "Div");
/** Signed division (ISA v4); division by zero gives 0. */
export const SDiv: ALUBuilder = new ALUBuilder(ALUOp.Div, "SDiv", 1);
/** Bitwise or. */
export const Or: ALUBuilder = new ALUBuilder(ALUOp.Or, "Or");
/** Bitwise and. */
export const And: ALUBuilder = new ALUBuilder(ALUOp.And, "And");
/** Left shift. */
export const LSh: ALUBuilder = new ALUBuilder(ALUOp.LSh, "LSh");
/** Logical right shift. */
export const RSh: ALUBuilder = new ALUBuilder(ALUOp.RSh, "RSh");
/** Negation: `Neg.Imm(dst)` and `Neg.Imm32(dst)`; the value is ignored. */
export const Neg: ALUBuilder = new ALUBuilder(ALUOp.Neg, "Neg");
/** Unsigned modulo; modulo by zero leaves dst unchanged. */
export const Mod: ALUBuilder = new ALUBuilder(ALUOp.Mod, "Mod");
/** Signed modulo (ISA v4); modulo by zero leaves dst unchanged. */
export const SMod: ALUBuilder = new ALUBuilder(ALUOp.Mod, "SMod", 1);
/** Bitwise exclusive or. */
export const Xor: ALUBuilder = new ALUBuilder(ALUOp.Xor, "Xor");
/** Move: `Mov.Imm(R0, 0)` sets r0 to 0, `Mov.Reg(R6, R1)` copies r1 into r6. */
export const Mov: ALUBuilder = new ALUBuilder(ALUOp.Mov, "Mov");
/** Arithmetic (sign-preserving) right shift. */
export const ArSh: ALUBuilder = new ALUBuilder(ALUOp.ArSh, "ArSh");

/** The builders of a sign-extending move (ISA v4): `Reg` on 64 bits, `Reg32` on 32 bits. */
export class MovSXBuilder {
  /** How many low bits of the source are sign-extended: 8, 16 or 32. */
  readonly bits: 8 | 16 | 32;

  /** Makes the builders for `bits`. */
  constructor(bits: 8 | 16 | 32) {
    this.bits = bits;
  }

  /** `dst = (s<bits>)src`, extended to 64 bits. */
  Reg(dst: Register, src: Register): Instruction {
    return Instruction(
      Class.ALU64 | ALUOp.Mov | Source.Reg,
      checkRegister(dst, "destination register"),
      checkRegister(src, "source register"),
      this.bits,
    );
  }

  /** `wdst = (s<bits>)wsrc`, extended to 32 bits (8 and 16 bits only). */
  Reg32(dst: Register, src: Register): Instruction {
    if (this.bits === 32) throw new TypeError("MovSX32 has no 32-bit form");
    return Instruction(
      Class.ALU | ALUOp.Mov | Source.Reg,
      checkRegister(dst, "destination register"),
      checkRegister(src, "source register"),
      this.bits,
    );
  }
}

/** Sign-extending move of the low 8 bits. */
export const MovSX8: MovSXBuilder = new MovSXBuilder(8);
/** Sign-extending move of the low 16 bits. */
export const MovSX16: MovSXBuilder = new MovSXBuilder(16);
/** Sign-extending move of the low 32 bits. */
export const MovSX32: MovSXBuilder = new MovSXBuilder(32);

function checkSwapWidth(bits: unknown): 16 | 32 | 64 {
  if (bits !== 16 && bits !== 32 && bits !== 64) {
    throw new RangeError(`Invalid byte swap width: expected 16, 32 or 64, got ${String(bits)}`);
  }
  return bits;
}

/** `dst = be<bits> dst`: converts between host order and big endian (a no-op on bpfeb). */
export function ToBE(dst: Register, bits: 16 | 32 | 64): Instruction {
  return Instruction(
    Class.ALU | ALUOp.End | Endian.BE,
    checkRegister(dst, "destination register"),
    0,
    0,
    checkSwapWidth(bits),
  );
}

/** `dst = le<bits> dst`: converts between host order and little endian. */
export function ToLE(dst: Register, bits: 16 | 32 | 64): Instruction {
  return Instruction(
    Class.ALU | ALUOp.End | Endian.LE,
    checkRegister(dst, "destination register"),
    0,
    0,
    checkSwapWidth(bits),
  );
}

/** `dst = bswap<bits> dst`: swaps the low `bits` bits unconditionally (ISA v4). */
export function BSwap(dst: Register, bits: 16 | 32 | 64): Instruction {
  return Instruction(
    Class.ALU64 | ALUOp.End,
    checkRegister(dst, "destination register"),
    0,
    0,
    checkSwapWidth(bits),
  );
}

/** `dst = addr_space_cast(src, dstAS, srcAS)`: converts a pointer between address spaces. */
export function AddrSpaceCast(
  dst: Register,
  src: Register,
  dstAddressSpace: number,
  srcAddressSpace: number,
): Instruction {
  for (const [v, what] of [[dstAddressSpace, "destination"], [srcAddressSpace, "source"]]) {
    if (!Number.isInteger(v) || (v as number) < 0 || (v as number) > 0xffff) {
      throw new RangeError(`Invalid ${what} address space: ${v}`);
    }
  }
  return Instruction(
    Class.ALU64 | ALUOp.Mov | Source.Reg,
    checkRegister(dst, "destination register"),
    checkRegister(src, "source register"),
    1,
    ((dstAddressSpace << 16) | srcAddressSpace) | 0,
  );
}

/**
 * The builders of one conditional jump. `target` is a symbol name (resolved when the
 * program is marshalled) or a raw offset in slots from the next instruction.
 */
export class JumpBuilder {
  /** The operation bits. */
  readonly op: number;

  /** Makes the builders of a jump operation. */
  constructor(op: number) {
    this.op = op;
  }

  #make(cls: number, source: number, dst: Register, src: Register, imm: number, to: Target) {
    const ins = Instruction(
      cls | this.op | source,
      checkRegister(dst, "destination register"),
      src,
      0,
      imm,
    );
    return withTarget(ins, to, false);
  }

  /** `if dst op value goto target`, comparing 64 bits with the sign-extended value. */
  Imm(dst: Register, value: number | bigint, target: Target): Instruction {
    return this.#make(Class.JMP, Source.Imm, dst, 0, toInt32(value, "immediate"), target);
  }

  /** `if dst op src goto target`, comparing 64 bits. */
  Reg(dst: Register, src: Register, target: Target): Instruction {
    return this.#make(Class.JMP, Source.Reg, dst, checkRegister(src, "source register"), 0, target);
  }

  /** `if wdst op value goto target`, comparing 32 bits. */
  Imm32(dst: Register, value: number | bigint, target: Target): Instruction {
    return this.#make(Class.JMP32, Source.Imm, dst, 0, toInt32(value, "immediate"), target);
  }

  /** `if wdst op wsrc goto target`, comparing 32 bits. */
  Reg32(dst: Register, src: Register, target: Target): Instruction {
    return this.#make(
      Class.JMP32,
      Source.Reg,
      dst,
      checkRegister(src, "source register"),
      0,
      target,
    );
  }
}

/** Jump if equal. */
export const JEq: JumpBuilder = new JumpBuilder(JumpOp.JEq);
/** Jump if not equal. */
export const JNE: JumpBuilder = new JumpBuilder(JumpOp.JNE);
/** Jump if greater (unsigned). */
export const JGT: JumpBuilder = new JumpBuilder(JumpOp.JGT);
/** Jump if greater or equal (unsigned). */
export const JGE: JumpBuilder = new JumpBuilder(JumpOp.JGE);
/** Jump if less (unsigned). */
export const JLT: JumpBuilder = new JumpBuilder(JumpOp.JLT);
/** Jump if less or equal (unsigned). */
export const JLE: JumpBuilder = new JumpBuilder(JumpOp.JLE);
/** Jump if greater (signed). */
export const JSGT: JumpBuilder = new JumpBuilder(JumpOp.JSGT);
/** Jump if greater or equal (signed). */
export const JSGE: JumpBuilder = new JumpBuilder(JumpOp.JSGE);
/** Jump if less (signed). */
export const JSLT: JumpBuilder = new JumpBuilder(JumpOp.JSLT);
/** Jump if less or equal (signed). */
export const JSLE: JumpBuilder = new JumpBuilder(JumpOp.JSLE);
/** Jump if `dst & operand` is not zero. */
export const JSet: JumpBuilder = new JumpBuilder(JumpOp.JSet);

/** The builders of unconditional jumps. */
export class JaBuilder {
  /** `goto target`, with a 16-bit offset. */
  Label(target: Target): Instruction {
    return withTarget(Instruction(Class.JMP | JumpOp.Ja), target, false);
  }

  /** `gotol target`, with a 32-bit offset (ISA v4). */
  Long(target: Target): Instruction {
    return withTarget(Instruction(Class.JMP32 | JumpOp.Ja), target, true);
  }

  /** `gotox dst`: jumps to the instruction address in `dst`, from an instruction array map. */
  Reg(dst: Register): Instruction {
    return Instruction(
      Class.JMP | JumpOp.Ja | Source.Reg,
      checkRegister(dst, "destination register"),
    );
  }
}

/** Unconditional jumps: `Ja.Label("out")`, `Ja.Long("far")`, `Ja.Reg(R1)`. */
export const Ja: JaBuilder = new JaBuilder();

/**
 * `may_goto target`: jumps to `target` once the kernel's loop budget runs out, and falls
 * through until then.
 */
export function MayGoto(target: Target): Instruction {
  return withTarget(Instruction(Class.JMP | JumpOp.JCond), target, false);
}

/** The builders of calls. */
export class CallBuilder {
  /** A call of a kernel helper by number; see also the `Fn…` constants. */
  Helper(id: number): Instruction {
    if (!Number.isInteger(id) || id < 0 || id > 0x7fffffff) {
      throw new RangeError(`Invalid helper number: ${id}`);
    }
    return Instruction(Class.JMP | JumpOp.Call, 0, CallKind.Helper, 0, id);
  }

  /** A bpf-to-bpf call of the function whose symbol is `target` (or at a raw offset). */
  Label(target: Target): Instruction {
    return withTarget(
      Instruction(Class.JMP | JumpOp.Call, 0, CallKind.Func),
      target,
      true,
    );
  }

  /**
   * A call of a kernel function: by name (the loader finds its BTF id) or by BTF id.
   * `btfIndex` selects the module BTF in the program's `fd_array` (0 for vmlinux).
   */
  Kfunc(function_: string | number, btfIndex = 0): Instruction {
    const ins = Instruction(
      Class.JMP | JumpOp.Call,
      0,
      CallKind.Kfunc,
      toInt16(btfIndex, "BTF index"),
    );
    if (typeof function_ === "string") ins.reference = checkName(function_, "kfunc name");
    else ins.imm = toInt32(function_, "BTF id");
    return ins;
  }

  /** `callx dst`: a call through a register (LLVM emits it; kernels do not accept it yet). */
  Reg(dst: Register): Instruction {
    return Instruction(
      Class.JMP | JumpOp.Call | Source.Reg,
      checkRegister(dst, "destination register"),
    );
  }
}

/** Calls: `Call.Helper(1)`, `Call.Label("subprog")`, `Call.Kfunc("bpf_obj_new_impl")`. */
export const Call: CallBuilder = new CallBuilder();

/** `exit`: returns r0 to the caller. */
export function Return(): Instruction {
  return Instruction(Class.JMP | JumpOp.Exit);
}

/** `dst = *(size *)(src + offset)`, zero-extending. */
export function LoadMem(dst: Register, src: Register, offset: number, size: Size): Instruction {
  return Instruction(
    Class.LDX | Mode.MEM | checkSize(size),
    checkRegister(dst, "destination register"),
    checkRegister(src, "source register"),
    toInt16(offset, "offset"),
  );
}

/** `dst = *(s<size> *)(src + offset)`, sign-extending (ISA v4; not for DWord). */
export function LoadMemSX(dst: Register, src: Register, offset: number, size: Size): Instruction {
  return Instruction(
    Class.LDX | Mode.MEMSX | checkSize(size, false),
    checkRegister(dst, "destination register"),
    checkRegister(src, "source register"),
    toInt16(offset, "offset"),
  );
}

/** `*(size *)(dst + offset) = src`. */
export function StoreMem(dst: Register, offset: number, src: Register, size: Size): Instruction {
  return Instruction(
    Class.STX | Mode.MEM | checkSize(size),
    checkRegister(dst, "destination register"),
    checkRegister(src, "source register"),
    toInt16(offset, "offset"),
  );
}

/** `*(size *)(dst + offset) = value`; a DWord store sign-extends the 32-bit value. */
export function StoreImm(
  dst: Register,
  offset: number,
  value: number | bigint,
  size: Size,
): Instruction {
  return Instruction(
    Class.ST | Mode.MEM | checkSize(size),
    checkRegister(dst, "destination register"),
    0,
    toInt16(offset, "offset"),
    toInt32(value, "immediate"),
  );
}

function loadImm64(dst: Register, pseudo: number, imm: number, immHi: number): Instruction {
  return Instruction(
    LoadImm64Op,
    checkRegister(dst, "destination register"),
    pseudo as Register,
    0,
    imm,
    immHi,
  );
}

/** `dst = value ll`: loads a 64-bit constant (two slots). */
export function LoadImm(dst: Register, value: bigint | number): Instruction {
  return setConstant(loadImm64(dst, Pseudo.None, 0, 0), value);
}

/**
 * Loads a map pointer into `dst`. `map` is the name of a map the loader resolves (stored as
 * `reference`), or an object with an `fd()` method whose fd is written at marshal time.
 */
export function LoadMapPtr(dst: Register, map: string | MapLike): Instruction {
  const ins = loadImm64(dst, Pseudo.MapFD, 0, 0);
  return attachMap(ins, map);
}

/** Loads the address of the value of an array map at `offset` into `dst` (direct value access). */
export function LoadMapValue(dst: Register, map: string | MapLike, offset = 0): Instruction {
  const ins = loadImm64(dst, Pseudo.MapValue, 0, toInt32(offset, "map value offset"));
  return attachMap(ins, map);
}

function attachMap(ins: Instruction, map: string | MapLike): Instruction {
  if (typeof map === "string") ins.reference = checkName(map, "map name");
  else if (map !== null && typeof map === "object" && typeof map.fd === "function") ins.map = map;
  else throw new TypeError("Invalid map: expected a name or an object with an fd() method");
  return ins;
}

/** Loads the map at `index` of the program's `fd_array` (`BPF_PSEUDO_MAP_IDX`). */
export function LoadMapPtrIndex(dst: Register, index: number): Instruction {
  return loadImm64(dst, Pseudo.MapIdx, toInt32(index, "map index"), 0);
}

/** Loads a value address of the map at `index` of `fd_array` (`BPF_PSEUDO_MAP_IDX_VALUE`). */
export function LoadMapValueIndex(dst: Register, index: number, offset = 0): Instruction {
  return loadImm64(
    dst,
    Pseudo.MapIdxValue,
    toInt32(index, "map index"),
    toInt32(offset, "map value offset"),
  );
}

/** Loads the address of the function whose symbol is `target` (`BPF_PSEUDO_FUNC`). */
export function LoadFuncPtr(dst: Register, target: Target): Instruction {
  return withTarget(loadImm64(dst, Pseudo.Func, 0, 0), target, true);
}

/**
 * Loads the address of a kernel variable (`BPF_PSEUDO_BTF_ID`): by name (the loader finds
 * its BTF id) or by BTF id, with `btfFd` naming a module's BTF (0 for vmlinux).
 */
export function LoadKernelVar(dst: Register, variable: string | number, btfFd = 0): Instruction {
  const ins = loadImm64(dst, Pseudo.BTFID, 0, toInt32(btfFd, "BTF fd"));
  if (typeof variable === "string") ins.reference = checkName(variable, "kernel variable");
  else ins.imm = toInt32(variable, "BTF id");
  return ins;
}

/** `r0 = *(size *)skb[offset]`: a legacy packet load in network byte order. */
export function LoadAbs(offset: number, size: Size): Instruction {
  return Instruction(
    Class.LD | Mode.ABS | checkSize(size, false),
    R0,
    0,
    0,
    toInt32(offset, "offset"),
  );
}

/** `r0 = *(size *)skb[src + offset]`: a legacy packet load in network byte order. */
export function LoadInd(src: Register, offset: number, size: Size): Instruction {
  return Instruction(
    Class.LD | Mode.IND | checkSize(size, false),
    R0,
    checkRegister(src, "source register"),
    0,
    toInt32(offset, "offset"),
  );
}

function atomic(
  op: number,
  dst: Register,
  offset: number,
  src: Register,
  size: Size,
  anySize = false,
): Instruction {
  checkSize(size);
  if (!anySize && size !== Size.Word && size !== DWord) {
    throw new RangeError("Invalid size: read-modify-write atomics take Word or DWord");
  }
  return Instruction(
    Class.STX | Mode.ATOMIC | size,
    checkRegister(dst, "destination register"),
    checkRegister(src, "source register"),
    toInt16(offset, "offset"),
    op,
  );
}

/**
 * The builders of atomic operations on memory at `dst + offset`. The `Fetch…` forms, `Xchg`
 * and `CmpXchg` return the old value in `src` (in r0 for `CmpXchg`, which compares with r0).
 */
export class AtomicBuilder {
  /** `lock *(size *)(dst + offset) += src`. */
  Add(dst: Register, offset: number, src: Register, size: Size = DWord): Instruction {
    return atomic(AtomicOp.Add, dst, offset, src, size);
  }

  /** `lock *(size *)(dst + offset) |= src`. */
  Or(dst: Register, offset: number, src: Register, size: Size = DWord): Instruction {
    return atomic(AtomicOp.Or, dst, offset, src, size);
  }

  /** `lock *(size *)(dst + offset) &= src`. */
  And(dst: Register, offset: number, src: Register, size: Size = DWord): Instruction {
    return atomic(AtomicOp.And, dst, offset, src, size);
  }

  /** `lock *(size *)(dst + offset) ^= src`. */
  Xor(dst: Register, offset: number, src: Register, size: Size = DWord): Instruction {
    return atomic(AtomicOp.Xor, dst, offset, src, size);
  }

  /** `src = atomic_fetch_add((size *)(dst + offset), src)`. */
  FetchAdd(dst: Register, offset: number, src: Register, size: Size = DWord): Instruction {
    return atomic(AtomicOp.FetchAdd, dst, offset, src, size);
  }

  /** `src = atomic_fetch_or((size *)(dst + offset), src)`. */
  FetchOr(dst: Register, offset: number, src: Register, size: Size = DWord): Instruction {
    return atomic(AtomicOp.FetchOr, dst, offset, src, size);
  }

  /** `src = atomic_fetch_and((size *)(dst + offset), src)`. */
  FetchAnd(dst: Register, offset: number, src: Register, size: Size = DWord): Instruction {
    return atomic(AtomicOp.FetchAnd, dst, offset, src, size);
  }

  /** `src = atomic_fetch_xor((size *)(dst + offset), src)`. */
  FetchXor(dst: Register, offset: number, src: Register, size: Size = DWord): Instruction {
    return atomic(AtomicOp.FetchXor, dst, offset, src, size);
  }

  /** `src = xchg(dst + offset, src)`. */
  Xchg(dst: Register, offset: number, src: Register, size: Size = DWord): Instruction {
    return atomic(AtomicOp.Xchg, dst, offset, src, size);
  }

  /** `r0 = cmpxchg(dst + offset, r0, src)`: stores src if memory equals r0. */
  CmpXchg(dst: Register, offset: number, src: Register, size: Size = DWord): Instruction {
    return atomic(AtomicOp.CmpXchg, dst, offset, src, size);
  }

  /** `dst = load_acquire((size *)(src + offset))` (any size). */
  LoadAcquire(dst: Register, src: Register, offset: number, size: Size = DWord): Instruction {
    return atomic(AtomicOp.LoadAcquire, dst, offset, src, size, true);
  }

  /** `store_release((size *)(dst + offset), src)` (any size). */
  StoreRelease(dst: Register, offset: number, src: Register, size: Size = DWord): Instruction {
    return atomic(AtomicOp.StoreRelease, dst, offset, src, size, true);
  }
}

/** Atomic operations: `Atomic.Add(R1, 0, R2, DWord)`, `Atomic.FetchAdd(…)`, … */
export const Atomic: AtomicBuilder = new AtomicBuilder();
