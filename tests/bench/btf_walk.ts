// The TypeScript side of the BTF benchmark: the same walks as btf_parse.c, over the raw
// tables (no allocation per type) and over the type objects.
import { Datasec, Enum, FuncProto, Kind, kindOf, type Spec, Struct, Union } from "../../btf/mod.ts";

/** Sums the fields btf_parse.c sums, reading spec.raw as libbpf's walk reads struct btf_type. */
export function walkRaw(spec: Spec): number {
  const { words: w, offsets, count } = spec.raw;
  let sum = 0;
  for (let i = 0; i < count; i++) {
    const o = offsets[i];
    const info = w[o + 1];
    const kind = (info >>> 24) & 0x1f;
    const vlen = info & 0xffff;
    sum += kind + vlen + w[o] + w[o + 2];
    let p = o + 3;
    switch (kind) {
      case Kind.Struct:
      case Kind.Union:
        for (let j = 0; j < vlen; j++, p += 3) sum += w[p] + w[p + 1] + w[p + 2];
        break;
      case Kind.Enum:
      case Kind.FuncProto:
        for (let j = 0; j < vlen; j++, p += 2) sum += w[p] + w[p + 1];
        break;
      case Kind.Enum64:
        for (let j = 0; j < vlen; j++, p += 3) sum += w[p] + w[p + 1] + w[p + 2];
        break;
      case Kind.Datasec:
        for (let j = 0; j < vlen; j++, p += 3) sum += w[p] + w[p + 1] + w[p + 2];
        break;
      case Kind.Array:
        sum += w[p] + w[p + 1] + w[p + 2];
        break;
      case Kind.Int:
      case Kind.Var:
      case Kind.DeclTag:
        sum += w[p];
        break;
    }
  }
  return sum;
}

/**
 * Decodes every type object and reads what it holds: its name; every member's name, type,
 * offset and bitfield size; every enumerator's name; every parameter's name and type;
 * every section entry's type, offset and size. Computes the checksum of `walk_resolved` in
 * btf_parse.c, which reads the same through libbpf (names as C strings, referenced types
 * through btf__type_by_id).
 */
export function walkObjects(spec: Spec): number {
  let sum = 0;
  for (const t of spec.types()) {
    sum += kindOf(t) + t.name.length;
    if (t instanceof Struct || t instanceof Union) {
      for (const m of t.members) {
        sum += m.name.length + kindOf(m.type) + m.offset + m.bitfieldSize;
      }
    } else if (t instanceof Enum) {
      for (const v of t.values) sum += 1 + v.name.length;
    } else if (t instanceof FuncProto) {
      for (const p of t.params) sum += p.name.length + kindOf(p.type);
    } else if (t instanceof Datasec) {
      for (const v of t.vars) sum += kindOf(v.type) + v.offset + v.size;
    }
  }
  return sum;
}
