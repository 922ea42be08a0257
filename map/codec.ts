/**
 * Codecs: JavaScript values to and from the bytes of a BTF type, for map keys and values.
 *
 * A codec is a tree of closures built once per type; a struct's member accessors in use are
 * compiled into an object literal (see "Compiled accessors" below): integers become
 * numbers (bigints at 8 bytes), enums their enumerator's name, char arrays strings, other
 * arrays JavaScript arrays, structs and unions plain objects (anonymous members flattened
 * into their parent, as C reads them), bitfields numbers. Encoding checks the shape first
 * and throws `TypeError` or `RangeError` naming the path of the bad field, so a wrong value
 * never reaches a syscall. Padding is written as zeros.
 *
 * This file is pure: it needs no permission and never touches the kernel.
 *
 * @module
 */

import {
  Array as ArrayType,
  Const,
  Datasec,
  DeclTag,
  Enum,
  Float,
  Func,
  FuncProto,
  Fwd,
  Int,
  IntEncoding,
  type Member,
  Pointer,
  Restrict,
  Struct,
  type Type,
  Typedef,
  TypeTag,
  Union,
  Var,
  Void,
  Volatile,
} from "../btf/types.ts";
import { sizeof, underlyingType } from "../btf/helpers.ts";
import { HOST_BYTE_ORDER } from "../asm/mod.ts";

/** Whether multi-byte values are stored little-endian: maps use the host's byte order. */
const LE = HOST_BYTE_ORDER === "little";
const MAX_DEPTH = 32;

/**
 * Struct types the kernel manages inside map values. They may be left out when encoding
 * (they are written as zeros, which is what the kernel expects from user space) and are
 * left out when decoding.
 */
const KERNEL_MANAGED = new Set([
  "bpf_spin_lock",
  "bpf_res_spin_lock",
  "bpf_timer",
  "bpf_wq",
  "bpf_task_work",
  "bpf_list_head",
  "bpf_list_node",
  "bpf_rb_root",
  "bpf_rb_node",
  "bpf_refcount",
]);

/** Encodes and decodes the bytes of one BTF type. */
export interface Codec {
  /** The BTF type the codec was built for (a `btf.Type`). */
  readonly type: unknown;
  /** The size of the encoded value in bytes. */
  readonly size: number;
  /**
   * Writes `value` at `offset` of `bytes` (whose DataView is `view`). Throws `TypeError` or
   * `RangeError` when the value has the wrong shape; `path` names the value in messages.
   */
  encode(value: unknown, view: DataView, bytes: Uint8Array, offset: number, path: string): void;
  /** Reads the value at `offset`. */
  decode(view: DataView, bytes: Uint8Array, offset: number): unknown;
}

const cache = new WeakMap<Type, Codec>();

/**
 * The BTF of a map key or value describes a layout no C compiler makes: a member that ends
 * past its struct, a bitfield wider than its storage, an array whose size does not add up.
 * Codecs check the layout once, when they are built, so that encoding and decoding never
 * read or write outside the value's bytes. A `TypeError`: the type given is unusable, as
 * for types without a value representation. (The kernel's BTF verifier rejects such types
 * too; types built by hand never met it.)
 */
export class InconsistentLayoutError extends TypeError {
  /** Builds the error naming the type and what is wrong with it. */
  constructor(type: Type, problem: string) {
    super(`Inconsistent BTF type ${type}: ${problem}`);
    this.name = "InconsistentLayoutError";
  }
}

/** Bitfields wider than this are not C (the widest integer a bitfield can have is 64 bits). */
const MAX_BITFIELD_BITS = 64;
/**
 * How many JavaScript values (objects, array elements, numbers) decoding may make beyond one
 * per bit of the value's bytes: zero-sized elements and members make values from no bytes,
 * and nested arrays of them would make billions.
 */
const MAX_VALUES_BEYOND_BITS = 1 << 16;

/** How many JavaScript values each composite or array codec makes when decoding. */
const valueCounts = new WeakMap<Codec, number>();

function valuesOf(c: Codec): number {
  return valueCounts.get(c) ?? 1;
}

/** Refuses a layout that decodes to far more values than its bytes can hold. */
function checkValueCount(t: Type, values: number, size: number): void {
  if (values > size * 8 + MAX_VALUES_BEYOND_BITS) {
    throw new InconsistentLayoutError(t, `decodes to ${values} values from ${size} bytes`);
  }
}
/** The kernel's bound on a type's size (BTF sizes are 32-bit). */
const MAX_TYPE_SIZE = 0xffffffff;

function isSize(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0 && n <= MAX_TYPE_SIZE;
}

