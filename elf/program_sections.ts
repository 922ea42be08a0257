/**
 * Program sections: each executable section decoded once, relocated, annotated with its
 * `.BTF.ext` records, and cut into functions at its function symbols.
 *
 * @module
 */

import {
  CallKind,
  type Instruction,
  Instructions,
  isCall,
  LoadImm64Op,
  setMeta,
} from "../asm/mod.ts";
import { CORE_RELO_META, type ExtInfos, FUNC_INFO_META } from "../btf/mod.ts";
import { FormatError } from "../errors.ts";
import { HIDDEN_FUNC } from "../prog/program_spec.ts";
import {
  type ElfSymbol,
  type Relocation,
  type Section,
  SymbolBinding,
  SymbolType,
} from "./elf_file.ts";
import type { ExtOffsets } from "./ext_scan.ts";
import { type ObjectContext, symbolsIn } from "./_object.ts";
import { functionAt, relocateInstruction, type RelocationTargets } from "./relocations.ts";

/** One function of a program section: an entry program or a subprogram. */
export interface ElfFunction {
  /** The function's symbol. */
  name: string;
  /** The section it is in. */
  section: Section;
  /** Its symbol's binding (`STB_*`). */
  binding: number;
  /** Its instructions: shared, never handed out without copying. */
  instructions: Instruction[];
}

/** A decoded program section. */
export interface ProgramSection {
  /** The section. */
  section: Section;
  /** Its instructions, in order. */
  instructions: Instruction[];
  /** Instruction index by slot (8-byte unit); -1 inside an imm64 load. */
  indexOfSlot: number[];
  /** Its function symbols, sorted by offset. */
  symbols: ElfSymbol[];
}

/** Whether a section holds code. */
export function isProgramSection(section: Section): boolean {
  return section.type === 1 && (section.flagBits & 0x4) !== 0;
}

/** Decodes a program section and finds its function symbols. */
export function decodeProgramSection(ctx: ObjectContext, section: Section): ProgramSection {
  if (section.size % 8 !== 0) {
    throw new FormatError(
      `ELF: program section "${section.name}" is not a whole number of instructions`,
      section.offset,
    );
  }
  let instructions: Instruction[];
  try {
    instructions = Instructions.unmarshal(ctx.elf.data(section), ctx.byteOrder).list;
  } catch (e) {
    if (e instanceof FormatError) {
      throw new FormatError(`ELF: section "${section.name}": ${e.message}`, section.offset, {
        cause: e,
      });
    }
    throw e;
  }
  // A plain array: a typed array per section costs more than decoding a small section.
  // Preallocated up to the size V8 still gives fast elements; grown by push beyond it.
  const slots = section.size / 8;
  let indexOfSlot: number[];
  if (slots <= 16384) {
    indexOfSlot = new Array(slots).fill(-1);
  } else {
    indexOfSlot = [];
    for (let n = slots; n > 0; n--) indexOfSlot.push(-1);
  }
  let slot = 0;
  for (let i = 0; i < instructions.length; i++) {
    indexOfSlot[slot] = i;
    slot += instructions[i].opcode === LoadImm64Op ? 2 : 1;
  }
  const symbols: ElfSymbol[] = [];
  for (const s of symbolsIn(ctx, section)) if (s.type === SymbolType.Func) symbols.push(s);
  let end = 0;
  for (const s of symbols) {
    if (s.value % 8 !== 0 || s.value >= section.size || indexOfSlot[s.value / 8] < 0) {
      throw new FormatError(
        `ELF: function "${s.name}" does not start at an instruction of "${section.name}"`,
        section.offset,
      );
    }
    if (s.value < end) {
      throw new FormatError(`ELF: function "${s.name}" overlaps the one before it`, section.offset);
    }
    end = s.value + s.size;
    if (end > section.size || (end % 8 !== 0) || (end < section.size && indexOfSlot[end / 8] < 0)) {
      throw new FormatError(
        `ELF: function "${s.name}" does not end at an instruction boundary`,
        section.offset,
      );
    }
  }
  return { section, instructions, indexOfSlot, symbols };
}

/** The function symbols of each program section, by section index, for relocations. */
export function functionOffsets(sections: ProgramSection[]): Map<number, readonly ElfSymbol[]> {
  const out = new Map<number, readonly ElfSymbol[]>();
  for (const p of sections) out.set(p.section.index, p.symbols);
  return out;
}

