/**
 * BTF-defined maps: the variables of the `.maps` section, whose BTF struct types say what
 * each map is (libbpf's `__uint`, `__type` and `__array` macros), with the initial entries
 * of map-in-map and program array maps taken from the section's relocations.
 *
 * @module
 */

import { Kind, type Spec, underlyingType } from "../btf/mod.ts";
import { type RawBtf, rawReader } from "../btf/spec.ts";
import {
  kindAt,
  kindOf,
  type RawPlace,
  type RawReader,
  resolvedSize,
  SIZEOF_SIZES,
  underlyingId,
} from "../btf/_raw_reader.ts";
import { FormatError } from "../errors.ts";
import { type MapEntry, MapSpec, PinType } from "../map/map_spec.ts";
import { MapType } from "../map/map_type.ts";
import { type Section, SectionFlag, SymbolType } from "./elf_file.ts";
import { datasecId, fixupDatasecWords, type ObjectContext, symbolNamed } from "./_object.ts";

/** The name of the section of BTF-defined maps. */
export const BTF_MAPS_SECTION = ".maps";

/**
 * Reads every map of `.maps`, in the order of their offsets. `relocations` are the entries
 * of `.rel.maps`; they fill the `values` of map-in-map and program array maps.
 */
export function readBtfMaps(
  ctx: ObjectContext,
  section: Section,
  relocations: readonly { offset: number; symbol: number }[],
): MapSpec[] {
  const id = datasecId(ctx, BTF_MAPS_SECTION);
  if (id === undefined) {
    throw new FormatError(`ELF: section "${BTF_MAPS_SECTION}" without BTF to describe it`, 0);
  }
  // The Datasec, its Vars and the definitions are read from the raw words: no type object
  // is made for them, only for the keys and values.
  const vars = fixupDatasecWords(ctx, section, id);
  const out: MapSpec[] = [];
  const r = rawTypes(ctx.btf!);
  for (const v of vars.sort((a, b) => a.offset - b.offset)) {
    const def = underlying(r, v.name, v.type);
    if (kindHere(r, def) !== Kind.Struct) {
      const kind = underlyingType(r.spec.typeById(v.type)).kind;
      throw new FormatError(`BTF: map "${v.name}" is a ${kind}, not a struct`, 0);
    }
    const { map, valuesAt } = readDefinition(r, v.name, r.at.tables.words, def, false);
    if (valuesAt !== undefined) {
      const start = v.offset + valuesAt / 8;
      const end = v.offset + v.size;
      map.contents = initialValues(ctx, map, section, relocations, start, end);
    }
    out.push(map);
  }
  return out;
}

/**
 * The type words a map definition is read from. Definitions are read from the raw words,
 * every id and string offset checked as read: most objects' BTF is not validated while the
 * ELF reader runs, and type objects are made for the key and value only.
 */
interface RawTypes {
  spec: Spec;
  raw: RawBtf & RawReader;
  /** Where the type {@linkcode underlying} found last starts. */
  at: RawPlace;
}

/** The raw tables of `spec`, as the readers below take them. */
function rawTypes(spec: Spec): RawTypes {
  const raw = rawReader(spec);
  return { spec, raw, at: { tables: raw, word: -1 } };
}

/**
 * Reads the map definition struct at word `o` of `w`; `valuesAt` is the bit offset of its
 * `values` member, if it has one.
 */