const TYPE_CLASSES = [
  Void,
  Int,
  Pointer,
  ArrayType,
  Struct,
  Union,
  Enum,
  Fwd,
  Typedef,
  Volatile,
  Const,
  Restrict,
  Func,
  FuncProto,
  Var,
  Datasec,
  Float,
  DeclTag,
  TypeTag,
];

/** Whether `value` is a BTF type object (what `MapSpec.key` and `value` hold with BTF). */
export function isBtfType(value: unknown): boolean {
  return typeof value === "object" && value !== null &&
    TYPE_CLASSES.some((c) => value instanceof c);
}

/** Whether `name` is a struct the kernel manages inside map values (`bpf_spin_lock`, …). */
export function isKernelManagedStruct(name: string): boolean {
  return KERNEL_MANAGED.has(name);
}

/**
 * Whether values of `type` hold fields the kernel manages (`struct bpf_spin_lock`,
 * `struct bpf_timer`, …): such maps cannot be created without BTF.
 */
export function hasKernelManagedFields(type: unknown, depth = 0): boolean {
  if (depth > MAX_DEPTH || !isBtfType(type)) return false;
  const t = underlyingType(type as Type);
  if (t instanceof Struct || t instanceof Union) {
    if (KERNEL_MANAGED.has(t.name)) return true;
    return t.members.some((m) => hasKernelManagedFields(m.type, depth + 1));
  }
  if (t instanceof ArrayType) return hasKernelManagedFields(t.type, depth + 1);
  return false;
}

/**
 * The codec of `type`. Throws `TypeError` for types that have no value representation
 * (void, functions, forward declarations) or whose layout is inconsistent (a member past
 * the end of its struct, a bitfield wider than its storage: see {@linkcode
 * InconsistentLayoutError}), and `RangeError` for cyclic or too deep types.
 *
 * @example
 * ```ts
 * import { Int, Member, Struct } from "@ebpf/ebpf/btf";
 * import { codecFor, encodeValue, decodeValue } from "@ebpf/ebpf/map";
 * const u32 = new Int("u32", 4);
 * const point = new Struct("point", 8, [new Member("x", u32, 0), new Member("y", u32, 32)]);
 * const codec = codecFor(point);
 * const bytes = encodeValue(codec, { x: 1, y: 2 });
 * console.log(decodeValue(codec, bytes)); // { x: 1, y: 2 }
 * ```
 */
export function codecFor(type: unknown): Codec {
  // `unknown` in the signature: btf's types are not visible to deno doc through the namespace.
  if (!isBtfType(type)) throw new TypeError(`Not a BTF type: ${describe(type)}`);
  return build(type as Type, 0);
}

/** Encodes `value` into a new buffer of the codec's size. */
export function encodeValue(codec: Codec, value: unknown, path = "value"): Uint8Array {
  const bytes = new Uint8Array(codec.size);
  codec.encode(value, new DataView(bytes.buffer), bytes, 0, path);
  return bytes;
}

/** Decodes the codec's type from `bytes` (which must hold at least its size). */
export function decodeValue(codec: Codec, bytes: Uint8Array): unknown {
  if (bytes.byteLength < codec.size) {
    throw new RangeError(`Need ${codec.size} bytes to decode, got ${bytes.byteLength}`);
  }
  return codec.decode(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), bytes, 0);
}

/**
 * Whether `type` has a value representation: the kinds {@linkcode codecFor} builds a codec
 * for (sized scalars, pointers, arrays, structs and unions, behind typedefs and qualifiers).
 * A map checks such a type's size at create time and builds the codec on first use.
 */
export function hasValueRepresentation(type: Type): boolean {
  const t = underlyingType(type);
  return t instanceof Int || t instanceof Enum || t instanceof Float || t instanceof Pointer ||
    t instanceof ArrayType || t instanceof Struct || t instanceof Union;
}

function build(type: Type, depth: number): Codec {
  if (depth > MAX_DEPTH) throw new RangeError(`Type nesting too deep (or cyclic): ${type}`);
  const have = cache.get(type);
  if (have) return have;
  const t = underlyingType(type);
  let codec: Codec;
  if (t instanceof Int) codec = intCodec(type, t);
  else if (t instanceof Enum) codec = enumCodec(type, t);
  else if (t instanceof Float) codec = floatCodec(type, t);
  else if (t instanceof Pointer) codec = intCodec(type, new Int("pointer", 8));
  else if (t instanceof ArrayType) codec = arrayCodec(type, t, depth);
  else if (t instanceof Struct || t instanceof Union) codec = compositeCodec(type, t, depth);
  else throw new TypeError(`Type has no value representation: ${t}`);
  cache.set(type, codec);
  return codec;
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (v instanceof Uint8Array) return "a Uint8Array";
  return typeof v === "string" ? `"${v}"` : typeof v === "object" ? "an object" : String(v);
}