/** Applies the relocations of a program section to its instructions. */
export function relocateProgramSection(
  ctx: ObjectContext,
  p: ProgramSection,
  relocations: readonly Relocation[],
  targets: RelocationTargets,
): void {
  for (const rel of relocations) {
    const ins = instructionAt(p, rel.offset);
    if (ins === undefined) {
      throw new FormatError(
        `ELF: relocation at byte ${rel.offset} of "${p.section.name}" is not at an instruction`,
        p.section.offset,
      );
    }
    relocateInstruction(ins, rel.offset, p.section, ctx.symbols[rel.symbol], targets);
  }
  // Calls to a function of the same section need no relocation: imm is the distance.
  const starts = targets.functions.get(p.section.index)!;
  let slot = 0;
  for (const ins of p.instructions) {
    if (isCall(ins) && ins.src === CallKind.Func && ins.reference === undefined) {
      const target = (slot + ins.imm + 1) * 8;
      const name = functionAt(starts, target);
      if (name === undefined) {
        throw new FormatError(
          `ELF: call at byte ${slot * 8} of "${p.section.name}" targets no function`,
          p.section.offset + slot * 8,
        );
      }
      ins.reference = name;
      ins.imm = -1;
    }
    slot += ins.opcode === LoadImm64Op ? 2 : 1;
  }
}

/** Attaches func_info, line_info and CO-RE records of `.BTF.ext` to the section's code. */
export function annotateProgramSection(ext: ExtInfos | undefined, p: ProgramSection): void {
  if (!ext) return;
  const name = p.section.name;
  const at = (offset: number, what: string): Instruction => {
    const ins = instructionAt(p, offset);
    if (ins === undefined) {
      throw new FormatError(
        `BTF.ext: ${what} record at byte ${offset} of "${name}" is not at an instruction`,
        0,
      );
    }
    return ins;
  };
  for (const f of ext.funcInfos.get(name) ?? []) {
    setMeta(at(f.insnOffset, "func_info"), FUNC_INFO_META, f.func);
  }
  for (const l of ext.lineInfos.get(name) ?? []) {
    at(l.insnOffset, "line_info").line = {
      text: l.line,
      fileName: l.fileName,
      lineNumber: l.lineNumber,
      column: l.column,
    };
  }
  for (const r of ext.coreRelos.get(name) ?? []) {
    setMeta(at(r.insnOffset, "CO-RE"), CORE_RELO_META, r);
  }
}

/**
 * Whether every `.BTF.ext` record of the section points at one of its instructions, so
 * that {@linkcode annotateProgramSection} cannot fail on it.
 */
export function extRecordsFit(offsets: ExtOffsets, p: ProgramSection): boolean {
  for (const offset of offsets.get(p.section.index) ?? []) {
    if (instructionAt(p, offset) === undefined) return false;
  }
  return true;
}

/** Cuts a section into its functions; the first instruction of each carries its symbol. */
export function splitFunctions(p: ProgramSection): ElfFunction[] {
  const out: ElfFunction[] = [];
  const { symbols, instructions, indexOfSlot, section } = p;
  for (let k = 0; k < symbols.length; k++) {
    const s = symbols[k];
    const first = indexOfSlot[s.value / 8];
    const endByte = s.size > 0 ? s.value + s.size : (symbols[k + 1]?.value ?? section.size);
    const last = endByte >= section.size ? instructions.length : indexOfSlot[endByte / 8];
    const list = instructions.slice(first, last);
    if (list.length === 0) {
      throw new FormatError(`ELF: function "${s.name}" has no instructions`, section.offset);
    }
    list[0].symbol = s.name;
    const f = { name: s.name, section, binding: s.binding, instructions: list };
    // STV_INTERNAL (1) and STV_HIDDEN (2) subprograms are static to libbpf's loader.
    if (s.binding !== SymbolBinding.Local && (s.visibility === 1 || s.visibility === 2)) {
      if (!isEntryFunction(f)) setMeta(list[0], HIDDEN_FUNC, true);
    }
    out.push(f);
  }
  return out;
}

/** Whether a function is an entry program rather than a subprogram (libbpf's rule). */
export function isEntryFunction(f: ElfFunction): boolean {
  return f.section.name !== ".text" && f.binding !== SymbolBinding.Local;
}

function instructionAt(p: ProgramSection, offset: number): Instruction | undefined {
  if (offset % 8 !== 0 || offset < 0 || offset >= p.section.size) return undefined;
  const i = p.indexOfSlot[offset / 8];
  return i < 0 ? undefined : p.instructions[i];
}
