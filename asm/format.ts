/**
 * Disassembly: this library's own readable text, and the text `llvm-objdump -d` prints.
 *
 * @module
 */

import { constant, copy, type Instruction, isRelative, targetInImm } from "./instruction.ts";
import { HELPER_NAMES } from "./_helper_names.ts";
import { ALU_SYMBOLS, JUMP_SYMBOLS } from "./_operators.ts";
import {
  AtomicOp,
  CallKind,
  Class,
  JumpOp,
  LoadImm64Op,
  Mode,
  Pseudo,
  Size,
  Source,
} from "./opcode.ts";

/**
 * A disassembly style: `"text"` is this library's own (decimal numbers, helper and symbol
 * names), `"llvm"` is the text of `llvm-objdump -d --no-show-raw-insn`.
 */
export type FormatStyle = "text" | "llvm";

/** Options of the disassembler. */
export interface FormatOptions {
  /**
   * For `"llvm"`: print what `llvm-objdump --mattr=+alu32` prints, with `w` registers for
   * 8- to 32-bit loads and stores and for 32-bit `lock +=`. Without it, the text is that of
   * plain `llvm-objdump -d`, except for the 32-bit atomics other than `lock +=`: plain
   * llvm-objdump 19 cannot decode those (it prints `<unknown>`, or misreads
   * `atomic_fetch_add` as `lock +=`), so they are printed in their alu32 form.
   */
  alu32?: boolean;
}

const ATOMIC_SYMBOLS: Record<number, string> = {
  [AtomicOp.Add]: "+=",
  [AtomicOp.Or]: "|=",
  [AtomicOp.And]: "&=",
  [AtomicOp.Xor]: "^=",
};

const FETCH_NAMES: Record<number, string> = {
  [AtomicOp.FetchAdd]: "atomic_fetch_add",
  [AtomicOp.FetchOr]: "atomic_fetch_or",
  [AtomicOp.FetchAnd]: "atomic_fetch_and",
  [AtomicOp.FetchXor]: "atomic_fetch_xor",
};

const SIZE_NAMES: Record<number, string> = {
  [Size.Word]: "32",
  [Size.Half]: "16",
  [Size.Byte]: "8",
  [Size.DWord]: "64",
};

/** A signed number in hex the way llvm prints it: `0x1f`, `-0x4`. */
function shex(n: number): string {
  return n < 0 ? `-0x${(-n).toString(16)}` : `0x${n.toString(16)}`;
}

/** A 64-bit signed bigint in llvm's hex. */
function shex64(n: bigint): string {
  return n < 0n ? `-0x${(-n).toString(16)}` : `0x${n.toString(16)}`;
}

interface Style {
  llvm: boolean;
  alu32: boolean;
  /** Whether the offset of a symbolic jump has been resolved (in a program). */
  resolved: boolean;
}

function num(n: number, s: Style): string {
  return s.llvm ? shex(n) : String(n);
}

function memOperand(base: number, off: number, s: Style): string {
  const mag = s.llvm ? `0x${Math.abs(off).toString(16)}` : String(Math.abs(off));
  return `(r${base} ${off < 0 ? "-" : "+"} ${mag})`;
}

function jumpOffset(n: number, s: Style): string {
  const mag = s.llvm ? `0x${Math.abs(n).toString(16)}` : String(Math.abs(n));
  return `${n < 0 ? "-" : "+"}${mag}`;
}

function target(ins: Instruction, n: number, s: Style): string {
  if (s.llvm || ins.reference === undefined) return jumpOffset(n, s);
  // The encoded offset of a symbolic jump is a placeholder until marshal resolves it; only a
  // program (which knows where its symbols are) can show the real distance.
  return s.resolved ? `${jumpOffset(n, s)} <${ins.reference}>` : `<${ins.reference}>`;
}

function unknown(ins: Instruction): string {
  return `<unknown opcode 0x${ins.opcode.toString(16).padStart(2, "0")}>`;
}

/** The name of a helper function, such as `bpf_map_lookup_elem`, or undefined. */
export function helperName(id: number): string | undefined {
  const name = HELPER_NAMES[id];
  return name === undefined ? undefined : `bpf_${name}`;
}