function readDefinition(
  r: RawTypes,
  name: string,
  w: Uint32Array,
  o: number,
  inner: boolean,
): { map: MapSpec; valuesAt: number | undefined } {
  const map = new MapSpec({ name, type: MapType.Unspecified });
  let keySize: number | undefined;
  let valueSize: number | undefined;
  let valuesAt: number | undefined;
  const info = w[o + 1];
  const kflag = info >>> 31;
  for (let j = 0, p = o + 3; j < (info & 0xffff); j++, p += 3) {
    const field = fieldName(r, w[p]);
    const member = w[p + 1];
    switch (field) {
      case "type":
        map.type = uintMember(r, name, field, member) as MapType;
        break;
      case "max_entries":
        map.maxEntries = uintMember(r, name, field, member);
        break;
      case "map_flags":
        map.flags = uintMember(r, name, field, member);
        break;
      case "numa_node":
        map.numaNode = uintMember(r, name, field, member);
        break;
      case "map_extra":
        map.mapExtra = fieldValue(r, name, field, member);
        break;
      case "pinning": {
        const pinning = uintMember(r, name, field, member);
        if (pinning !== PinType.None && pinning !== PinType.ByName) {
          throw new FormatError(`BTF: map "${name}" has unknown pinning ${pinning}`, 0);
        }
        map.pinning = pinning;
        break;
      }
      case "key_size":
        keySize = checkSize(name, "key", keySize, uintMember(r, name, field, member));
        break;
      case "value_size":
        valueSize = checkSize(name, "value", valueSize, uintMember(r, name, field, member));
        break;
      case "key": {
        const target = typeMember(r, name, field, member);
        map.key = r.spec.typeById(target);
        keySize = checkSize(name, "key", keySize, typeSize(r, name, target));
        break;
      }
      case "value": {
        const target = typeMember(r, name, field, member);
        map.value = r.spec.typeById(target);
        valueSize = checkSize(name, "value", valueSize, typeSize(r, name, target));
        break;
      }
      case "values": {
        if (inner) throw new FormatError(`BTF: inner map "${name}" has values`, 0);
        valuesAt = kflag ? w[p + 2] & 0xffffff : w[p + 2];
        // `__array(values, T)` is an array of pointers to T: a definition or a function.
        const arr = underlying(r, name, member);
        const ptr = kindHere(r, arr) === Kind.Array
          ? underlying(r, name, r.at.tables.words[arr + 3])
          : -1;
        const target = kindHere(r, ptr) === Kind.Pointer
          ? underlying(r, name, r.at.tables.words[ptr + 2])
          : -1;
        const kind = kindHere(r, target);
        if (kind === Kind.Struct) {
          const def = readDefinition(r, `${name}.inner`, r.at.tables.words, target, true);
          map.innerMap = def.map;
        } else if (kind !== Kind.FuncProto) {
          throw new FormatError(`BTF: map "${name}" has values of an unknown kind`, 0);
        }
        // Map-in-map and program array values are 4-byte fds or ids.
        valueSize = checkSize(name, "value", valueSize, 4);
        break;
      }
      default:
        // libbpf refuses unknown fields by default (strict mode): they would be ignored.
        throw new FormatError(`BTF: map "${name}" has unknown field "${field}"`, 0);
    }
  }
  map.keySize = keySize ?? 0;
  map.valueSize = valueSize ?? 0;
  return { map, valuesAt };
}

/** The fields of a map definition that {@linkcode readDefinition} knows. */
const FIELDS = [
  "type",
  "max_entries",
  "key",
  "value",
  "key_size",
  "value_size",
  "map_flags",
  "pinning",
  "numa_node",
  "map_extra",
  "values",
] as const;

/**
 * The name of a definition's member at string offset `off`: one of {@linkcode FIELDS},
 * found by comparing bytes (no string decoded for a field every map has), else decoded.
 */
function fieldName(r: RawTypes, off: number): string {
  const rel = off - r.raw.stringsBase;
  const b = r.raw.strings;
  if (rel >= 0 && rel < b.length) {
    for (const f of FIELDS) {
      if (b[rel] !== f.charCodeAt(0)) continue;
      let i = 1;
      while (i < f.length && b[rel + i] === f.charCodeAt(i)) i++;
      if (i === f.length && b[rel + i] === 0) return f;
    }
  }
  return r.spec.string(off);
}

/** How long a chain of typedefs and qualifiers may be (as `underlyingType` allows). */
const MAX_RESOLVE_DEPTH = 32;

/**
 * The type `id` names through typedefs and qualifiers (`underlyingType`): the word where it
 * starts in `r.at.tables.words` (read before the next call), -1 for void.
 */
function underlying(r: RawTypes, map: string, id: number): number {
  const found = underlyingId(r.raw, id, MAX_RESOLVE_DEPTH, r.at);
  if (found < 0) {
    throw new FormatError(`BTF: map "${map}" has a typedef chain longer than 32 (or cyclic)`, 0);
  }
  if (r.at.word < 0 && found !== 0) throw missingType(map, found);
  return r.at.word;
}

/** The kind of the type {@linkcode underlying} found at word `o` (void for -1). */
function kindHere(r: RawTypes, o: number): number {
  return o < 0 ? 0 : kindAt(r.at.tables, o);
}

function missingType(map: string, id: number): FormatError {
  return new FormatError(`BTF: map "${map}" refers to type ${id}, which does not exist`, 0);
}

/** A 32-bit field: `__uint()`, or `__ulong()` with a value that fits. */
function uintMember(r: RawTypes, map: string, field: string, id: number): number {
  // `__uint()`, the usual form, read without making a bigint (see fieldValue).
  const ptr = underlying(r, map, id);
  if (kindHere(r, ptr) === Kind.Pointer) {
    const arr = underlying(r, map, r.at.tables.words[ptr + 2]);
    if (kindHere(r, arr) === Kind.Array) return r.at.tables.words[arr + 5];
  }
  const value = fieldValue(r, map, field, id);
  if (value > 0xffffffffn) {
    throw new FormatError(
      `BTF: field "${field}" of map "${map}" is ${value}, more than 32 bits hold`,
      0,
    );
  }
  return Number(value);
}

