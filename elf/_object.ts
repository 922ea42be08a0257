/**
 * What every part of the CollectionSpec builder reads: the ELF file, its symbols, its BTF
 * and `.BTF.ext`, and where each symbol is, looked up once.
 *
 * @module
 */

import type { ByteOrder } from "../asm/mod.ts";
import type { ExtIndex, Spec } from "../btf/mod.ts";
import { type Datasec, Kind } from "../btf/mod.ts";
import { checkTypeAlone, datasecIds, rawReader } from "../btf/spec.ts";
import { kindOf, typeWord } from "../btf/_raw_reader.ts";
import { idOf } from "../btf/types.ts";
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
  /** `.BTF.ext`, checked, its records decoded when instructions are built. */
  ext: ExtIndex | undefined;
  /** Named, non-section symbols of each section by name (the first of each), built per section on first use. */
  byName?: Map<number, Map<string, ElfSymbol>>;
  /** The ids of BTF's Datasecs by name, built on first use. */
  datasecs?: Map<string, number[]>;
  /** The symbols of each section, sorted by value then index, built on first use. */
  bySection?: (ElfSymbol[] | undefined)[];
  /** One zeroed allocation that {@linkcode take} hands out in pieces. */
  arena: Uint8Array;
  /** How much of `arena` is handed out (a multiple of 8). */
  arenaUsed: number;
  /** `.BTF.ext` (when the object has `.BTF`), `license` and `version`, if present. */
  named: {
    ext: Section | undefined;
    license: Section | undefined;
    version: Section | undefined;
  };
}

/**
 * `size` fresh zero bytes, 8-aligned, from the object's one allocation when it was sized for
 * them: every copy the spec keeps (BTF, `.BTF.ext`, global data, map keys) shares one
 * `ArrayBuffer`, since in Deno an allocation costs more than copying a few kilobytes.
 */
export function take(ctx: ObjectContext, size: number): Uint8Array {
  const at = ctx.arenaUsed;
  if (size > ctx.arena.length - at) return new Uint8Array(size);
  ctx.arenaUsed = at + align8(size);
  return ctx.arena.subarray(at, at + size);
}

/**
 * A fresh zeroed arena of `size` bytes for one parse. Small arenas are cut from a shared
 * pool, as Node cuts small Buffers from one: an ArrayBuffer of a few kilobytes costs Deno
 * more than the rest of parsing a small object. Each piece is handed out once, so no two
 * specs share bytes; a spec's views keep at most one pool (`POOL_SIZE`) alive.
 */
export function newArena(size: number): Uint8Array {
  if (size > POOL_SIZE / 4) return new Uint8Array(size);
  if (size > pool.length - poolUsed) {
    pool = new Uint8Array(POOL_SIZE);
    poolUsed = 0;
  }
  const at = poolUsed;
  poolUsed = at + align8(size);
  return pool.subarray(at, at + size);
}

const POOL_SIZE = 64 * 1024;
let pool = new Uint8Array(0);
let poolUsed = 0;

/** `n` rounded up to a multiple of 8. */
export function align8(n: number): number {
  return Math.ceil(n / 8) * 8;
}

const SECTION_SYMBOL = 3;

/** The data section (`Datasec`) of BTF named `name`, if the object has BTF and one. */
export function datasec(ctx: ObjectContext, name: string): Datasec | undefined {
  const id = datasecId(ctx, name);
  return id === undefined ? undefined : ctx.btf!.typeById(id) as Datasec;
}

/** The id of the data section (`Datasec`) of BTF named `name`, as {@linkcode datasec}. */
export function datasecId(ctx: ObjectContext, name: string): number | undefined {
  if (!ctx.btf) return undefined;
  // The Datasecs indexing found: cheaper than a by-name lookup, which hashes every name of
  // the spec first, for the few data sections an object has.
  if (ctx.datasecs === undefined) {
    const spec = ctx.btf;
    const ids = new Map<string, number[]>();
    for (const id of datasecIds(spec)) {
      const n = spec.nameOf(id);
      const list = ids.get(n);
      if (list) list.push(id);
      else ids.set(n, [id]);
    }
    ctx.datasecs = ids;
  }
  const all = ctx.datasecs.get(name);
  if (all === undefined) return undefined;
  if (all.length > 1) throw new FormatError(`BTF: ${all.length} data sections "${name}"`, 0);
  return all[0];
}

/**
 * The symbols defined in `section`, sorted by value (then by table index), without section
 * and file symbols.
 */
