/**
 * The parts of an eBPF opcode byte: class, size and mode (loads and stores), source and
 * operation (ALU and jumps), and the values that live outside the opcode byte (atomic
 * operations in `imm`, pseudo sources in `src`).
 *
 * @module
 */

/** The instruction class: the low three bits of the opcode. */
export const Class = {
  /** Non-standard loads: imm64 and the legacy packet loads (ABS, IND). */
  LD: 0x00,
  /** Loads from memory into a register. */
  LDX: 0x01,
  /** Stores of an immediate into memory. */
  ST: 0x02,
  /** Stores of a register into memory, and atomic operations. */
  STX: 0x03,
  /** 32-bit arithmetic. */
  ALU: 0x04,
  /** 64-bit jumps, calls and exit. */
  JMP: 0x05,
  /** 32-bit jumps, and the long unconditional jump `gotol`. */
  JMP32: 0x06,
  /** 64-bit arithmetic. */
  ALU64: 0x07,
} as const;

/** An instruction class, one of {@linkcode Class}. */
export type Class = typeof Class[keyof typeof Class];

/** The access size of a load or store: bits 3–4 of the opcode. */
export const Size = {
  /** 4 bytes (`u32`). */
  Word: 0x00,
  /** 2 bytes (`u16`). */
  Half: 0x08,
  /** 1 byte (`u8`). */
  Byte: 0x10,
  /** 8 bytes (`u64`). */
  DWord: 0x18,
} as const;

/** A load or store size, one of {@linkcode Size}. */
export type Size = typeof Size[keyof typeof Size];

/** 1 byte (`u8`): shorthand for `Size.Byte`. */
export const Byte: Size = Size.Byte;
/** 2 bytes (`u16`): shorthand for `Size.Half`. */
export const Half: Size = Size.Half;
/** 4 bytes (`u32`): shorthand for `Size.Word`. */
export const Word: Size = Size.Word;
/** 8 bytes (`u64`): shorthand for `Size.DWord`. */
export const DWord: Size = Size.DWord;

/** The number of bytes a {@linkcode Size} accesses. */
export function sizeBytes(size: Size): 1 | 2 | 4 | 8 {
  switch (size) {
    case Size.Byte:
      return 1;
    case Size.Half:
      return 2;
    case Size.Word:
      return 4;
    default:
      return 8;
  }
}

/** The addressing mode of a load or store: bits 5–7 of the opcode. */
export const Mode = {
  /** A 64-bit immediate (LD class, DWord size). */
  IMM: 0x00,
  /** Legacy packet load at a constant offset. */
  ABS: 0x20,
  /** Legacy packet load at a register plus constant offset. */
  IND: 0x40,
  /** Regular memory access. */
  MEM: 0x60,
  /** Sign-extending memory load (LDX class, ISA v4). */
  MEMSX: 0x80,
  /** Atomic operation (STX class); the operation is in `imm`. */
  ATOMIC: 0xc0,
} as const;

/** A load or store mode, one of {@linkcode Mode}. */
export type Mode = typeof Mode[keyof typeof Mode];

/** Where the second operand of an ALU or jump instruction comes from: bit 3 of the opcode. */
export const Source = {
  /** The 32-bit immediate (`K`). */
  Imm: 0x00,
  /** The source register (`X`). */
  Reg: 0x08,
} as const;

/** An operand source, one of {@linkcode Source}. */
export type Source = typeof Source[keyof typeof Source];

/** The operation of an ALU or ALU64 instruction: bits 4–7 of the opcode. */
export const ALUOp = {
  Add: 0x00,
  Sub: 0x10,
  Mul: 0x20,
  /** Unsigned division; signed when `offset` is 1 (ISA v4). */
  Div: 0x30,
  Or: 0x40,
  And: 0x50,
  LSh: 0x60,
  RSh: 0x70,
  Neg: 0x80,
  /** Unsigned modulo; signed when `offset` is 1 (ISA v4). */
  Mod: 0x90,
  Xor: 0xa0,
  /** Move; sign-extending when `offset` is 8, 16 or 32 (ISA v4). */
  Mov: 0xb0,
  ArSh: 0xc0,
  /** Byte order conversion (ALU) or unconditional byte swap (ALU64); width in `imm`. */
  End: 0xd0,
} as const;

