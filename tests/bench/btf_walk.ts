// The TypeScript side of the BTF benchmark: the same walk as btf_parse.c, over the raw
// tables (no allocation per type) and over the type objects.
import { Datasec, Enum, FuncProto, Kind, type Spec, Struct, Union } from "../../btf/mod.ts";

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
 * Decodes every type object and every member, value, parameter and section entry: what a
 * program that uses the object API over all of vmlinux pays. Returns a count.
 */
export function walkObjects(spec: Spec): number {
  let n = 0;
  for (const t of spec.types()) {
    n++;
    if (t instanceof Struct || t instanceof Union) {
      for (const m of t.members) n += m.offset + (m.type.kind === "void" ? 0 : 1);
    } else if (t instanceof Enum) n += t.values.length;
    else if (t instanceof FuncProto) n += t.params.length;
    else if (t instanceof Datasec) n += t.vars.length;
  }
  return n;
}
