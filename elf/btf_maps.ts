/**
 * BTF-defined maps: the variables of the `.maps` section, whose BTF struct types say what
 * each map is (libbpf's `__uint`, `__type` and `__array` macros), with the initial entries
 * of map-in-map and program array maps taken from the section's relocations.
 *
 * @module
 */

import {
  Array as ArrayType,
  Enum,
  FuncProto,
  Pointer,
  sizeof,
  Struct,
  type Type,
  underlyingType,
  type Var,
} from "../btf/mod.ts";
import { FormatError } from "../errors.ts";
import { type MapEntry, MapSpec, PinType } from "../map/map_spec.ts";
import { MapType } from "../map/map_type.ts";
import { type Section, SectionFlag, SymbolType } from "./elf_file.ts";
import { datasec, fixupDatasec, type ObjectContext, symbolNamed } from "./_object.ts";

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
  const ds = datasec(ctx, BTF_MAPS_SECTION);
  if (!ds) {
    throw new FormatError(`ELF: section "${BTF_MAPS_SECTION}" without BTF to describe it`, 0);
  }
  fixupDatasec(ctx, section, ds);
  const out: MapSpec[] = [];
  for (const vsi of [...ds.vars].sort((a, b) => a.offset - b.offset)) {
    const v = vsi.type as Var;
    const def = underlyingType(v.type);
    if (!(def instanceof Struct)) {
      throw new FormatError(`BTF: map "${v.name}" is a ${def.kind}, not a struct`, 0);
    }
    const map = mapFromStruct(v.name, def, false);
    const values = def.members.find((m) => m.name === "values");
    if (values) {
      const start = vsi.offset + values.offset / 8;
      const end = vsi.offset + vsi.size;
      map.contents = initialValues(ctx, map, section, relocations, start, end);
    }
    out.push(map);
  }
  return out;
}

/** A map spec from a map definition struct; `inner` for the definition in `__array`. */
function mapFromStruct(name: string, def: Struct, inner: boolean): MapSpec {
  const map = new MapSpec({ name, type: MapType.Unspecified });
  let keySize: number | undefined;
  let valueSize: number | undefined;
  for (const m of def.members) {
    switch (m.name) {
      case "type":
        map.type = uintMember(name, m.name, m.type) as MapType;
        break;
      case "max_entries":
        map.maxEntries = uintMember(name, m.name, m.type);
        break;
      case "map_flags":
        map.flags = uintMember(name, m.name, m.type);
        break;
      case "numa_node":
        map.numaNode = uintMember(name, m.name, m.type);
        break;
      case "map_extra":
        map.mapExtra = fieldValue(name, m.name, m.type);
        break;
      case "pinning": {
        const pinning = uintMember(name, m.name, m.type);
        if (pinning !== PinType.None && pinning !== PinType.ByName) {
          throw new FormatError(`BTF: map "${name}" has unknown pinning ${pinning}`, 0);
        }
        map.pinning = pinning;
        break;
      }
      case "key_size":
        keySize = checkSize(name, "key", keySize, uintMember(name, m.name, m.type));
        break;
      case "value_size":
        valueSize = checkSize(name, "value", valueSize, uintMember(name, m.name, m.type));
        break;
      case "key": {
        map.key = typeMember(name, m.name, m.type);
        keySize = checkSize(name, "key", keySize, typeSize(name, map.key as Type));
        break;
      }
      case "value": {
        map.value = typeMember(name, m.name, m.type);
        valueSize = checkSize(name, "value", valueSize, typeSize(name, map.value as Type));
        break;
      }
      case "values": {
        if (inner) throw new FormatError(`BTF: inner map "${name}" has values`, 0);
        const arr = underlyingType(m.type);
        const ptr = arr instanceof ArrayType ? underlyingType(arr.type) : undefined;
        const target = ptr instanceof Pointer ? underlyingType(ptr.target) : undefined;
        if (target instanceof Struct) {
          map.innerMap = mapFromStruct(`${name}.inner`, target, true);
        } else if (!(target instanceof FuncProto)) {
          throw new FormatError(`BTF: map "${name}" has values of an unknown kind`, 0);
        }
        // Map-in-map and program array values are 4-byte fds or ids.
        valueSize = checkSize(name, "value", valueSize, 4);
        break;
      }
      default:
        // libbpf refuses unknown fields by default (strict mode): they would be ignored.
        throw new FormatError(`BTF: map "${name}" has unknown field "${m.name}"`, 0);
    }
  }
  map.keySize = keySize ?? 0;
  map.valueSize = valueSize ?? 0;
  return map;
}

/** A 32-bit field: `__uint()`, or `__ulong()` with a value that fits. */
function uintMember(map: string, field: string, t: Type): number {
  const value = fieldValue(map, field, t);
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
function fieldValue(map: string, field: string, t: Type): bigint {
  const type = underlyingType(t);
  if (type instanceof Enum) {
    const values = type.values;
    if (values.length !== 1 || values[0].value < 0n) {
      throw new FormatError(
        `BTF: field "${field}" of map "${map}" is an enum, but not __ulong(): ` +
          `it needs exactly one enumerator, of a value not below 0`,
        0,
      );
    }
    return values[0].value;
  }
  const arr = type instanceof Pointer ? underlyingType(type.target) : undefined;
  if (!(arr instanceof ArrayType)) {
    throw new FormatError(
      `BTF: field "${field}" of map "${map}" is neither __uint() nor __ulong()`,
      0,
    );
  }
  return BigInt(arr.nelems);
}

/** `__type(name, T)` is `T *name`. */
function typeMember(map: string, field: string, t: Type): Type {
  const ptr = underlyingType(t);
  if (!(ptr instanceof Pointer)) {
    throw new FormatError(`BTF: field "${field}" of map "${map}" is not __type()`, 0);
  }
  return ptr.target;
}

function typeSize(map: string, t: Type): number {
  try {
    return sizeof(t);
  } catch (e) {
    throw new FormatError(`BTF: map "${map}" has a key or value of no size`, 0, { cause: e });
  }
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