export function symbolsIn(ctx: ObjectContext, section: Section): ElfSymbol[] {
  let by = ctx.bySection;
  if (!by) {
    // By section index in a plain array: the lists are asked for by real sections only.
    const count = ctx.elf.sections.length;
    by = [];
    for (const s of ctx.symbols) {
      // Section and file symbols name no variable, map or function: no caller wants them.
      if (s.index === 0 || s.section >= count || s.type === SECTION_SYMBOL || s.type === 4) {
        continue;
      }
      const list = by[s.section];
      if (list) list.push(s);
      else by[s.section] = [s];
    }
    for (const list of by) {
      if (list === undefined) continue;
      // Already in order (as clang mostly writes them) needs no sort: lists are in index order.
      let sorted = true;
      for (let i = 1; i < list.length && sorted; i++) sorted = list[i - 1].value <= list[i].value;
      if (!sorted) list.sort((a, b) => a.value - b.value || a.index - b.index);
    }
    ctx.bySection = by;
  }
  return by[section.index] ?? [];
}

/** Up to how many symbols a section is searched for a name without a Map. */
const FEW_SYMBOLS = 16;

/**
 * The named symbol of `section` called `name` (the first in the symbol table, when several
 * are), or a FormatError naming what needs it.
 */
export function symbolNamed(
  ctx: ObjectContext,
  section: Section,
  name: string,
  what: string,
): ElfSymbol {
  const inSection = symbolsIn(ctx, section);
  let found: ElfSymbol | undefined;
  if (name === "") {
    // No symbol is looked up by an empty name.
  } else if (inSection.length <= FEW_SYMBOLS) {
    // Searched in place: a Map hashes every name, fresh strings each parse, which costs
    // more than comparing them (mostly by length) with the few there.
    for (const s of inSection) {
      if (s.name === name && (found === undefined || s.index < found.index)) found = s;
    }
  } else {
    // Per section and on demand: most objects look names up in one or two data sections.
    const byName = ctx.byName ??= new Map();
    let names = byName.get(section.index);
    if (names === undefined) {
      names = new Map();
      for (const s of inSection) {
        const other = names.get(s.name);
        if (other === undefined || s.index < other.index) names.set(s.name, s);
      }
      byName.set(section.index, names);
    }
    found = names.get(name);
  }
  if (found) return found;
  throw new FormatError(
    `ELF: ${what} "${name}" has no symbol in section "${section.name}"`,
    section.offset,
  );
}

/**
 * Sets a Datasec's size and variable offsets from the ELF section and its symbols: in its
 * type object, and in the spec's type words too (by {@linkcode fixupDatasecWords}, which
 * makes the checks), as libbpf fixes the BTF it loads, so that `raw` agrees with the objects.
 */
export function fixupDatasec(ctx: ObjectContext, section: Section, ds: Datasec): void {
  const vars = fixupDatasecWords(ctx, section, idOf(ds));
  ds.size = section.size;
  for (let i = 0; i < vars.length; i++) ds.vars[i].offset = vars[i].offset;
}

/** A variable of a Datasec, as {@linkcode fixupDatasecWords} reads it from the type words. */
export interface SectionVariable {
  /** The variable's name. */
  name: string;
  /** The id of the variable's type (not of the Var). */
  type: number;
  /** Its offset in the section, from its symbol. */
  offset: number;
  /** Its size, as the Datasec says. */
  size: number;
}

/**
 * {@linkcode fixupDatasec} on the type words alone, with the checks decoding the Datasec
 * and its Vars would make, for a reader that needs no type object of them (`.maps`): the
 * objects are decoded from the fixed words when first asked for. Returns the variables in
 * the Datasec's order.
 */
export function fixupDatasecWords(
  ctx: ObjectContext,
  section: Section,
  id: number,
): SectionVariable[] {
  const spec = ctx.btf!;
  checkTypeAlone(spec, id);
  const reader = rawReader(spec);
  const { words: w, offsets, firstId } = reader;
  const o = offsets[id - firstId];
  const vlen = w[o + 1] & 0xffff;
  const out = new Array<SectionVariable>(vlen);
  for (let i = 0, p = o + 3; i < vlen; i++, p += 3) {
    const varId = w[p];
    if (kindOf(reader, varId) !== Kind.Var) {
      // Out of range, typeById throws as decoding the Datasec would.
      const kind = spec.typeById(varId).kind;
      throw new FormatError(`BTF: data section "${section.name}" holds a ${kind}`, 0);
    }
    checkTypeAlone(spec, varId);
    const name = spec.string(typeWord(reader, varId, 0));
    const sym = symbolNamed(ctx, section, name, "variable");
    const size = w[p + 2];
    if (sym.value > section.size || size > section.size - sym.value) {
      throw new FormatError(
        `ELF: variable "${name}" lies outside section "${section.name}"`,
        section.offset,
      );
    }
    w[p + 1] = sym.value;
    out[i] = { name, type: typeWord(reader, varId, 2), offset: sym.value, size };
  }
  w[o + 2] = section.size;
  return out;
}
