/**
 * Program sections: each executable section copied and checked once at parse, its
 * relocations worked out, and cut into functions at its function symbols. Instruction
 * objects are made only when the first program's instructions are read
 * ({@linkcode materializeSections}); until then a section is its checked bytes plus the
 * few instructions relocations changed.
 *
 * @module
 */

import { Instruction, Instructions, LoadImm64Op, type Register, setMeta } from "../asm/mod.ts";
import { CORE_RELO_META, type ExtIndex, type ExtSection, FUNC_INFO_META } from "../btf/mod.ts";
import { misplacedExtRecord } from "../btf/ext.ts";
import { validateFindingCalls } from "../asm/instructions.ts";
import { FormatError } from "../errors.ts";
import { HIDDEN_FUNC } from "../prog/program_spec.ts";
import {
  type ElfSymbol,
  type Relocation,
  type Section,
  SymbolBinding,
  SymbolType,
} from "./elf_file.ts";
import { type ObjectContext, symbolsIn, take } from "./_object.ts";
import { functionAt, relocateInstruction, type RelocationTargets } from "./relocations.ts";

const NUL = new Uint8Array(1);

/** One function of a program section: an entry program or a subprogram. */
export interface ElfFunction {
  /** The function's symbol. */
  name: string;
  /** The section it is in. */
  section: Section;
  /** Its symbol's binding (`STB_*`). */
  binding: number;
  /** A subprogram with a hidden or internal global symbol: static to libbpf's loader. */
  hidden: boolean;
  /** The section's code. */
  program: ProgramSection;
  /** Its first 8-byte slot in the section. */
  first: number;
  /** The slot after its last instruction. */
  end: number;
  /** Its instructions, once materialized: shared, never handed out without copying. */
  instructions: Instruction[] | undefined;
}

/** A checked program section. */
export interface ProgramSection {
  /** The section. */
  section: Section;
  /** A copy of its bytes, checked by `Instructions.validate`. */
  code: Uint8Array;
  /** Its byte order. */
  little: boolean;
  /** Its function symbols, sorted by offset. */
  symbols: ElfSymbol[];
  /**
   * The instructions relocations (or calls within the section) changed, by slot: an array
   * with holes, which costs less than a Map for the few a section has.
   */
  patches: (Instruction | undefined)[];
  /** The slots of its bpf-to-bpf calls, in order, as validating the code found them. */
  calls: number[];
  /** Its `.BTF.ext` records, if any (found by {@linkcode checkExtRecords}). */
  ext: ExtSection | undefined;
}

/** Whether a section holds code. */
export function isProgramSection(section: Section): boolean {
  return section.type === 1 && (section.flagBits & 0x4) !== 0;
}

/** Copies and checks a program section and finds its function symbols. */
export function decodeProgramSection(ctx: ObjectContext, section: Section): ProgramSection {
  if (section.size % 8 !== 0) {
    throw new FormatError(
      `ELF: program section "${section.name}" is not a whole number of instructions`,
      section.offset,
    );
  }
  const code = take(ctx, section.size);
  code.set(ctx.elf.data(section));
  const calls: number[] = [];
  try {
    validateFindingCalls(code, ctx.byteOrder, calls);
  } catch (e) {
    if (e instanceof FormatError) {
      throw new FormatError(`ELF: section "${section.name}": ${e.message}`, section.offset, {
        cause: e,
      });
    }
    throw e;
  }
  const inSection = symbolsIn(ctx, section);
  // Sized first: a pushed-to array reserves room for 17.
  let n = 0;
  for (const s of inSection) if (s.type === SymbolType.Func) n++;
  const symbols: ElfSymbol[] = new Array(n);
  for (let i = 0, k = 0; k < n; i++) {
    if (inSection[i].type === SymbolType.Func) symbols[k++] = inSection[i];
  }
  let end = 0;
  for (const s of symbols) {
    if (s.value % 8 !== 0 || s.value >= section.size || code[s.value] === 0) {
      throw new FormatError(
        `ELF: function "${s.name}" does not start at an instruction of "${section.name}"`,
        section.offset,
      );
    }
    if (s.value < end) {
      throw new FormatError(`ELF: function "${s.name}" overlaps the one before it`, section.offset);
    }
    end = s.value + s.size;
    if (end > section.size || (end % 8 !== 0) || (end < section.size && code[end] === 0)) {
      throw new FormatError(
        `ELF: function "${s.name}" does not end at an instruction boundary`,
        section.offset,
      );
    }
  }
  return {
    section,
    code,
    little: ctx.byteOrder === "little",
    symbols,
    patches: new Array(section.size / 8),
    calls,
    ext: undefined,
  };
}

