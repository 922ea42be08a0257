/**
 * Relocations of program sections: what each `R_BPF_64_64` (`ld_imm64`) and `R_BPF_64_32`
 * (call) entry makes of the instruction it patches. Nothing is resolved to a number here;
 * instructions get a `reference` by name (a map, a function, an extern) that the assembler
 * or the loader resolves, as the ProgramSpec contract describes.
 *
 * @module
 */

import { CallKind, type Instruction, isCall, isDWordLoad, Pseudo, setMeta } from "../asm/mod.ts";
import { FormatError } from "../errors.ts";
import type { MapSpec } from "../map/map_spec.ts";
import { EXTERN, type ExternRef } from "../prog/program_spec.ts";
import { type ElfSymbol, type Section, SHN_UNDEF, SymbolType } from "./elf_file.ts";

/** What relocations may point at. */
export interface RelocationTargets {
  /** Sections of map definitions (`.maps`, `maps`), by index. */
  mapSections: Set<number>;
  /** Names of the maps defined there. */
  mapNames: Set<string>;
  /** Global data maps by section index. */
  dataMaps: Map<number, MapSpec>;
  /** The function symbols of each code section (by index), sorted by offset. */
  functions: readonly (readonly ElfSymbol[] | undefined)[];
  /** Externs by name. */
  externs: Map<string, ExternRef>;
}

/**
 * Applies one relocation to `ins`, the instruction at byte `at` of program section
 * `section`, against symbol `sym`.
 */
export function relocateInstruction(
  ins: Instruction,
  at: number,
  section: Section,
  sym: ElfSymbol,
  targets: RelocationTargets,
): void {
  const where = section.offset + at;
  if (sym.section === SHN_UNDEF) return relocateExtern(ins, sym, targets, where);
  if (targets.mapSections.has(sym.section)) {
    if (!isDWordLoad(ins) || sym.type === SymbolType.Section || !targets.mapNames.has(sym.name)) {
      throw new FormatError(`ELF: map relocation against "${sym.name}" is not a map load`, where);
    }
    ins.src = Pseudo.MapFD;
    ins.imm = 0;
    ins.immHi = 0;
    ins.reference = sym.name;
    return;
  }
  const data = targets.dataMaps.get(sym.section);
  if (data !== undefined) {
    if (!isDWordLoad(ins)) {
      throw new FormatError(`ELF: data relocation against "${sym.name}" is not a load`, where);
    }
    // The symbol's offset plus the addend clang left in imm: a pointer into the value.
    const offset = sym.value + ins.imm;
    if (offset < 0 || offset > data.valueSize) {
      throw new FormatError(
        `ELF: data relocation points ${offset} bytes into "${data.name}"`,
        where,
      );
    }
    ins.src = Pseudo.MapValue;
    ins.imm = 0;
    ins.immHi = offset;
    ins.reference = data.name;
    return;
  }
  const functions = targets.functions[sym.section];
  if (functions !== undefined) {
    // A call's imm counts instructions from the next one; a function pointer's imm is a
    // byte offset. Against a function symbol both are relative to it, against a section
    // symbol (static functions) to the section start.
    let target: number;
    if (isCall(ins) && ins.src === CallKind.Func) target = sym.value + (ins.imm + 1) * 8;
    else if (isDWordLoad(ins)) target = sym.value + ins.imm;
    else throw new FormatError(`ELF: code relocation on an instruction of no such use`, where);
    const name = functionAt(functions, target);
    if (name === undefined) {
      throw new FormatError(`ELF: relocation to byte ${target}, where no function starts`, where);
    }
    if (isDWordLoad(ins)) {
      ins.src = Pseudo.Func;
      ins.imm = 0;
      ins.immHi = 0;
    } else {
      ins.imm = -1;
    }
    ins.reference = name;
    return;
  }
  throw new FormatError(
    `ELF: relocation against "${sym.name}" in section ${sym.section}, which is neither code, maps nor data`,
    where,
  );
}

function relocateExtern(
  ins: Instruction,
  sym: ElfSymbol,
  targets: RelocationTargets,
  where: number,
): void {
  let ext = targets.externs.get(sym.name);
  if (ext === undefined) {
    throw new FormatError(`ELF: relocation against undefined symbol "${sym.name}"`, where);
  }
  if (isCall(ins)) {
    if (ext.kind === "ksym" && ext.type === undefined) {
      // Without BTF a called extern can only be a kfunc.
      ext = { ...ext, kind: "kfunc" };
      targets.externs.set(sym.name, ext);
    }
    if (ext.kind !== "kfunc") {
      throw new FormatError(`ELF: call of extern variable "${sym.name}"`, where);
    }
    ins.src = CallKind.Kfunc;
    ins.imm = 0;
    ins.offset = 0;
  } else if (isDWordLoad(ins)) {
    // kconfig loads stay plain ld_imm64 of 0: the loader turns them into a `.kconfig`
    // value load at `ExternRef.offset`. ksyms and kfunc addresses are BTF id loads.
    if (ext.kind === "kconfig") ins.src = Pseudo.None;
    else ins.src = Pseudo.BTFID;
    ins.imm = 0;
    ins.immHi = 0;
  } else {
    throw new FormatError(`ELF: extern "${sym.name}" used by neither a call nor a load`, where);
  }
  ins.reference = sym.name;
  setMeta(ins, EXTERN, ext);
}

/**
 * The name of the function that starts at byte `offset`, given the section's function
 * symbols sorted by offset; the last symbol wins where several start at one offset.
 * A binary search, where a map per section would cost more than the lookups it saves.
 */
export function functionAt(symbols: readonly ElfSymbol[], offset: number): string | undefined {
  let lo = 0;
  let hi = symbols.length;
  // The first symbol past `offset`: the one before it, if it starts at `offset`, is the last.
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (symbols[mid].value <= offset) lo = mid + 1;
    else hi = mid;
  }
  return lo > 0 && symbols[lo - 1].value === offset ? symbols[lo - 1].name : undefined;
}
