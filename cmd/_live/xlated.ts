/**
 * Translated (xlated) instructions as `bpftool prog dump xlated` prints them: the kernel's
 * own disassembly syntax (kernel/bpf/disasm.c: `(b7) r1 = 1`, `(85) call pc+3#name`), map
 * references as `map[id:N]`, calls named through /proc/kallsyms, each function's prototype
 * and the C source line above the instructions it produced.
 *
 * The instructions are read as the kernel hands them out, in host byte order, without going
 * through `asm.Instructions`: xlated code holds opcodes that only the verifier writes
 * (`nospec`, per-CPU address moves), which a BPF assembler has no business accepting.
 *
 * @module
 */

import { helperName, HOST_BYTE_ORDER } from "../../asm/mod.ts";
import { ALU_SYMBOLS, JUMP_SYMBOLS } from "../../asm/_operators.ts";

/** One record of what `prog dump xlated` prints, in bpftool's JSON field names. */
export interface XlatedLine {
  /** The function that starts here, as C: `int count_hit(__u32 slot)`. */
  proto?: string;
  /** The source line whose code starts here. */
  src?: string;
  /** Its file, line and column. */
  file?: string;
  line_num?: number;
  line_col?: number;
  /** The instruction in the kernel's syntax. */
  disasm: string;
  /** The slot index (an imm64 load takes two). */
  index: number;
}

/** A line info record of a loaded program, resolved through its BTF. */
export interface SourceLine {
  /** The instruction (slot) it starts at, in the translated code. */
  insnOff: number;
  /** The source text, as the compiler recorded it. */
  line: string;
  /** The file name. */
  file: string;
  lineNumber: number;
  column: number;
}

/** A func info record: where a function starts and its C prototype ("" when unknown). */
export interface FunctionStart {
  insnOff: number;
  proto: string;
}

/** What names calls: the program's JIT-compiled functions and kernel symbols. */
export interface CallNames {
  /** Kernel addresses of the program's functions, one per subprogram (`jited_ksyms`). */
  jitedKsyms: bigint[];
  /** The kernel symbol at an address, or undefined. */
  symbol(address: bigint): string | undefined;
  /** `__bpf_call_base`, which helper calls are relative to (0n when unknown). */
  callBase: bigint;
}

/** ALU operators, mov's `=` among them (neg and endian are printed as words before lookup). */
const ALU_OPS: Record<number, string> = { ...ALU_SYMBOLS, 0xb0: "=" };
const SIGNED_ALU_OPS: Record<number, string> = {
  0x30: `s${ALU_SYMBOLS[0x30]}`,
  0x90: `s${ALU_SYMBOLS[0x90]}`,
};
const MOVSX: Record<number, string> = { 8: "(s8)", 16: "(s16)", 32: "(s32)" };
/** disasm.c's `bpf_jmp_string`: the conditions, and the words of the other jump operations. */
const JMP_OPS: Record<number, string> = {
  ...JUMP_SYMBOLS,
  0x00: "jmp",
  0x80: "call",
  0x90: "exit",
};
const SIZES: Record<number, string> = { 0x00: "u32", 0x08: "u16", 0x10: "u8", 0x18: "u64" };
const SIGNED_SIZES: Record<number, string> = { 0x00: "s32", 0x08: "s16", 0x10: "s8" };
const ATOMIC_OPS: Record<number, string> = { 0x00: "add", 0x40: "or", 0x50: "and", 0xa0: "xor" };
const CLASSES = ["ld", "ldx", "st", "stx", "alu", "jmp", "jmp32", "alu64"];

const BPF_FETCH = 0x01;
const BPF_XCHG = 0xe0 | BPF_FETCH;
const BPF_CMPXCHG = 0xf0 | BPF_FETCH;
const BPF_LOAD_ACQ = 0x100;
const BPF_STORE_REL = 0x110;
const PSEUDO_MAP_FD = 1;
const PSEUDO_MAP_VALUE = 2;
const PSEUDO_CALL = 1;
const PSEUDO_FUNC = 4;

/** One raw instruction's fields. */
interface Raw {
  code: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
}

function readRaw(view: DataView, slot: number, little: boolean): Raw {
  const at = slot * 8;
  const regs = view.getUint8(at + 1);
  return {
    code: view.getUint8(at),
    dst: little ? regs & 0xf : regs >> 4,
    src: little ? regs >> 4 : regs & 0xf,
    off: view.getInt16(at + 2, little),
    imm: view.getInt32(at + 4, little),
  };
}

const hex2 = (n: number) => n.toString(16).padStart(2, "0");
const signed = (n: number) => (n < 0 ? `${n}` : `+${n}`);