/** The function symbols of each program section, by section index, for relocations. */
export function functionOffsets(
  sections: ProgramSection[],
): (readonly ElfSymbol[] | undefined)[] {
  const out: (readonly ElfSymbol[] | undefined)[] = [];
  for (const p of sections) out[p.section.index] = p.symbols;
  return out;
}

/** Works out what the relocations of a program section make of its instructions. */
export function relocateProgramSection(
  ctx: ObjectContext,
  p: ProgramSection,
  relocations: readonly Relocation[],
  targets: RelocationTargets,
): void {
  const { patches } = p;
  for (const rel of relocations) {
    if (!isStart(p, rel.offset)) {
      throw new FormatError(
        `ELF: relocation at byte ${rel.offset} of "${p.section.name}" is not at an instruction`,
        p.section.offset,
      );
    }
    const slot = rel.offset / 8;
    let ins = patches[slot];
    if (ins === undefined) patches[slot] = ins = decodeAt(p, rel.offset);
    relocateInstruction(ins, rel.offset, p.section, ctx.symbols[rel.symbol], targets);
  }
  // Calls to a function of the same section need no relocation: imm is the distance.
  const starts = targets.functions[p.section.index]!;
  for (const slot of p.calls) {
    if (patches[slot] !== undefined) continue;
    const at = slot * 8;
    const ins = decodeAt(p, at);
    const target = at + (ins.imm + 1) * 8;
    const name = functionAt(starts, target);
    if (name === undefined) {
      throw new FormatError(
        `ELF: call at byte ${at} of "${p.section.name}" targets no function`,
        p.section.offset + at,
      );
    }
    ins.reference = name;
    ins.imm = -1;
    patches[slot] = ins;
  }
}

/**
 * Throws a FormatError unless every `.BTF.ext` record of the section points at one of its
 * instructions, so that {@linkcode annotate} cannot fail later.
 */
export function checkExtRecords(ctx: ObjectContext, ext: ExtIndex, p: ProgramSection): void {
  // Found by the name's bytes in the ELF file: no string made or hashed. (An empty name may
  // come from an empty name table, whose bytes are not in the file.)
  const records = p.ext = ctx.elf.nameIs(p.section, "")
    ? ext.sectionAt(NUL, 0)
    : ext.sectionAt(ctx.elf.bytes, p.section.nameAt);
  if (records === undefined) return;
  const bad = misplacedExtRecord(ext, records, p.code);
  if (bad === undefined) return;
  const what = bad.kind === "core_relo" ? "CO-RE" : bad.kind;
  throw new FormatError(
    `BTF.ext: ${what} record at byte ${bad.insnOffset} of "${p.section.name}" is not at an instruction`,
    0,
  );
}

/**
 * Cuts a section into its functions, appended to `out` (one list for every section: most
 * sections hold one function, and an array per section costs more than the function).
 */
export function splitFunctions(p: ProgramSection, out: ElfFunction[]): void {
  const { symbols, section } = p;
  for (let k = 0; k < symbols.length; k++) {
    const s = symbols[k];
    const endByte = s.size > 0 ? s.value + s.size : (symbols[k + 1]?.value ?? section.size);
    if (endByte <= s.value) {
      throw new FormatError(`ELF: function "${s.name}" has no instructions`, section.offset);
    }
    const f: ElfFunction = {
      name: s.name,
      section,
      binding: s.binding,
      hidden: false,
      program: p,
      first: s.value / 8,
      end: Math.min(endByte, section.size) / 8,
      instructions: undefined,
    };
    // STV_INTERNAL (1) and STV_HIDDEN (2).
    const hidden = s.binding !== SymbolBinding.Local && (s.visibility === 1 || s.visibility === 2);
    f.hidden = hidden && !isEntryFunction(f);
    out.push(f);
  }
}

/**
 * Makes the instruction objects of every section, with relocations applied, `.BTF.ext`
 * records attached and each function's first instruction carrying its symbol, and gives
 * each function its slice. Runs once per parsed object; nothing in it can fail on bytes
 * the parse accepted.
 */