/**
 * A number field. `__uint(name, n)` is `int (*name)[n]`: n is the element count of the
 * pointed-to array. `__ulong(name, n)` (libbpf 1.4, for values past 32 bits) is an anonymous
 * `enum { <unique> = n } name`: one enumerator whose value is n (an enum64 when n needs it).
 */
function fieldValue(r: RawTypes, map: string, field: string, id: number): bigint {
  const o = underlying(r, map, id);
  const kind = kindHere(r, o);
  const w = r.at.tables.words;
  if (kind === Kind.Enum || kind === Kind.Enum64) {
    const info = w[o + 1];
    const signed = info >>> 31 === 1;
    let value = -1n;
    if ((info & 0xffff) === 1) {
      if (kind === Kind.Enum) value = signed ? BigInt(w[o + 4] | 0) : BigInt(w[o + 4]);
      else {
        const u = (BigInt(w[o + 5]) << 32n) | BigInt(w[o + 4]);
        value = signed ? BigInt.asIntN(64, u) : u;
      }
    }
    if (value < 0n) {
      throw new FormatError(
        `BTF: field "${field}" of map "${map}" is an enum, but not __ulong(): ` +
          `it needs exactly one enumerator, of a value not below 0`,
        0,
      );
    }
    return value;
  }
  const arr = kind === Kind.Pointer ? underlying(r, map, w[o + 2]) : -1;
  if (kindHere(r, arr) !== Kind.Array) {
    throw new FormatError(
      `BTF: field "${field}" of map "${map}" is neither __uint() nor __ulong()`,
      0,
    );
  }
  return BigInt(r.at.tables.words[arr + 5]);
}

/** `__type(name, T)` is `T *name`: the id of T. */
function typeMember(r: RawTypes, map: string, field: string, id: number): number {
  const ptr = underlying(r, map, id);
  if (kindHere(r, ptr) !== Kind.Pointer) {
    throw new FormatError(`BTF: field "${field}" of map "${map}" is not __type()`, 0);
  }
  const target = r.at.tables.words[ptr + 2];
  if (kindOf(r.raw, target) < 0) throw missingType(map, target);
  return target;
}

/** The size of type `id`, as `sizeof` gives it. */
function typeSize(r: RawTypes, map: string, id: number): number {
  const size = resolvedSize(r.raw, id, SIZEOF_SIZES, MAX_RESOLVE_DEPTH);
  if (size >= 0) return size;
  const stop = -1 - size;
  if (kindOf(r.raw, stop) < 0) throw missingType(map, stop);
  throw new FormatError(`BTF: map "${map}" has a key or value of no size`, 0);
}

function checkSize(map: string, what: string, had: number | undefined, size: number): number {
  if (had !== undefined && had !== size) {
    throw new FormatError(`BTF: map "${map}" has ${what} sizes ${had} and ${size}`, 0);
  }
  return size;
}

/**
 * The static entries of `values`: each relocation in `[start, end)` of `.maps` puts the
 * map (map-in-map) or program (program array) its symbol names in the slot it patches.
 * Keys are slot indexes and values names in the same CollectionSpec, for the loader.
 */
function initialValues(
  ctx: ObjectContext,
  map: MapSpec,
  section: Section,
  relocations: readonly { offset: number; symbol: number }[],
  start: number,
  end: number,
): MapEntry[] {
  const entries: { key: number; value: string }[] = [];
  const isProgArray = map.innerMap === undefined;
  for (const rel of relocations) {
    if (rel.offset < start || rel.offset >= end) continue;
    if ((rel.offset - start) % 8 !== 0) {
      throw new FormatError(`ELF: misaligned value relocation in map "${map.name}"`, 0);
    }
    const index = (rel.offset - start) / 8;
    if (index >= map.maxEntries) {
      throw new FormatError(
        `ELF: value ${index} of map "${map.name}" exceeds max_entries ${map.maxEntries}`,
        0,
      );
    }
    const sym = ctx.symbols[rel.symbol];
    const target = ctx.elf.sections[sym.section];
    const isFunc = sym.type === SymbolType.Func && target !== undefined &&
      (target.flagBits & SectionFlag.ExecInstr) !== 0;
    if (isProgArray ? !isFunc : sym.section !== section.index || sym.name === "") {
      throw new FormatError(
        `ELF: value ${index} of map "${map.name}" refers to "${sym.name}", not a ${
          isProgArray ? "program" : "map"
        }`,
        0,
      );
    }
    if (!isProgArray) symbolNamed(ctx, section, sym.name, "map");
    entries.push({ key: index, value: sym.name });
  }
  return entries.sort((a, b) => a.key - b.key);
}