/** The inclusive range of an integer of `bits` bits. */
function intRange(bits: number, signed: boolean): [bigint, bigint] {
  return signed
    ? [-(1n << BigInt(bits - 1)), (1n << BigInt(bits - 1)) - 1n]
    : [0n, (1n << BigInt(bits)) - 1n];
}

/** The signed minimum and unsigned maximum of `bits`-bit integers, made once per width. */
const acceptedRanges = new Map<number, readonly [bigint, bigint]>();
function acceptedRange(bits: number): readonly [bigint, bigint] {
  let range = acceptedRanges.get(bits);
  if (range === undefined) {
    range = [intRange(bits, true)[0], intRange(bits, false)[1]];
    acceptedRanges.set(bits, range);
  }
  return range;
}

/** Checks `value` as an integer of `bits` bits and returns it as a bigint. */
function toInteger(value: unknown, bits: number, path: string): bigint {
  let v: bigint;
  if (typeof value === "bigint") v = value;
  else if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) {
      throw new TypeError(`${path} must be an integer, got ${value}`);
    }
    v = BigInt(value);
  } else if (typeof value === "boolean") v = value ? 1n : 0n;
  else throw new TypeError(`${path} must be an integer, got ${describe(value)}`);
  // Either signedness is accepted for the bit pattern: -1 is a fine u32 mask.
  const [lo, hi] = acceptedRange(bits);
  if (v < lo || v > hi) throw new RangeError(`${path} ${v} does not fit in ${bits} bits`);
  return v;
}

function intCodec(type: Type, t: Int): Codec {
  const size = t.size;
  const signed = t.signed;
  const bool = (t.encoding & IntEncoding.Bool) !== 0;
  if (![1, 2, 4, 8, 16].includes(size)) throw new TypeError(`Unsupported integer size: ${t}`);
  const bits = size * 8;
  // The range of numbers the small case accepts (signed or not), as numbers: computed here,
  // as bigints on each call cost more than the encoding itself.
  const [lowestBig, highestBig] = acceptedRange(bits);
  const lowest = Number(lowestBig);
  const highest = Number(highestBig);
  return {
    type,
    size,
    encode(value, view, bytes, offset, path) {
      if (bool && typeof value === "boolean") {
        view.setUint8(offset, value ? 1 : 0);
        if (size > 1) bytes.fill(0, offset + 1, offset + size);
        return;
      }
      // The small, common case stays on numbers.
      if (typeof value === "number" && size <= 4 && Number.isInteger(value)) {
        if (value < lowest || value > highest) {
          throw new RangeError(`${path} ${value} does not fit in ${bits} bits`);
        }
        if (size === 1) view.setUint8(offset, value & 0xff);
        else if (size === 2) view.setUint16(offset, value & 0xffff, LE);
        else view.setUint32(offset, value >>> 0, LE);
        return;
      }
      if (size === 8 && typeof value === "bigint" && value >= lowestBig && value <= highestBig) {
        view.setBigUint64(offset, value, LE); // modulo 2^64, as BigInt.asUintN(64, value)
        return;
      }
      const v = BigInt.asUintN(bits, toInteger(value, bits, path));
      writeUint(view, offset, size, v);
    },
    decode(view, _bytes, offset) {
      if (size === 1) {
        const b = signed ? view.getInt8(offset) : view.getUint8(offset);
        return bool ? b !== 0 : b;
      }
      if (size === 2) return signed ? view.getInt16(offset, LE) : view.getUint16(offset, LE);
      if (size === 4) {
        const v = signed ? view.getInt32(offset, LE) : view.getUint32(offset, LE);
        return bool ? v !== 0 : v;
      }
      const v = readUint(view, offset, size);
      return signed ? BigInt.asIntN(bits, v) : v;
    },
  };
}

function writeUint(view: DataView, offset: number, size: number, v: bigint): void {
  if (size === 8) {
    view.setBigUint64(offset, v, LE);
    return;
  }
  // 16-byte integers: two halves in host order.
  const lo = BigInt.asUintN(64, v);
  const hi = v >> 64n;
  view.setBigUint64(offset + (LE ? 0 : 8), lo, LE);
  view.setBigUint64(offset + (LE ? 8 : 0), hi, LE);
}

function readUint(view: DataView, offset: number, size: number): bigint {
  if (size === 8) return view.getBigUint64(offset, LE);
  const lo = view.getBigUint64(offset + (LE ? 0 : 8), LE);
  const hi = view.getBigUint64(offset + (LE ? 8 : 0), LE);
  return (hi << 64n) | lo;
}