/** The name bpftool gives a call's target (kernel/bpf/disasm.c with bpftool's callbacks). */
function callTarget(ins: Raw, names: CallNames): string {
  if (ins.src === 0 && ins.imm >= 0) {
    const helper = helperName(ins.imm);
    if (helper !== undefined) return helper;
  }
  let address = BigInt.asUintN(64, names.callBase + BigInt(ins.imm));
  if (ins.src === PSEUDO_CALL && ins.imm >= 0 && ins.imm < names.jitedKsyms.length) {
    address = names.jitedKsyms[ins.imm];
  }
  const sym = names.symbol(address);
  if (ins.src === PSEUDO_CALL) {
    if (names.jitedKsyms.length === 0) return signed(ins.off);
    return sym !== undefined
      ? `${signed(ins.off)}#${sym}`
      : `${signed(ins.off)}#0x${address.toString(16)}`;
  }
  return sym ?? `0x${address.toString(16)}`;
}

/** One instruction (and, for an imm64 load, its second slot `next`) in the kernel's syntax. */
export function formatXlated(ins: Raw, next: Raw | undefined, names: CallNames): string {
  const op = `(${hex2(ins.code)})`;
  const cls = ins.code & 0x07;
  const mode = ins.code & 0xe0;
  const size = ins.code & 0x18;
  const opcode = ins.code & 0xf0;
  const fromReg = (ins.code & 0x08) !== 0;
  if (cls === 4 || cls === 7) {
    const r = cls === 4 ? "w" : "r";
    if (opcode === 0xd0) {
      return cls === 7
        ? `${op} r${ins.dst} = bswap${ins.imm} r${ins.dst}`
        : `${op} r${ins.dst} = ${fromReg ? "be" : "le"}${ins.imm} r${ins.dst}`;
    }
    if (opcode === 0x80) return `${op} ${r}${ins.dst} = -${r}${ins.dst}`;
    if (ins.code === 0xbf && ins.off === 1) {
      const imm = ins.imm >>> 0;
      return `${op} r${ins.dst} = addr_space_cast(r${ins.src}, ${imm >>> 16}, ${imm & 0xffff})`;
    }
    if (ins.code === 0xbf && ins.off === -1) {
      return `${op} r${ins.dst} = &(void __percpu *)(r${ins.src})`;
    }
    const name = ins.off === 1 && SIGNED_ALU_OPS[opcode] ? SIGNED_ALU_OPS[opcode] : ALU_OPS[opcode];
    if (fromReg) {
      const sx = opcode === 0xb0 ? MOVSX[ins.off] ?? "" : "";
      return `${op} ${r}${ins.dst} ${name} ${sx}${r}${ins.src}`;
    }
    return `${op} ${r}${ins.dst} ${name} ${ins.imm}`;
  }
  if (cls === 3) {
    const at = `(${SIZES[size]} *)(r${ins.dst} ${signed(ins.off)})`;
    if (mode === 0x60) return `${op} *${at} = r${ins.src}`;
    if (mode === 0xc0) {
      const a = ins.imm;
      if (ATOMIC_OPS[a] !== undefined) return `${op} lock *${at} ${ALU_OPS[a]} r${ins.src}`;
      const wide = size === 0x18 ? "64" : "";
      if ((a & BPF_FETCH) && ATOMIC_OPS[a & ~BPF_FETCH] !== undefined && a < 0xe0) {
        return `${op} r${ins.src} = atomic${wide}_fetch_${
          ATOMIC_OPS[a & ~BPF_FETCH]
        }(${at}, r${ins.src})`;
      }
      if (a === BPF_CMPXCHG) return `${op} r0 = atomic${wide}_cmpxchg(${at}, r0, r${ins.src})`;
      if (a === BPF_XCHG) return `${op} r${ins.src} = atomic${wide}_xchg(${at}, r${ins.src})`;
      if (a === BPF_LOAD_ACQ) {
        return `${op} r${ins.dst} = load_acquire((${SIZES[size]} *)(r${ins.src} ${
          signed(ins.off)
        }))`;
      }
      if (a === BPF_STORE_REL) return `${op} store_release(${at}, r${ins.src})`;
    }
    return `BUG_${hex2(ins.code)}`;
  }
  if (cls === 2) {
    if (mode === 0x60) {
      return `${op} *(${SIZES[size]} *)(r${ins.dst} ${signed(ins.off)}) = ${ins.imm}`;
    }
    if (mode === 0xc0) return `${op} nospec`;
    return `BUG_st_${hex2(ins.code)}`;
  }
  if (cls === 1) {
    if (mode !== 0x60 && mode !== 0x80) return `BUG_ldx_${hex2(ins.code)}`;
    const width = mode === 0x60 ? SIZES[size] : SIGNED_SIZES[size];
    return `${op} r${ins.dst} = *(${width} *)(r${ins.src} ${signed(ins.off)})`;
  }
  if (cls === 0) {
    if (mode === 0x20) return `${op} r0 = *(${SIZES[size]} *)skb[${ins.imm}]`;
    if (mode === 0x40) return `${op} r0 = *(${SIZES[size]} *)skb[r${ins.src} + ${ins.imm}]`;
    if (mode === 0x00 && size === 0x18) {
      const hi = next?.imm ?? 0;
      let value: string;
      if (ins.src === PSEUDO_MAP_FD) value = `map[id:${ins.imm >>> 0}]`;
      else if (ins.src === PSEUDO_MAP_VALUE) value = `map[id:${ins.imm >>> 0}][0]+${hi >>> 0}`;
      else if (ins.src === PSEUDO_FUNC) value = `subprog[${signed(ins.imm)}]`;
      else value = `0x${((BigInt(hi >>> 0) << 32n) | BigInt(ins.imm >>> 0)).toString(16)}`;
      return `${op} r${ins.dst} = ${value}`;
    }
    return `BUG_ld_${hex2(ins.code)}`;
  }
  // cls 5 (jmp) and 6 (jmp32)
  const r = cls === 6 ? "w" : "r";
  if (opcode === 0x80) {
    return ins.src === PSEUDO_CALL
      ? `${op} call pc${callTarget(ins, names)}`
      : `${op} call ${callTarget(ins, names)}#${ins.imm}`;
  }
  if (ins.code === 0x05) return `${op} goto pc${signed(ins.off)}`;
  if (ins.code === 0x0d) return `${op} gotox r${ins.dst}`;
  if (ins.code === 0xe5 && ins.src === 0) return `${op} may_goto pc${signed(ins.off)}`;
  if (ins.code === 0x06) return `${op} gotol pc${signed(ins.imm)}`;
  if (ins.code === 0x95) return `${op} exit`;
  if (JMP_OPS[opcode] === undefined) return `${op} ${CLASSES[cls]}`;
  if (fromReg) {
    return `${op} if ${r}${ins.dst} ${JMP_OPS[opcode]} ${r}${ins.src} goto pc${signed(ins.off)}`;
  }
  return `${op} if ${r}${ins.dst} ${JMP_OPS[opcode]} 0x${(ins.imm >>> 0).toString(16)} goto pc${
    signed(ins.off)
  }`;
}