/** An ALU operation, one of {@linkcode ALUOp}. */
export type ALUOp = typeof ALUOp[keyof typeof ALUOp];

/** The operation of a JMP or JMP32 instruction: bits 4–7 of the opcode. */
export const JumpOp = {
  /** Unconditional jump (`goto`, and `gotol` in the JMP32 class). */
  Ja: 0x00,
  JEq: 0x10,
  JGT: 0x20,
  JGE: 0x30,
  JSet: 0x40,
  JNE: 0x50,
  JSGT: 0x60,
  JSGE: 0x70,
  Call: 0x80,
  Exit: 0x90,
  JLT: 0xa0,
  JLE: 0xb0,
  JSLT: 0xc0,
  JSLE: 0xd0,
  /** Conditional pseudo jump; `src` selects the condition (`may_goto` is 0). */
  JCond: 0xe0,
} as const;

/** A jump operation, one of {@linkcode JumpOp}. */
export type JumpOp = typeof JumpOp[keyof typeof JumpOp];

/** The operation of an atomic instruction, stored in `imm`. */
export const AtomicOp = {
  Add: 0x00,
  Or: 0x40,
  And: 0x50,
  Xor: 0xa0,
  FetchAdd: 0x01,
  FetchOr: 0x41,
  FetchAnd: 0x51,
  FetchXor: 0xa1,
  /** Exchange (always fetches). */
  Xchg: 0xe1,
  /** Compare and exchange with R0 (always fetches). */
  CmpXchg: 0xf1,
  /** Load-acquire (any size). */
  LoadAcquire: 0x100,
  /** Store-release (any size). */
  StoreRelease: 0x110,
} as const;

/** An atomic operation, one of {@linkcode AtomicOp}. */
export type AtomicOp = typeof AtomicOp[keyof typeof AtomicOp];

/** The byte order conversions of `ALU | END`: bit 3 of the opcode. */
export const Endian = {
  /** Convert to or from little endian (`le16`, `le32`, `le64`). */
  LE: 0x00,
  /** Convert to or from big endian (`be16`, `be32`, `be64`). */
  BE: 0x08,
} as const;

/** What `src` of a 64-bit immediate load means: the pseudo sources. */
export const Pseudo = {
  /** A plain 64-bit constant. */
  None: 0,
  /** `imm` is a map fd; the register receives the map pointer. */
  MapFD: 1,
  /** `imm` is a map fd and the upper half an offset into its value. */
  MapValue: 2,
  /** `imm` is a BTF id of a kernel variable. */
  BTFID: 3,
  /** `imm` is the offset of a function; the register receives its address. */
  Func: 4,
  /** `imm` is an index into the `fd_array` of the program load. */
  MapIdx: 5,
  /** `imm` is an index into `fd_array` and the upper half an offset into the value. */
  MapIdxValue: 6,
} as const;

/** A pseudo source of a 64-bit immediate load, one of {@linkcode Pseudo}. */
export type Pseudo = typeof Pseudo[keyof typeof Pseudo];

/** What `src` of a call instruction means. */
export const CallKind = {
  /** A kernel helper; `imm` is its number. */
  Helper: 0,
  /** A bpf-to-bpf call; `imm` is the relative offset of the callee. */
  Func: 1,
  /** A kernel function; `imm` is its BTF id and `offset` selects the BTF (module). */
  Kfunc: 2,
} as const;

/** A call kind, one of {@linkcode CallKind}. */
export type CallKind = typeof CallKind[keyof typeof CallKind];

/** The opcode of a 64-bit immediate load (`LD | IMM | DW`), which takes two slots. */
export const LoadImm64Op = 0x18;

/** The class of an opcode. */
export function opClass(op: number): Class {
  return (op & 0x07) as Class;
}

/** The size bits of a load or store opcode. */
export function opSize(op: number): Size {
  return (op & 0x18) as Size;
}

/** The mode bits of a load or store opcode. */
export function opMode(op: number): Mode {
  return (op & 0xe0) as Mode;
}

