/**
 * The writer: a set of type objects back to BTF bytes, with deduplicated strings, in either
 * byte order, optionally as split BTF on top of a base spec, and optionally with the kinds
 * an older kernel does not know replaced by ones it does (as libbpf does before loading).
 *
 * @module
 */

import { BTF_HEADER_SIZE, BTF_MAGIC, type ByteOrder, type Spec } from "./spec.ts";
import { HOST_BYTE_ORDER } from "../asm/mod.ts";
import {
  Array as ArrayType,
  Const,
  Datasec,
  DeclTag,
  Enum,
  type Float,
  Func,
  FuncProto,
  type Fwd,
  type Int,
  Kind,
  kindOf,
  Pointer,
  recordBytes,
  Restrict,
  Struct,
  type Type,
  Typedef,
  TypeTag,
  Union,
  Var,
  Void,
  Volatile,
} from "./types.ts";

const HOST_LITTLE = HOST_BYTE_ORDER === "little";

/**
 * Replacements for kinds and flags an older kernel rejects. Each mirrors what libbpf does
 * when it sanitizes an object's BTF before `BPF_BTF_LOAD`.
 */
export interface KernelCompat {
  /** DECL_TAG becomes a one-byte INT (before Linux 5.16). */
  replaceDeclTags?: boolean;
  /** TYPE_TAG becomes an anonymous CONST (before Linux 5.17). */
  replaceTypeTags?: boolean;
  /** ENUM64 becomes an empty UNION of the same size, and ENUM loses its sign (before 6.0). */
  replaceEnum64?: boolean;
  /** FLOAT becomes an empty anonymous STRUCT of the same size (before Linux 5.13). */
  replaceFloat?: boolean;
  /** VAR becomes an INT and DATASEC a STRUCT of its variables (before Linux 5.2). */
  replaceDatasec?: boolean;
  /** FUNC becomes a TYPEDEF and FUNC_PROTO an ENUM (before Linux 5.0). */
  replaceFuncs?: boolean;
  /** Global and extern FUNC linkage becomes static (before Linux 5.6). */
  stripFuncLinkage?: boolean;
}

/** Options of {@linkcode Builder.marshal} and {@linkcode marshalTypes}. */
export interface MarshalOptions extends KernelCompat {
  /** The byte order to write; little-endian unless given. */
  byteOrder?: ByteOrder;
}

/**
 * Collects types and assigns them ids, then writes them as BTF. Types are numbered in the
 * order they are added; every type they reference that was not added is appended when
 * marshalling, so adding a whole spec in id order keeps every id.
 *
 * @example
 * ```ts
 * import { Builder, Int, Pointer } from "@ebpf/ebpf/btf";
 * const b = new Builder();
 * const id = b.add(new Pointer(new Int("int", 4, 1)));
 * const bytes = b.marshal();
 * ```
 */
export class Builder {
  readonly #base: Spec | undefined;
  readonly #types: Type[] = [];
  readonly #ids = new Map<Type, number>();
  readonly #first: number;

  /** Makes an empty builder; with `base`, it writes split BTF that refers to base types. */
  constructor(options: { base?: Spec } = {}) {
    this.#base = options.base;
    this.#first = options.base ? options.base.nextTypeId : 1;
  }

  /** Adds a type (once) and returns its id. Void is always 0; base types keep their ids. */
  add(type: Type): number {
    if (type instanceof Void) return 0;
    const have = this.#ids.get(type);
    if (have !== undefined) return have;
    const inBase = this.#base?.typeId(type);
    if (inBase !== undefined) return inBase;
    const id = this.#first + this.#types.length;
    this.#types.push(type);
    this.#ids.set(type, id);
    return id;
  }

  /** The id a type has (or will have), or undefined when it has not been added. */
  typeId(type: Type): number | undefined {
    if (type instanceof Void) return 0;
    return this.#ids.get(type) ?? this.#base?.typeId(type);
  }

  /** The types added so far (after `marshal`, including the ones it appended). */
  get types(): readonly Type[] {
    return this.#types;
  }