/**
 * The line info record shown at slot `slot`, as libbpf's `bpf_prog_linfo__lfind` finds it:
 * the last record at or before the slot among those not yet shown (`skip` of them were).
 */
function findLine(lines: SourceLine[], slot: number, skip: number): SourceLine | undefined {
  if (skip >= lines.length || slot < lines[skip].insnOff) return undefined;
  let i = skip + 1;
  while (i < lines.length && lines[i].insnOff <= slot) i++;
  return lines[i - 1];
}

/**
 * The translated program as records: one per instruction (an imm64 load's second slot is
 * not one), each with the prototype of a function starting there and the source line
 * starting there, as bpftool pairs them.
 */
export function xlatedLines(
  xlated: Uint8Array,
  funcs: FunctionStart[],
  lines: SourceLine[],
  names: CallNames,
): XlatedLine[] {
  const view = new DataView(xlated.buffer, xlated.byteOffset, xlated.byteLength);
  const little = HOST_BYTE_ORDER === "little";
  const slots = Math.floor(xlated.byteLength / 8);
  const out: XlatedLine[] = [];
  let func = 0;
  let shown = 0;
  for (let i = 0; i < slots; i++) {
    const ins = readRaw(view, i, little);
    const wide = ins.code === 0x18;
    const next = wide && i + 1 < slots ? readRaw(view, i + 1, little) : undefined;
    const rec: XlatedLine = { disasm: formatXlated(ins, next, names), index: i };
    if (func < funcs.length && funcs[func].insnOff === i) {
      if (funcs[func].proto !== "") rec.proto = funcs[func].proto;
      func++;
    }
    const line = findLine(lines, i, shown);
    if (line !== undefined) {
      shown++;
      // As bpftool: the source only when there is text, the place whenever it is known.
      const src = line.line.trimStart();
      if (src !== "") rec.src = src;
      if (line.file !== "") rec.file = line.file;
      if (line.lineNumber) rec.line_num = line.lineNumber;
      if (line.column) rec.line_col = line.column;
    }
    out.push(rec);
    if (wide) i++;
  }
  return out;
}

/** The records as bpftool prints them: prototypes, `; source` lines, `  12: (b7) r1 = 1`. */
export function formatXlatedLines(records: XlatedLine[], linum: boolean): string {
  const out: string[] = [];
  for (const r of records) {
    if (r.proto !== undefined) out.push(`${r.proto}:`);
    if (r.src !== undefined) {
      out.push(
        linum
          ? `; ${r.src} [file:${r.file ?? ""} line_num:${r.line_num ?? 0} line_col:${
            r.line_col ?? 0
          }]`
          : `; ${r.src}`,
      );
    }
    out.push(`${String(r.index).padStart(4)}: ${r.disasm}`);
  }
  return out.join("\n");
}