/**
 * One instruction as text: `"text"` is this library's own readable style (such as
 * `r0 = 42`), `"llvm"` what `llvm-objdump -d` prints for it, without the address and
 * without llvm's `<symbol+offset>` annotation of jump targets.
 *
 * @example
 * ```ts
 * import { asm } from "@ebpf/ebpf";
 * asm.formatInstruction(asm.Mov.Imm(asm.R0, 42)); // "r0 = 42"
 * asm.formatInstruction(asm.Mov.Imm(asm.R0, 42), "llvm"); // "r0 = 0x2a"
 * ```
 */
export function formatInstruction(
  ins: Instruction,
  style: FormatStyle = "text",
  options: FormatOptions = {},
): string {
  return formatWith(ins, style, options, false);
}

function formatWith(
  ins: Instruction,
  style: FormatStyle,
  options: FormatOptions,
  resolved: boolean,
): string {
  if (style !== "text" && style !== "llvm") {
    throw new TypeError(`Invalid format style: expected "text" or "llvm", got ${String(style)}`);
  }
  const s: Style = { llvm: style === "llvm", alu32: options.alu32 === true, resolved };
  switch (ins.opcode & 0x07) {
    case Class.LD:
      return formatLD(ins, s);
    case Class.LDX:
      return formatLDX(ins, s);
    case Class.ST:
      return `*(u${SIZE_NAMES[ins.opcode & 0x18]} *)${memOperand(ins.dst, ins.offset, s)} = ${
        num(ins.imm, s)
      }`;
    case Class.STX:
      return formatSTX(ins, s);
    case Class.ALU:
    case Class.ALU64:
      return formatALU(ins, s);
    default:
      return formatJump(ins, s);
  }
}

function formatLD(ins: Instruction, s: Style): string {
  const op = ins.opcode;
  const size = SIZE_NAMES[op & 0x18];
  if (op === LoadImm64Op) {
    const d = `r${ins.dst}`;
    if (s.llvm) {
      if (ins.src === Pseudo.None) return `${d} = ${shex64(constant(ins))} ll`;
      return `ld_pseudo\t${d}, ${shex(ins.src)}, 0x${(ins.imm >>> 0).toString(16)}`;
    }
    const ref = ins.reference ?? ins.map?.name;
    const hi = ins.immHi;
    const plus = hi === 0 ? "" : ` + ${hi}`;
    switch (ins.src) {
      case Pseudo.None:
        return `${d} = ${constant(ins)} ll`;
      case Pseudo.MapFD:
        return `${d} = map[${ref ?? `fd:${ins.imm}`}]`;
      case Pseudo.MapValue:
        return `${d} = map_value[${ref ?? `fd:${ins.imm}`}]${plus}`;
      case Pseudo.BTFID:
        return `${d} = btf_id[${ref ?? ins.imm}]`;
      case Pseudo.Func:
        return `${d} = func[${ref ?? `pc${jumpOffset(ins.imm, s)}`}]`;
      case Pseudo.MapIdx:
        return `${d} = map_idx[${ref ?? ins.imm}]`;
      case Pseudo.MapIdxValue:
        return `${d} = map_idx_value[${ref ?? ins.imm}]${plus}`;
      default:
        return `${d} = pseudo_${ins.src}[${ins.imm}]${plus}`;
    }
  }
  const mode = op & 0xe0;
  if (mode === Mode.ABS) return `r0 = *(u${size} *)skb[${num(ins.imm, s)}]`;
  if (mode === Mode.IND) {
    // llvm prints only the register; the immediate is added to it all the same.
    if (s.llvm) return `r0 = *(u${size} *)skb[r${ins.src}]`;
    return `r0 = *(u${size} *)skb[r${ins.src} ${ins.imm < 0 ? "-" : "+"} ${Math.abs(ins.imm)}]`;
  }
  return unknown(ins);
}

function formatLDX(ins: Instruction, s: Style): string {
  const op = ins.opcode;
  const sizeBits = op & 0x18;
  const size = SIZE_NAMES[sizeBits];
  const mem = memOperand(ins.src, ins.offset, s);
  if ((op & 0xe0) === Mode.MEMSX) return `r${ins.dst} = *(s${size} *)${mem}`;
  const reg = s.llvm && s.alu32 && sizeBits !== Size.DWord ? "w" : "r";
  return `${reg}${ins.dst} = *(u${size} *)${mem}`;
}