function enumCodec(type: Type, t: Enum): Codec {
  const size = t.size;
  if (![1, 2, 4, 8].includes(size)) throw new TypeError(`Unsupported enum size: ${t}`);
  const bits = size * 8;
  const byName = new Map<string, bigint>();
  const byValue = new Map<bigint, string>();
  for (const v of t.values) {
    const pattern = BigInt.asUintN(bits, v.value);
    byName.set(v.name, pattern);
    if (!byValue.has(pattern)) byValue.set(pattern, v.name);
  }
  return {
    type,
    size,
    encode(value, view, _bytes, offset, path) {
      let v: bigint;
      if (typeof value === "string") {
        const known = byName.get(value);
        if (known === undefined) {
          throw new TypeError(`${path} "${value}" is not a value of ${t}`);
        }
        v = known;
      } else {
        v = BigInt.asUintN(bits, toInteger(value, bits, path));
      }
      if (size === 8) view.setBigUint64(offset, v, LE);
      else if (size === 4) view.setUint32(offset, Number(v), LE);
      else if (size === 2) view.setUint16(offset, Number(v), LE);
      else view.setUint8(offset, Number(v));
    },
    decode(view, _bytes, offset) {
      const v = size === 8 ? view.getBigUint64(offset, LE) : BigInt(
        size === 4
          ? view.getUint32(offset, LE)
          : size === 2
          ? view.getUint16(offset, LE)
          : view.getUint8(offset),
      );
      const name = byValue.get(v);
      if (name !== undefined) return name;
      if (t.signed) return size === 8 ? BigInt.asIntN(64, v) : Number(BigInt.asIntN(bits, v));
      return size === 8 ? v : Number(v);
    },
  };
}

function floatCodec(type: Type, t: Float): Codec {
  if (t.size !== 4 && t.size !== 8) throw new TypeError(`Unsupported float size: ${t}`);
  const size = t.size;
  return {
    type,
    size,
    encode(value, view, _bytes, offset, path) {
      if (typeof value !== "number") {
        throw new TypeError(`${path} must be a number, got ${describe(value)}`);
      }
      if (size === 4) view.setFloat32(offset, value, LE);
      else view.setFloat64(offset, value, LE);
    },
    decode(view, _bytes, offset) {
      return size === 4 ? view.getFloat32(offset, LE) : view.getFloat64(offset, LE);
    },
  };
}

/** Whether `t` is a C character type: arrays of it are strings. */
function isChar(t: Type): boolean {
  const u = underlyingType(t);
  return u instanceof Int && u.size === 1 &&
    ((u.encoding & IntEncoding.Char) !== 0 || /^((un)?signed )?char$/.test(u.name));
}