/** The source bit of an ALU or jump opcode. */
export function opSource(op: number): Source {
  return (op & 0x08) as Source;
}

/** The operation bits of an ALU or jump opcode. */
export function opOperation(op: number): number {
  return op & 0xf0;
}

/** Whether an opcode belongs to the ALU or ALU64 class. */
export function isALU(op: number): boolean {
  const c = op & 0x07;
  return c === Class.ALU || c === Class.ALU64;
}

/** Whether an opcode belongs to the JMP or JMP32 class. */
export function isJumpClass(op: number): boolean {
  const c = op & 0x07;
  return c === Class.JMP || c === Class.JMP32;
}

/**
 * What the decoder knows about each opcode byte: 0 for an opcode the kernel does not define,
 * 1 for a complete opcode, 2 for one whose operation also depends on another field (`imm`
 * of atomics and byte swaps, `src` of imm64 loads, calls and conditional pseudo jumps).
 */
export const OPCODE_TABLE: Uint8Array = buildOpcodeTable();

function buildOpcodeTable(): Uint8Array {
  const t = new Uint8Array(256);
  // LD: imm64, and the legacy packet loads of 1, 2 and 4 bytes.
  t[LoadImm64Op] = 2;
  for (const size of [Size.Word, Size.Half, Size.Byte]) {
    t[Class.LD | Mode.ABS | size] = 1;
    t[Class.LD | Mode.IND | size] = 1;
  }
  for (const size of [Size.Word, Size.Half, Size.Byte, Size.DWord]) {
    t[Class.LDX | Mode.MEM | size] = 1;
    t[Class.ST | Mode.MEM | size] = 1;
    t[Class.STX | Mode.MEM | size] = 1;
    // Read-modify-write atomics need W or DW; load-acquire/store-release allow any size.
    t[Class.STX | Mode.ATOMIC | size] = 2;
  }
  for (const size of [Size.Word, Size.Half, Size.Byte]) t[Class.LDX | Mode.MEMSX | size] = 1;
  for (const cls of [Class.ALU, Class.ALU64]) {
    for (let op: number = ALUOp.Add; op <= ALUOp.ArSh; op += 0x10) {
      t[cls | op | Source.Imm] = 1;
      if (op !== ALUOp.Neg) t[cls | op | Source.Reg] = 1;
    }
  }
  t[Class.ALU | ALUOp.End | Endian.LE] = 2;
  t[Class.ALU | ALUOp.End | Endian.BE] = 2;
  t[Class.ALU64 | ALUOp.End | Endian.LE] = 2;
  for (const cls of [Class.JMP, Class.JMP32]) {
    for (let op: number = JumpOp.JEq; op <= JumpOp.JSLE; op += 0x10) {
      if (op === JumpOp.Call || op === JumpOp.Exit) continue;
      t[cls | op | Source.Imm] = 1;
      t[cls | op | Source.Reg] = 1;
    }
  }
  t[Class.JMP | JumpOp.Ja | Source.Imm] = 1;
  t[Class.JMP | JumpOp.Ja | Source.Reg] = 1; // gotox: indirect jump through a register
  t[Class.JMP32 | JumpOp.Ja | Source.Imm] = 1; // gotol
  t[Class.JMP | JumpOp.Call | Source.Imm] = 2;
  t[Class.JMP | JumpOp.Call | Source.Reg] = 1; // callx
  t[Class.JMP | JumpOp.Exit] = 1;
  t[Class.JMP | JumpOp.JCond] = 2;
  return t;
}

/** Whether `op` is a valid atomic operation for an access of `size`. */
export function isValidAtomic(imm: number, size: Size): boolean {
  switch (imm) {
    case AtomicOp.Add:
    case AtomicOp.Or:
    case AtomicOp.And:
    case AtomicOp.Xor:
    case AtomicOp.FetchAdd:
    case AtomicOp.FetchOr:
    case AtomicOp.FetchAnd:
    case AtomicOp.FetchXor:
    case AtomicOp.Xchg:
    case AtomicOp.CmpXchg:
      return size === Size.Word || size === Size.DWord;
    case AtomicOp.LoadAcquire:
    case AtomicOp.StoreRelease:
      return true;
    default:
      return false;
  }
}