function formatSTX(ins: Instruction, s: Style): string {
  const op = ins.opcode;
  const sizeBits = op & 0x18;
  const size = SIZE_NAMES[sizeBits];
  const mem = memOperand(ins.dst, ins.offset, s);
  const wide = sizeBits === Size.DWord;
  if ((op & 0xe0) !== Mode.ATOMIC) {
    const reg = s.llvm && s.alu32 && !wide ? "w" : "r";
    return `*(u${size} *)${mem} = ${reg}${ins.src}`;
  }
  const r = wide ? "r" : "w";
  const a = ins.imm;
  const symbol = ATOMIC_SYMBOLS[a];
  if (symbol !== undefined) {
    // Plain llvm-objdump shows the 32-bit atomic add with an r register.
    const reg = wide || (s.llvm && !s.alu32 && a === AtomicOp.Add) ? "r" : "w";
    return `lock *(u${size} *)${mem} ${symbol} ${reg}${ins.src}`;
  }
  const fetch = FETCH_NAMES[a];
  if (fetch !== undefined) {
    return `${r}${ins.src} = ${fetch}((u${size} *)${mem}, ${r}${ins.src})`;
  }
  const addr = `${mem.slice(1, -1)}`;
  switch (a) {
    case AtomicOp.Xchg:
      return wide
        ? `r${ins.src} = xchg_64(${addr}, r${ins.src})`
        : `w${ins.src} = xchg32_32(${addr}, w${ins.src})`;
    case AtomicOp.CmpXchg:
      return wide
        ? `r0 = cmpxchg_64(${addr}, r0, r${ins.src})`
        : `w0 = cmpxchg32_32(${addr}, w0, w${ins.src})`;
    case AtomicOp.LoadAcquire:
      return `${r}${ins.dst} = load_acquire((u${size} *)${memOperand(ins.src, ins.offset, s)})`;
    case AtomicOp.StoreRelease:
      return `store_release((u${size} *)${mem}, ${r}${ins.src})`;
    default:
      return unknown(ins);
  }
}

function formatALU(ins: Instruction, s: Style): string {
  const op = ins.opcode;
  const p = (op & 0x07) === Class.ALU ? "w" : "r";
  const d = `${p}${ins.dst}`;
  const x = (op & 0x08) === Source.Reg;
  const operand = x ? `${p}${ins.src}` : num(ins.imm, s);
  const aop = op & 0xf0;
  switch (aop) {
    case 0x80: // neg
      return `${d} = -${d}`;
    case 0xb0: // mov
      if (!x) return `${d} = ${operand}`;
      if (p === "r" && ins.offset === 1) {
        const hex = (n: number) => s.llvm ? `0x${n.toString(16)}` : String(n);
        return `${d} = addr_space_cast(r${ins.src}, ${hex(ins.imm >>> 16)}, ${
          hex(ins.imm & 0xffff)
        })`;
      }
      if (ins.offset === 8 || ins.offset === 16 || ins.offset === 32) {
        return `${d} = (s${ins.offset})${p}${ins.src}`;
      }
      return `${d} = ${operand}`;
    case 0xd0: { // end
      const kind = p === "r" ? "bswap" : x ? "be" : "le";
      return `r${ins.dst} = ${kind}${ins.imm} r${ins.dst}`;
    }
    case 0x30:
    case 0x90:
      if (ins.offset === 1) return `${d} s${ALU_SYMBOLS[aop]} ${operand}`;
      return `${d} ${ALU_SYMBOLS[aop]} ${operand}`;
    default: {
      const sym = ALU_SYMBOLS[aop];
      return sym === undefined ? unknown(ins) : `${d} ${sym} ${operand}`;
    }
  }
}

