/**
 * What every part of the CollectionSpec builder reads: the ELF file, its symbols, its BTF
 * and `.BTF.ext`, and where each symbol is, looked up once.
 *
 * @module
 */

import type { ByteOrder } from "../asm/mod.ts";
import type { ExtInfos, Spec } from "../btf/mod.ts";
import { Datasec, Var } from "../btf/mod.ts";
import { FormatError } from "../errors.ts";
import type { ElfFile, ElfSymbol, Section } from "./elf_file.ts";

/** One parsed object, shared by the readers of maps, data, externs and programs. */
export interface ObjectContext {
  /** The ELF file. */
  elf: ElfFile;
  /** Its byte order. */
  byteOrder: ByteOrder;
  /** `.symtab`, index 0 included. */
  symbols: readonly ElfSymbol[];
  /** `.BTF`, when present. */
  btf: Spec | undefined;
  /** `.BTF.ext`, when present. */
  ext: ExtInfos | undefined;
  /** Named, non-section symbols by `"<section index>:<name>"`, the first of each. */
  byName: Map<string, ElfSymbol>;
  /** The symbols of each section, sorted by value then index, built on first use. */
  bySection?: Map<number, ElfSymbol[]>;
}

/** Indexes the named symbols of `symbols` for {@linkcode symbolNamed}. */
export function indexSymbols(symbols: readonly ElfSymbol[]): Map<string, ElfSymbol> {
  const out = new Map<string, ElfSymbol>();
  for (const s of symbols) {
    if (s.name === "" || s.type === SECTION_SYMBOL) continue;
    const key = `${s.section}:${s.name}`;
    if (!out.has(key)) out.set(key, s);
  }
  return out;
}

const SECTION_SYMBOL = 3;

/** The data section (`Datasec`) of BTF named `name`, if the object has BTF and one. */
export function datasec(ctx: ObjectContext, name: string): Datasec | undefined {
  if (!ctx.btf) return undefined;
  const all = ctx.btf.typesByName(name, Datasec);
  if (all.length > 1) throw new FormatError(`BTF: ${all.length} data sections "${name}"`, 0);
  return all[0];
}

/** The symbols defined in `section`, sorted by value (then by table index). */
export function symbolsIn(ctx: ObjectContext, section: Section): ElfSymbol[] {
  if (!ctx.bySection) {
    const by = new Map<number, ElfSymbol[]>();
    for (const s of ctx.symbols) {
      if (s.index === 0) continue;
      const list = by.get(s.section);
      if (list) list.push(s);
      else by.set(s.section, [s]);
    }
    for (const list of by.values()) list.sort((a, b) => a.value - b.value || a.index - b.index);
    ctx.bySection = by;
  }
  return ctx.bySection.get(section.index) ?? [];
}

/** The named symbol of `section` called `name`, or a FormatError naming what needs it. */
export function symbolNamed(
  ctx: ObjectContext,
  section: Section,
  name: string,
  what: string,
): ElfSymbol {
  const s = ctx.byName.get(`${section.index}:${name}`);
  if (s) return s;
  throw new FormatError(
    `ELF: ${what} "${name}" has no symbol in section "${section.name}"`,
    section.offset,
  );
}

/** Sets a Datasec's size and variable offsets from the ELF section and its symbols. */
export function fixupDatasec(ctx: ObjectContext, section: Section, ds: Datasec): void {
  ds.size = section.size;
  for (const vsi of ds.vars) {
    if (!(vsi.type instanceof Var)) {
      throw new FormatError(`BTF: data section "${section.name}" holds a ${vsi.type.kind}`, 0);
    }
    const sym = symbolNamed(ctx, section, vsi.type.name, "variable");
    if (sym.value > section.size || vsi.size > section.size - sym.value) {
      throw new FormatError(
        `ELF: variable "${vsi.type.name}" lies outside section "${section.name}"`,
        section.offset,
      );
    }
    vsi.offset = sym.value;
  }
}