function isByte(t: Type): boolean {
  const u = underlyingType(t);
  return u instanceof Int && u.size === 1 && (u.encoding & IntEncoding.Bool) === 0;
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

function arrayCodec(type: Type, t: ArrayType, depth: number): Codec {
  const n = t.nelems;
  if (!isSize(n)) throw new InconsistentLayoutError(t, `${n} is not an element count`);
  const size = arraySize(t);
  if (isChar(t.type)) {
    return {
      type,
      size,
      encode(value, _view, bytes, offset, path) {
        if (value instanceof Uint8Array) {
          if (value.byteLength !== n) {
            throw new RangeError(`${path} must be ${n} bytes, got ${value.byteLength}`);
          }
          bytes.set(value, offset);
          return;
        }
        if (typeof value !== "string") {
          throw new TypeError(`${path} must be a string, got ${describe(value)}`);
        }
        const encoded = utf8.encode(value);
        if (encoded.length > n) {
          throw new RangeError(`${path} "${value}" is ${encoded.length} bytes, more than ${n}`);
        }
        bytes.set(encoded, offset);
        bytes.fill(0, offset + encoded.length, offset + n);
      },
      decode(_view, bytes, offset) {
        let end = offset;
        while (end < offset + n && bytes[end] !== 0) end++;
        return fromUtf8.decode(bytes.subarray(offset, end));
      },
    };
  }
  const element = build(t.type, depth + 1);
  const stride = element.size;
  if (stride * n !== size) {
    throw new InconsistentLayoutError(t, `${n} elements of ${stride} bytes are not ${size} bytes`);
  }
  const values = 1 + n * valuesOf(element);
  checkValueCount(t, values, size);
  const bytesToo = isByte(t.type);
  const codec: Codec = {
    type,
    size,
    encode(value, view, bytes, offset, path) {
      if (bytesToo && value instanceof Uint8Array) {
        if (value.byteLength !== n) {
          throw new RangeError(`${path} must be ${n} bytes, got ${value.byteLength}`);
        }
        bytes.set(value, offset);
        return;
      }
      if (!Array.isArray(value)) {
        throw new TypeError(`${path} must be an array of ${n}, got ${describe(value)}`);
      }
      if (value.length !== n) {
        throw new RangeError(`${path} must have ${n} elements, got ${value.length}`);
      }
      for (let i = 0; i < n; i++) {
        element.encode(value[i], view, bytes, offset + i * stride, `${path}[${i}]`);
      }
    },
    decode(view, bytes, offset) {
      const out = new Array(n);
      for (let i = 0; i < n; i++) out[i] = element.decode(view, bytes, offset + i * stride);
      return out;
    },
  };
  valueCounts.set(codec, values);
  return codec;
}

/** The size of an array type, checked to be a size the kernel accepts. */
function arraySize(t: ArrayType): number {
  let size: number;
  try {
    size = sizeof(t);
  } catch (e) {
    throw new InconsistentLayoutError(t, (e as Error).message);
  }
  if (!isSize(size)) throw new InconsistentLayoutError(t, `size ${size} is out of range`);
  return size;
}

/** One named field of a composite, flattened: reads and writes a property of an object. */
interface Field {
  name: string;
  /** How many JavaScript values decoding the field makes. */
  values: number;
  /** Kernel-managed fields may be absent when encoding and are skipped when decoding. */
  optional: boolean;
  /** Fields of an anonymous union: at most one of the group may be given. */
  group: number;
  /**
   * A byte-aligned member (not a bitfield): its codec and byte offset, and when it is a
   * plain integer, what the compiled accessors need to read and write it inline.
   */
  plain?: { codec: Codec; at: number; int: IntShape | undefined };
  /** Writes the member's `value` (read from the object once, by the struct's encode). */
  encode(value: unknown, view: DataView, bytes: Uint8Array, base: number, path: string): void;
  decode(obj: Record<string, unknown>, view: DataView, bytes: Uint8Array, base: number): void;
}

function compositeCodec(type: Type, t: Struct | Union, depth: number): Codec {
  const size = t.size;
  if (!isSize(size)) throw new InconsistentLayoutError(t, `size ${size} is out of range`);
  const fields: Field[] = [];
  let groups = 0;
  collect(t, 0, -1, depth);

  function collect(c: Struct | Union, bitBase: number, group: number, level: number): void {
    if (level > MAX_DEPTH) throw new RangeError(`Type nesting too deep (or cyclic): ${t}`);
    // Members of a union (even a named one flattened here) are alternatives of one group.
    const unionGroup = c instanceof Union ? (group >= 0 ? group : ++groups) : group;
    for (const m of c.members) {
      checkMemberPlace(t, c, m, bitBase);
      const u = underlyingType(m.type);
      if (m.name === "" && (u instanceof Struct || u instanceof Union)) {
        if (m.bitfieldSize !== 0 || m.offset % 8 !== 0) {
          throw new InconsistentLayoutError(
            c,
            `anonymous member at bit ${m.offset} is not byte aligned`,
          );
        }
        if (!isSize(u.size) || bitBase + m.offset + u.size * 8 > size * 8) {
          throw new InconsistentLayoutError(
            c,
            `anonymous ${u.kind} of ${u.size} bytes at bit ${m.offset} ends past ${t.size} bytes`,
          );
        }
        collect(u, bitBase + m.offset, unionGroup, level + 1);
        continue;
      }
      if (m.name === "") continue; // anonymous padding bitfield
      fields.push(memberField(t, m, bitBase, unionGroup, depth));
    }
  }

  const names = new Set(fields.map((f) => f.name));
  if (names.size !== fields.length) {
    // Values are objects keyed by member name: two members of one name cannot both be read.
    const seen = new Set<string>();
    const twice = fields.find((f) => seen.size === seen.add(f.name).size)!;
    throw new InconsistentLayoutError(t, `two members are named "${twice.name}"`);
  }
  const isUnion = t instanceof Union;
  const values = fields.reduce((sum, f) => sum + f.values, 1);
  checkValueCount(t, values, size);
  const generic: Codec = {
    type,
    size,
    encode(value, view, bytes, offset, path) {
      if (
        typeof value !== "object" || value === null || Array.isArray(value) ||
        value instanceof Uint8Array
      ) {
        if (value instanceof Uint8Array) {
          if (value.byteLength !== size) {
            throw new RangeError(`${path} must be ${size} bytes, got ${value.byteLength}`);
          }
          bytes.set(value, offset);
          return;
        }
        throw new TypeError(`${path} must be an object (${t}), got ${describe(value)}`);
      }
      const obj = value as Record<string, unknown>;
      for (const k in obj) {
        if (!names.has(k)) throw new TypeError(`${path} has no member "${k}" (${t})`);
      }
      bytes.fill(0, offset, offset + size);
      let seen: Map<number, string> | undefined; // made only for structs with unions
      for (const f of fields) {
        const member = obj[f.name];
        const present = member !== undefined;
        if (f.group >= 0) {
          if (!present) continue;
          seen ??= new Map();
          const other = seen.get(f.group);
          if (other !== undefined) {
            throw new TypeError(
              `${path}: members "${other}" and "${f.name}" of a union are both given`,
            );
          }
          seen.set(f.group, f.name);
        } else if (!present) {
          if (f.optional) continue;
          throw new TypeError(`${path} lacks member "${f.name}" (${t})`);
        }
        f.encode(member, view, bytes, offset, path);
      }
      if (isUnion && seen === undefined && fields.length > 0) {
        throw new TypeError(`${path} must give one member of ${t}`);
      }
    },
    decode(view, bytes, offset) {
      const obj: Record<string, unknown> = {};
      for (const f of fields) if (!f.optional) f.decode(obj, view, bytes, offset);
      return obj;
    },
  };
  // The generic accessors serve first; a codec in use is compiled at its COMPILE_AFTER-th
  // call (compiling costs far more than a call: codecs used a few times never pay it).
  let encodes = 0;
  let decodes = 0;
  const codec: Codec = {
    type,
    size,
    encode(value, view, bytes, offset, path) {
      if (++encodes === COMPILE_AFTER) {
        codec.encode = compileEncode(fields, size, generic) ?? generic.encode;
      }
      generic.encode(value, view, bytes, offset, path);
    },
    decode(view, bytes, offset) {
      if (++decodes === COMPILE_AFTER) codec.decode = compileDecode(fields) ?? generic.decode;
      return generic.decode(view, bytes, offset);
    },
  };
  valueCounts.set(codec, values);
  return codec;
}

/** A member's offset and bitfield width are whole numbers in range, before any use. */
function checkMemberPlace(outer: Struct | Union, c: Struct | Union, m: Member, bitBase: number) {
  if (!Number.isSafeInteger(m.offset) || m.offset < 0 || m.offset > MAX_TYPE_SIZE * 8) {
    throw new InconsistentLayoutError(c, `member "${m.name}" has offset ${m.offset}`);
  }
  const bits = m.bitfieldSize;
  if (!Number.isSafeInteger(bits) || bits < 0 || bits > MAX_BITFIELD_BITS) {
    throw new InconsistentLayoutError(
      c,
      `bitfield "${m.name}" is ${bits} bits wide (at most ${MAX_BITFIELD_BITS})`,
    );
  }
  if (bitBase + m.offset + bits > outer.size * 8) {
    throw new InconsistentLayoutError(
      c,
      `member "${m.name}" at bit ${m.offset} ends past the ${outer.size} bytes of ${outer}`,
    );
  }
}

function memberField(
  outer: Struct | Union,
  m: Member,
  bitBase: number,
  group: number,
  depth: number,
): Field {
  const name = m.name;
  const bitOffset = bitBase + m.offset;
  const u = underlyingType(m.type);
  const optional = (u instanceof Struct) && KERNEL_MANAGED.has(u.name);
  if (m.bitfieldSize === 0 || (bitOffset % 8 === 0 && isWholeBitfield(m, u))) {
    if (bitOffset % 8 !== 0) {
      throw new InconsistentLayoutError(outer, `member "${name}" is not byte aligned`);
    }
    const codec = build(m.type, depth + 1);
    const at = bitOffset / 8;
    if (at + codec.size > outer.size) {
      throw new InconsistentLayoutError(
        outer,
        `member "${name}" of ${codec.size} bytes at byte ${at} ends past its ${outer.size} bytes`,
      );
    }
    // The member's path (for error messages) is made once per outer path, not per encode.
    let outerPath: string | undefined;
    let memberPath = "";
    return {
      name,
      values: valuesOf(codec),
      optional,
      group,
      plain: { codec, at, int: intShape(u) },
      encode(value, view, bytes, base, path) {
        if (path !== outerPath) {
          outerPath = path;
          memberPath = `${path}.${name}`;
        }
        codec.encode(value, view, bytes, base + at, memberPath);
      },
      decode(obj, view, bytes, base) {
        obj[name] = codec.decode(view, bytes, base + at);
      },
    };
  }
  return bitfield(m, name, bitOffset, u, group);
}

/** A bitfield as wide as its type at a byte offset reads like a plain member. */
function isWholeBitfield(m: Member, u: Type): boolean {
  return (u instanceof Int || u instanceof Enum) && m.bitfieldSize === u.size * 8;
}

function bitfield(m: Member, name: string, bitOffset: number, u: Type, group: number): Field {
  const bits = m.bitfieldSize;
  if (!(u instanceof Int || u instanceof Enum)) {
    throw new TypeError(`Bitfield "${name}" has a type that is not an integer: ${u}`);
  }
  if (!Number.isSafeInteger(u.size) || bits > u.size * 8) {
    throw new InconsistentLayoutError(
      u,
      `bitfield "${name}" of ${bits} bits is wider than its ${u.size}-byte storage`,
    );
  }
  const signed = u.signed;
  const wide = u.size >= 8;
  const names = new Map<string, bigint>();
  const values = new Map<bigint, string>();
  if (u instanceof Enum) {
    for (const v of u.values) {
      names.set(v.name, BigInt.asUintN(bits, v.value));
      values.set(BigInt.asUintN(bits, v.value), v.name);
    }
  }
  // Little-endian hosts number bits from the least significant bit of the first byte.
  const first = bitOffset >> 3;
  const shift = BigInt(bitOffset & 7);
  const span = ((bitOffset & 7) + bits + 7) >> 3;
  const mask = ((1n << BigInt(bits)) - 1n) << shift;
  if (!LE) throw new TypeError("Bitfields are only supported on little-endian hosts");
  return {
    name,
    values: 1,
    optional: false,
    group,
    encode(value, _view, bytes, base, path) {
      let v: bigint;
      if (typeof value === "string" && names.size > 0) {
        const known = names.get(value);
        if (known === undefined) throw new TypeError(`${path}.${name} "${value}" is unknown`);
        v = known;
      } else {
        v = BigInt.asUintN(bits, toInteger(value, bits, `${path}.${name}`));
      }
      let word = 0n;
      for (let i = span - 1; i >= 0; i--) word = (word << 8n) | BigInt(bytes[base + first + i]);
      word = (word & ~mask) | (v << shift);
      for (let i = 0; i < span; i++) {
        bytes[base + first + i] = Number(word & 0xffn);
        word >>= 8n;
      }
    },
    decode(obj, _view, bytes, base) {
      let word = 0n;
      for (let i = span - 1; i >= 0; i--) word = (word << 8n) | BigInt(bytes[base + first + i]);
      let v = (word & mask) >> shift;
      const known = values.get(v);
      if (known !== undefined) {
        obj[name] = known;
        return;
      }
      if (signed) v = BigInt.asIntN(bits, v);
      obj[name] = wide ? v : Number(v);
    },
  };
}

/*
 * Compiled accessors. The generic struct codec stores and reads each member as `obj[name]`
 * with the name in a variable: one property access site for every member of every struct,
 * which V8 can only serve through its slow, megamorphic path (≈80 of the ≈90 ns a two-member
 * struct took to decode). A struct's accessors are therefore compiled, once: an object
 * literal with the member names spelled out, integers read and written inline, other members
 * through their own codecs. That happens at a codec's 32nd encode (or decode), since compiling
 * costs as much as hundreds of calls. They behave as the generic ones do; any
 * value the fast checks do not accept (a wrong shape, a value out of range) goes through
 * the generic code, which gives the same errors. Names are written as JSON string literals,
 * so no BTF name can become code.
 */

/** Calls of a struct codec's encode (or decode) before they are compiled. */
const COMPILE_AFTER = 32;
/** Structs larger than this, or with more members, keep the generic accessors. */
const MAX_COMPILED_SIZE = 4096;
const MAX_COMPILED_FIELDS = 256;

/** A plain integer member as the compiled accessors read and write it inline. */
interface IntShape {
  size: 1 | 2 | 4 | 8;
  signed: boolean;
  /** The numbers (sizes up to 4) and bigints (size 8) accepted without the codec. */
  lowest: number;
  highest: number;
  lowestBig: bigint;
  highestBig: bigint;
}

function intShape(u: Type): IntShape | undefined {
  if (!(u instanceof Int) || (u.encoding & IntEncoding.Bool) !== 0) return undefined;
  const size = u.size;
  if (size !== 1 && size !== 2 && size !== 4 && size !== 8) return undefined;
  const [lowestBig, highestBig] = acceptedRange(size * 8);
  return {
    size,
    signed: u.signed,
    lowest: Number(lowestBig),
    highest: Number(highestBig),
    lowestBig,
    highestBig,
  };
}

/** Whether the fields' names can be spelled in compiled code as they are read generically. */
function compilable(fields: Field[], size: number): boolean {
  return fields.length <= MAX_COMPILED_FIELDS && size <= MAX_COMPILED_SIZE &&
    fields.every((f) => f.name !== "__proto__");
}

/** Compiles `source` (a function body returning a function), or undefined if it cannot. */
function compile<T>(source: string, names: string[], args: unknown[]): T | undefined {
  try {
    return new Function(...names, source)(...args) as T;
  } catch {
    return undefined; // code generation from strings is disabled: keep the generic code
  }
}

const SIGNED_GETTERS = { 1: "getInt8", 2: "getInt16", 4: "getInt32", 8: "getBigInt64" };
const UNSIGNED_GETTERS = { 1: "getUint8", 2: "getUint16", 4: "getUint32", 8: "getBigUint64" };

/** A struct's decode as one object literal; undefined when the generic one must serve. */
function compileDecode(fields: Field[]): Codec["decode"] | undefined {
  if (!compilable(fields, 0)) return undefined;
  const props: string[] = [];
  const after: string[] = [];
  fields.forEach((f, i) => {
    if (f.optional) return;
    const key = JSON.stringify(f.name);
    const p = f.plain;
    if (p === undefined) {
      // A bitfield: a place in the literal, keeping the members' order, filled after.
      props.push(`${key}: undefined`);
      after.push(`F[${i}].decode(obj, view, bytes, offset);`);
    } else if (p.int !== undefined) {
      const getter = (p.int.signed ? SIGNED_GETTERS : UNSIGNED_GETTERS)[p.int.size];
      props.push(`${key}: view.${getter}(offset + ${p.at}${p.int.size > 1 ? `, ${LE}` : ""})`);
    } else {
      props.push(`${key}: C[${i}].decode(view, bytes, offset + ${p.at})`);
    }
  });
  return compile(
    `return function decode(view, bytes, offset) {
  const obj = {${props.join(", ")}};
  ${after.join("\n  ")}
  return obj;
};`,
    ["F", "C"],
    [fields, fields.map((f) => f.plain?.codec)],
  );
}

/**
 * A struct's encode with its members' names and integer writes spelled out; undefined when
 * the generic one must serve (structs with unions).
 */
function compileEncode(
  fields: Field[],
  size: number,
  generic: Codec,
): Codec["encode"] | undefined {
  if (!compilable(fields, size) || fields.some((f) => f.group >= 0)) return undefined;
  // Bytes no always-written member covers (padding, bitfields, optional members) are zeroed
  // first, as the generic encode zeroes the whole value.
  const covered = new Uint8Array(size);
  for (const f of fields) {
    if (f.plain && !f.optional) covered.fill(1, f.plain.at, f.plain.at + f.plain.codec.size);
  }
  const gaps: number[] = [];
  covered.forEach((c, i) => c || gaps.push(i));
  const zero = gaps.length === 0
    ? ""
    : gaps.length <= 16
    ? gaps.map((i) => `bytes[offset + ${i}] = 0;`).join(" ")
    : `bytes.fill(0, offset, offset + ${size});`;
  const cases = fields.map((f) => `case ${JSON.stringify(f.name)}:`).join(" ");
  const writes = fields.map((f, i) => {
    const read = `v = value[${JSON.stringify(f.name)}];`;
    const absent = f.optional ? "{}" : "return generic.encode(value, view, bytes, offset, path);";
    const slow =
      `if (v === undefined) ${absent} else F[${i}].encode(v, view, bytes, offset, path);`;
    const s = f.plain?.int;
    if (s === undefined) return `${read}\n  ${slow}`;
    const at = `offset + ${f.plain!.at}`;
    const fast = s.size === 8
      ? `typeof v === "bigint" && v >= ${s.lowestBig}n && v <= ${s.highestBig}n) ` +
        `view.setBigUint64(${at}, v, ${LE});`
      : `typeof v === "number" && v >= ${s.lowest} && v <= ${s.highest} && Number.isInteger(v)) ` +
        (s.size === 1
          ? `view.setUint8(${at}, v & 0xff);`
          : s.size === 2
          ? `view.setUint16(${at}, v & 0xffff, ${LE});`
          : `view.setUint32(${at}, v >>> 0, ${LE});`);
    return `${read}\n  if (${fast}\n  else ${slow}`;
  });
  return compile(
    `return function encode(value, view, bytes, offset, path) {
  if (typeof value !== "object" || value === null || Array.isArray(value) ||
      value instanceof Uint8Array) return generic.encode(value, view, bytes, offset, path);
  for (const k in value) {
    switch (k) { ${
      cases && `${cases} continue;`
    } default: return generic.encode(value, view, bytes, offset, path); }
  }
  ${zero}
  let v;
  ${writes.join("\n  ")}
};`,
    ["F", "generic"],
    [fields, generic],
  );
}