function formatJump(ins: Instruction, s: Style): string {
  const op = ins.opcode;
  const jmp32 = (op & 0x07) === Class.JMP32;
  const jop = op & 0xf0;
  const x = (op & 0x08) === Source.Reg;
  switch (jop) {
    case JumpOp.Ja:
      if (jmp32) return `gotol ${target(ins, ins.imm, s)}`;
      if (x) return `gotox r${ins.dst}`;
      return `goto ${target(ins, ins.offset, s)}`;
    case JumpOp.Call:
      if (x) return `callx r${ins.dst}`;
      return formatCall(ins, s);
    case JumpOp.Exit:
      return "exit";
    case JumpOp.JCond:
      return `may_goto ${target(ins, ins.offset, s)}`;
  }
  const cmp = JUMP_SYMBOLS[jop];
  if (cmp === undefined) return unknown(ins);
  const p = jmp32 ? "w" : "r";
  const operand = x ? `${p}${ins.src}` : num(ins.imm, s);
  return `if ${p}${ins.dst} ${cmp} ${operand} goto ${target(ins, ins.offset, s)}`;
}

function formatCall(ins: Instruction, s: Style): string {
  if (s.llvm) return `call ${shex(ins.imm)}`;
  switch (ins.src) {
    case CallKind.Helper:
      return `call ${helperName(ins.imm) ?? "helper"}#${ins.imm}`;
    case CallKind.Func:
      return ins.reference !== undefined
        ? `call ${ins.reference}`
        : `call pc${jumpOffset(ins.imm, s)}`;
    default: {
      const module = ins.offset === 0 ? "" : ` (btf ${ins.offset})`;
      return `call kfunc ${ins.reference ?? `#${ins.imm}`}${module}`;
    }
  }
}

/**
 * The instruction as a program would encode it: a symbolic jump, call or function pointer
 * gets the distance to its symbol, as `Instructions.marshal` computes it.
 */
function encoded(
  ins: Instruction,
  at: number,
  symbols: Map<string, number>,
): [Instruction, boolean] {
  if (ins.reference === undefined || !isRelative(ins)) return [ins, false];
  const to = symbols.get(ins.reference);
  if (to === undefined) return [ins, false];
  const view = copy(ins);
  if (targetInImm(ins)) view.imm = to - at - 1;
  else view.offset = to - at - 1;
  return [view, true];
}

/** Formats a whole program: see `Instructions.format`. */
export function formatProgram(
  list: readonly Instruction[],
  style: FormatStyle,
  options: FormatOptions = {},
): string {
  if (style !== "text" && style !== "llvm") {
    throw new TypeError(`Invalid format style: expected "text" or "llvm", got ${String(style)}`);
  }
  // Symbol offsets, for showing the real distance of symbolic jumps (first one wins).
  const symbols = new Map<string, number>();
  let offset = 0;
  for (const ins of list) {
    if (ins.symbol !== undefined && !symbols.has(ins.symbol)) symbols.set(ins.symbol, offset);
    offset += ins.opcode === LoadImm64Op ? 2 : 1;
  }
  const slots = offset;
  const lines: string[] = [];
  offset = 0;
  if (style === "llvm") {
    for (const ins of list) {
      if (ins.symbol !== undefined) {
        if (lines.length > 0) lines.push("");
        lines.push(`${(offset * 8).toString(16).padStart(16, "0")} <${ins.symbol}>:`);
      }
      const [view, resolved] = encoded(ins, offset, symbols);
      lines.push(`${String(offset).padStart(8)}:\t${formatWith(view, "llvm", options, resolved)}`);
      offset += ins.opcode === LoadImm64Op ? 2 : 1;
    }
    return lines.map(printable).join("\n");
  }
  const width = String(Math.max(0, slots - 1)).length;
  let lastLine: string | undefined;
  for (const ins of list) {
    if (ins.symbol !== undefined) lines.push(`${ins.symbol}:`);
    const text = ins.line?.text.trim();
    if (text !== undefined && text !== "" && text !== lastLine) {
      lines.push(`\t; ${text}`);
      lastLine = text;
    }
    const [view, resolved] = encoded(ins, offset, symbols);
    lines.push(
      `\t${String(offset).padStart(width)}: ${formatWith(view, "text", options, resolved)}`,
    );
    offset += ins.opcode === LoadImm64Op ? 2 : 1;
  }
  return lines.map(printable).join("\n");
}

/**
 * A line with its control characters (tabs aside) escaped as `\xNN`: names and source lines
 * come from the object, and a newline in one must not make a line of its own.
 */
function printable(line: string): string {
  return line.replace(
    // deno-lint-ignore no-control-regex -- matching control characters is the point
    /[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]/g,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`,
  );
}