  /** Writes the types and everything they reference as BTF. */
  marshal(options: MarshalOptions = {}): Uint8Array {
    // Appends referenced types breadth-first; the list grows while it is walked.
    for (let i = 0; i < this.#types.length; i++) forEachRef(this.#types[i], (t) => this.add(t));
    const little = (options.byteOrder ?? "little") === "little";
    const strings = new StringTable(this.#base ? this.#base.stringsLength : 0, !this.#base);
    let typeLen = 0;
    const kinds = new Uint8Array(this.#types.length);
    for (let i = 0; i < this.#types.length; i++) {
      const t = this.#types[i];
      const k = outputKind(t, options);
      kinds[i] = k;
      typeLen += 12 + recordBytes(k, vlenOf(t, k));
    }
    const words = new Uint32Array(typeLen / 4);
    let p = 0;
    const id = (t: Type) => {
      const x = this.typeId(t);
      if (x === undefined) throw new Error("unreachable: referenced type not added");
      return x;
    };
    for (let i = 0; i < this.#types.length; i++) {
      p = encode(this.#types[i], kinds[i], words, p, strings, id, options);
    }
    const strBytes = strings.bytes();
    const out = new Uint8Array(BTF_HEADER_SIZE + typeLen + strBytes.length);
    const v = new DataView(out.buffer);
    v.setUint16(0, BTF_MAGIC, little);
    out[2] = 1;
    out[3] = 0;
    v.setUint32(4, BTF_HEADER_SIZE, little);
    v.setUint32(8, 0, little);
    v.setUint32(12, typeLen, little);
    v.setUint32(16, typeLen, little);
    v.setUint32(20, strBytes.length, little);
    if (little === HOST_LITTLE) {
      out.set(new Uint8Array(words.buffer, 0, typeLen), BTF_HEADER_SIZE);
    } else {
      for (let i = 0, q = BTF_HEADER_SIZE; i < words.length; i++, q += 4) {
        v.setUint32(q, words[i], little);
      }
    }
    out.set(strBytes, BTF_HEADER_SIZE + typeLen);
    return out;
  }
}

/** Writes `types` and everything they reference as BTF; see {@linkcode Builder}. */
export function marshalTypes(
  types: Iterable<Type>,
  options: MarshalOptions & { base?: Spec } = {},
): Uint8Array {
  const b = new Builder({ base: options.base });
  for (const t of types) b.add(t);
  return b.marshal(options);
}

/** Calls `fn` for every type `t` refers to directly. */
export function forEachRef(t: Type, fn: (ref: Type) => void): void {
  if (
    t instanceof Pointer
  ) fn(t.target);
  else if (t instanceof ArrayType) {
    fn(t.type);
    fn(t.index);
  } else if (t instanceof Struct || t instanceof Union) {
    for (const m of t.members) fn(m.type);
  } else if (t instanceof FuncProto) {
    fn(t.return);
    for (const p of t.params) fn(p.type);
  } else if (t instanceof Datasec) {
    for (const v of t.vars) fn(v.type);
  } else if (
    t instanceof Typedef || t instanceof Volatile || t instanceof Const ||
    t instanceof Restrict || t instanceof TypeTag || t instanceof Func || t instanceof Var ||
    t instanceof DeclTag
  ) fn(t.type);
}

/**
 * The string section being written. Strings are kept as JS strings with their UTF-8 sizes
 * counted by hand, and encoded once at the end: a TextEncoder call and a small typed array
 * per string cost more than the rest of marshalling put together.
 */
class StringTable {
  readonly #map = new Map<string, number>();
  readonly #list: string[] = [];
  #length = 0;
  readonly #start: number;
  readonly #leadingEmpty: boolean;

  constructor(start: number, leadingEmpty: boolean) {
    this.#start = start;
    this.#leadingEmpty = leadingEmpty;
    if (leadingEmpty) this.#length = 1;
  }

  add(s: string): number {
    if (s === "") return 0;
    const have = this.#map.get(s);
    if (have !== undefined) return have;
    if (typeof s !== "string") throw new TypeError(`BTF name must be a string: ${s}`);
    const off = this.#start + this.#length;
    this.#length += utf8Size(s) + 1;
    this.#list.push(s);
    this.#map.set(s, off);
    return off;
  }

  bytes(): Uint8Array {
    const out = new Uint8Array(this.#length);
    if (this.#list.length === 0) return out;
    const at = this.#leadingEmpty ? 1 : 0;
    // The NULs between strings come from the join; the last one is the array's own zero.
    const { written } = encoder.encodeInto(this.#list.join("\0"), out.subarray(at));
    if (at + written !== this.#length - 1) {
      throw new Error("unreachable: string section size differs from its encoding");
    }
    return out;
  }
}

const encoder = new TextEncoder();

/**
 * The UTF-8 size of `s` as TextEncoder writes it (a lone surrogate becomes U+FFFD, 3 bytes);
 * a NUL inside is a TypeError, as it would cut the string short.
 */
function utf8Size(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) {
      if (c === 0) throw new TypeError(`BTF name contains NUL: "${s}"`);
      n += 1;
    } else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

function outputKind(t: Type, o: KernelCompat): number {
  const k = kindOf(t);
  if (k === Kind.Unknown) throw new TypeError("Void cannot be written as a BTF type");
  switch (k) {
    case Kind.DeclTag:
      return o.replaceDeclTags ? Kind.Int : k;
    case Kind.TypeTag:
      return o.replaceTypeTags ? Kind.Const : k;
    case Kind.Enum64:
      return o.replaceEnum64 ? Kind.Union : k;
    case Kind.Float:
      return o.replaceFloat ? Kind.Struct : k;
    case Kind.Var:
      return o.replaceDatasec ? Kind.Int : k;
    case Kind.Datasec:
      return o.replaceDatasec ? Kind.Struct : k;
    case Kind.Func:
      return o.replaceFuncs ? Kind.Typedef : k;
    case Kind.FuncProto:
      return o.replaceFuncs ? Kind.Enum : k;
  }
  return k;
}

function vlenOf(t: Type, outKind: number): number {
  let n = 0;
  if (t instanceof Struct || t instanceof Union) n = t.members.length;
  else if (t instanceof Enum) n = outKind === Kind.Union ? 0 : t.values.length;
  else if (t instanceof FuncProto) n = t.params.length;
  else if (t instanceof Datasec) n = t.vars.length;
  if (n > 0xffff) throw new RangeError(`Too many members in ${t}: ${n} (at most 65535)`);
  return n;
}

function u32(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) {
    throw new RangeError(`${what} must be a 32-bit unsigned integer: ${n}`);
  }
  return n;
}

function info(kind: number, vlen: number, kflag: boolean): number {
  return ((kflag ? 0x80000000 : 0) | (kind << 24) | vlen) >>> 0;
}

function encode(
  t: Type,
  k: number,
  w: Uint32Array,
  p: number,
  strings: StringTable,
  id: (t: Type) => number,
  o: KernelCompat,
): number {
  const vlen = vlenOf(t, k);
  w[p] = strings.add(t.name);
  switch (kindOf(t)) {
    case Kind.Int: {
      const x = t as Int;
      w[p + 1] = info(Kind.Int, 0, false);
      w[p + 2] = u32(x.size, "Int size");
      if (x.bits > 255 || x.bitOffset > 255 || x.encoding > 15) {
        throw new RangeError(`Int "${x.name}" has bits, offset or encoding out of range`);
      }
      w[p + 3] = ((x.encoding << 24) | (x.bitOffset << 16) | x.bits) >>> 0;
      return p + 4;
    }
    case Kind.Pointer:
      w[p + 1] = info(Kind.Pointer, 0, false);
      w[p + 2] = id((t as Pointer).target);
      return p + 3;
    case Kind.Array: {
      const a = t as ArrayType;
      w[p + 1] = info(Kind.Array, 0, false);
      w[p + 2] = 0;
      w[p + 3] = id(a.type);
      w[p + 4] = id(a.index);
      w[p + 5] = u32(a.nelems, "Array nelems");
      return p + 6;
    }
    case Kind.Struct:
    case Kind.Union: {
      const s = t as Struct | Union;
      const members = s.members;
      const kflag = members.some((m) => m.bitfieldSize !== 0);
      w[p + 1] = info(kindOf(t), vlen, kflag);
      w[p + 2] = u32(s.size, "Struct size");
      let q = p + 3;
      for (const m of members) {
        w[q] = strings.add(m.name);
        w[q + 1] = id(m.type);
        if (kflag) {
          if (m.offset > 0xffffff || m.bitfieldSize > 0xff) {
            throw new RangeError(`Member "${m.name}" of ${t}: offset or bitfield too large`);
          }
          w[q + 2] = ((m.bitfieldSize << 24) | u32(m.offset, "Member offset")) >>> 0;
        } else {
          w[q + 2] = u32(m.offset, "Member offset");
        }
        q += 3;
      }
      return q;
    }
    case Kind.Enum: {
      const e = t as Enum;
      const signed = e.signed && !o.replaceEnum64;
      w[p + 1] = info(Kind.Enum, vlen, signed);
      w[p + 2] = u32(e.size, "Enum size");
      let q = p + 3;
      for (const v of e.values) {
        w[q] = strings.add(v.name);
        w[q + 1] = Number(BigInt.asUintN(32, v.value));
        q += 2;
      }
      return q;
    }
    case Kind.Enum64: {
      const e = t as Enum;
      if (k === Kind.Union) {
        w[p + 1] = info(Kind.Union, 0, false);
        w[p + 2] = u32(e.size, "Enum size");
        return p + 3;
      }
      w[p + 1] = info(Kind.Enum64, vlen, e.signed);
      w[p + 2] = u32(e.size, "Enum size");
      let q = p + 3;
      for (const v of e.values) {
        const u = BigInt.asUintN(64, v.value);
        w[q] = strings.add(v.name);
        w[q + 1] = Number(u & 0xffffffffn);
        w[q + 2] = Number(u >> 32n);
        q += 3;
      }
      return q;
    }
    case Kind.Fwd:
      w[p + 1] = info(Kind.Fwd, 0, (t as Fwd).fwdKind === "union");
      w[p + 2] = 0;
      return p + 3;
    case Kind.Typedef:
    case Kind.Volatile:
    case Kind.Const:
    case Kind.Restrict:
      w[p + 1] = info(kindOf(t), 0, false);
      w[p + 2] = id((t as Typedef).type);
      return p + 3;
    case Kind.TypeTag:
      if (k === Kind.Const) w[p] = 0;
      w[p + 1] = info(k, 0, false);
      w[p + 2] = id((t as TypeTag).type);
      return p + 3;
    case Kind.Func: {
      const f = t as Func;
      const linkage = o.stripFuncLinkage || k === Kind.Typedef ? 0 : f.linkage;
      if (linkage > 0xffff) throw new RangeError(`Func "${f.name}" linkage out of range`);
      w[p + 1] = info(k, linkage, false);
      w[p + 2] = id(f.type);
      return p + 3;
    }
    case Kind.FuncProto: {
      const fp = t as FuncProto;
      let q = p + 3;
      if (k === Kind.Enum) {
        w[p + 1] = info(Kind.Enum, vlen, false);
        w[p + 2] = 4;
        for (const param of fp.params) {
          w[q] = strings.add(param.name);
          w[q + 1] = 0;
          q += 2;
        }
        return q;
      }
      w[p + 1] = info(Kind.FuncProto, vlen, false);
      w[p + 2] = id(fp.return);
      for (const param of fp.params) {
        w[q] = strings.add(param.name);
        w[q + 1] = id(param.type);
        q += 2;
      }
      return q;
    }
    case Kind.Var: {
      const v = t as Var;
      if (k === Kind.Int) {
        w[p + 1] = info(Kind.Int, 0, false);
        w[p + 2] = 1;
        w[p + 3] = 8;
        return p + 4;
      }
      w[p + 1] = info(Kind.Var, 0, false);
      w[p + 2] = id(v.type);
      w[p + 3] = u32(v.linkage, "Var linkage");
      return p + 4;
    }
    case Kind.Datasec: {
      const d = t as Datasec;
      let q = p + 3;
      if (k === Kind.Struct) {
        // The kernel before 5.2 wants C identifiers: ".data" becomes "_data".
        w[p] = strings.add(d.name.replace(/\./g, "_"));
        w[p + 1] = info(Kind.Struct, vlen, false);
        w[p + 2] = u32(d.size, "Datasec size");
        for (const v of d.vars) {
          const target = v.type instanceof Var ? v.type.type : v.type;
          w[q] = strings.add(v.type.name);
          w[q + 1] = id(target);
          w[q + 2] = u32(v.offset * 8, "Datasec offset");
          q += 3;
        }
        return q;
      }
      w[p + 1] = info(Kind.Datasec, vlen, false);
      w[p + 2] = u32(d.size, "Datasec size");
      for (const v of d.vars) {
        w[q] = id(v.type);
        w[q + 1] = u32(v.offset, "Datasec offset");
        w[q + 2] = u32(v.size, "Datasec size");
        q += 3;
      }
      return q;
    }
    case Kind.Float:
      if (k === Kind.Struct) {
        w[p] = 0;
        w[p + 1] = info(Kind.Struct, 0, false);
      } else {
        w[p + 1] = info(Kind.Float, 0, false);
      }
      w[p + 2] = u32((t as Float).size, "Float size");
      return p + 3;
    case Kind.DeclTag: {
      const d = t as DeclTag;
      if (k === Kind.Int) {
        w[p + 1] = info(Kind.Int, 0, false);
        w[p + 2] = 1;
        w[p + 3] = 8;
        return p + 4;
      }
      if (!Number.isInteger(d.index) || d.index < -1 || d.index > 0x7fffffff) {
        throw new RangeError(`DeclTag "${d.name}" index out of range: ${d.index}`);
      }
      w[p + 1] = info(Kind.DeclTag, 0, false);
      w[p + 2] = id(d.type);
      w[p + 3] = d.index >>> 0;
      return p + 4;
    }
  }
  throw new TypeError(`Cannot write ${t}`);
}