export function materializeSections(
  functions: Iterable<ElfFunction>,
  ext: ExtIndex | undefined,
): void {
  const decoded = new Map<ProgramSection, { list: Instruction[]; indexOfSlot: number[] }>();
  for (const f of functions) {
    const p = f.program;
    let d = decoded.get(p);
    if (d === undefined) {
      d = materialize(p, ext);
      decoded.set(p, d);
    }
    const last = f.end * 8 >= p.code.length ? d.list.length : d.indexOfSlot[f.end];
    const list = d.list.slice(d.indexOfSlot[f.first], last);
    list[0].symbol = f.name;
    if (f.hidden) setMeta(list[0], HIDDEN_FUNC, true);
    f.instructions = list;
  }
}

function materialize(
  p: ProgramSection,
  ext: ExtIndex | undefined,
): { list: Instruction[]; indexOfSlot: number[] } {
  const list = Instructions.unmarshal(p.code, p.little ? "little" : "big").list;
  const indexOfSlot: number[] = [];
  for (let i = 0, slot = 0; i < list.length; i++) {
    indexOfSlot[slot] = i;
    if (list[i].opcode === LoadImm64Op) indexOfSlot[slot + 1] = -1;
    slot += list[i].opcode === LoadImm64Op ? 2 : 1;
  }
  p.patches.forEach((ins, slot) => list[indexOfSlot[slot]] = ins!);
  if (ext !== undefined && p.ext !== undefined) annotate(ext, p.ext, list, indexOfSlot);
  return { list, indexOfSlot };
}

/** Attaches func_info, line_info and CO-RE records of `.BTF.ext` to a section's code. */
function annotate(
  ext: ExtIndex,
  name: ExtSection,
  list: Instruction[],
  indexOfSlot: number[],
) {
  // Every offset was checked by checkExtRecords when the object was parsed.
  const at = (offset: number): Instruction => list[indexOfSlot[offset / 8]];
  for (const f of ext.funcInfos(name)) setMeta(at(f.insnOffset), FUNC_INFO_META, f.func);
  for (const l of ext.lineInfos(name)) {
    at(l.insnOffset).line = {
      text: l.line,
      fileName: l.fileName,
      lineNumber: l.lineNumber,
      column: l.column,
    };
  }
  for (const r of ext.coreRelos(name)) setMeta(at(r.insnOffset), CORE_RELO_META, r);
}

/** Whether an entry function is an entry program rather than a subprogram (libbpf's rule). */
export function isEntryFunction(f: ElfFunction): boolean {
  return f.section.name !== ".text" && f.binding !== SymbolBinding.Local;
}

/** Whether an instruction starts at byte `offset` of the checked code. */
function isStart(p: ProgramSection, offset: number): boolean {
  // In validated code only the second half of an imm64 load has a zero opcode.
  return offset % 8 === 0 && offset >= 0 && offset < p.code.length && p.code[offset] !== 0;
}

/** The instruction at byte `at` of the checked code (an instruction start). */
function decodeAt(p: ProgramSection, at: number): Instruction {
  const b = p.code;
  const op = b[at];
  const regs = b[at + 1];
  let dst: number, src: number, off: number, imm: number, hi = 0;
  if (p.little) {
    dst = regs & 0xf;
    src = regs >>> 4;
    off = ((b[at + 3] << 24) | (b[at + 2] << 16)) >> 16;
    imm = b[at + 4] | (b[at + 5] << 8) | (b[at + 6] << 16) | (b[at + 7] << 24);
    if (op === LoadImm64Op) {
      hi = b[at + 12] | (b[at + 13] << 8) | (b[at + 14] << 16) | (b[at + 15] << 24);
    }
  } else {
    dst = regs >>> 4;
    src = regs & 0xf;
    off = ((b[at + 2] << 24) | (b[at + 3] << 16)) >> 16;
    imm = (b[at + 4] << 24) | (b[at + 5] << 16) | (b[at + 6] << 8) | b[at + 7];
    if (op === LoadImm64Op) {
      hi = (b[at + 12] << 24) | (b[at + 13] << 16) | (b[at + 14] << 8) | b[at + 15];
    }
  }
  return Instruction(op, dst as Register, src as Register, off, imm, hi);
}
