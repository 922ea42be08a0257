/**
 * `Spec`: a parsed BTF blob. Parsing makes one pass over the type section to index where
 * each type starts and to validate it; type objects and strings are decoded on demand.
 *
 * @module
 */

import { type ByteOrder, HOST_BYTE_ORDER } from "../asm/mod.ts";
import { FormatError } from "../errors.ts";
import {
  asciiTable,
  decodeCString,
  encodeString,
  equalsCString,
  hashBytes,
  hashCString,
} from "./_strings.ts";
import {
  HI,
  kindOf as rawKindOf,
  MEMBER_SIZES,
  type RawReader,
  resolvedSize,
  typeWord,
} from "./_raw_reader.ts";
import {
  Array as ArrayType,
  bindType,
  Const,
  Datasec,
  DeclTag,
  Enum,
  EnumValue,
  Float,
  Func,
  FuncParam,
  FuncProto,
  Fwd,
  idOf,
  Int,
  Kind,
  KIND_NAMES,
  LAZY_LIST,
  lazyRef,
  MAX_KIND,
  Member,
  Pointer,
  recordBytes,
  Restrict,
  sourceOf,
  Struct,
  type Type,
  type TypeClass,
  Typedef,
  TypeTag,
  Union,
  Var,
  VarSecinfo,
  VOID,
  Volatile,
} from "./types.ts";

/** The byte order of a BTF blob or ELF object (the same type as `asm.ByteOrder`). */
export type { ByteOrder };

/** `BTF_MAGIC`. */
export const BTF_MAGIC = 0xeb9f;
/** The size of `struct btf_header`. */
export const BTF_HEADER_SIZE = 24;

/** Kinds that refer to no type in a way that could close a cycle (1) or not (0). */
const LEAF_KIND = new Uint8Array(32);
/** Kinds that refer to exactly one type, in `size_or_type` (1) or not (0). */
const ONE_REF_KIND = new Uint8Array(32);
for (const k of [Kind.Int, Kind.Struct, Kind.Union, Kind.Enum, Kind.Enum64, Kind.Fwd, Kind.Float]) {
  LEAF_KIND[k] = 1;
}
for (
  const k of [
    Kind.Pointer,
    Kind.Typedef,
    Kind.Volatile,
    Kind.Const,
    Kind.Restrict,
    Kind.Func,
    Kind.TypeTag,
    Kind.Var,
    Kind.DeclTag,
  ]
) ONE_REF_KIND[k] = 1;

/** How deep a chain of references that avoids structs and unions may go. */
const MAX_CHAIN = 128;

/**
 * Specs whose types are checked one by one before each is first used, instead of all at
 * once ({@linkcode checkTypesOnUse}).
 */
const typesCheckedOnUse = new WeakSet<Spec>();

/** Types a spec checks one by one before it validates all of them instead. */
const CHECKS_BEFORE_VALIDATION = 4096;

/**
 * Makes `spec` check each type just before it is first decoded or named (its string
 * offsets, type ids, members and reference chains, as {@linkcode Spec.validate} does for
 * all), instead of validating every type at its first use. For the kernel's own BTF: a
 * CO-RE load decodes a few hundred of vmlinux's 130,000 types, and its first one in a
 * process would otherwise validate them all before the JIT has warmed up. Name lookups
 * then need no validation either: they read names within bounds, and what they find is
 * checked when it is decoded. `validate()` still checks everything when called. Internal:
 * not exported from `btf/mod.ts`.
 */
export function checkTypesOnUse(spec: Spec): Spec {
  typesCheckedOnUse.add(spec);
  return spec;
}

/** Whether `spec` checks its types one by one ({@linkcode checkTypesOnUse}). */
export function checksTypesOnUse(spec: Spec): boolean {
  return typesCheckedOnUse.has(spec);
}

/** Scratch of `Spec.#checkChains`: state per type (grown as needed), the walk's stack. */
let chainState = new Uint8Array(256);
const chainStackId = new Int32Array(MAX_CHAIN);
const chainStackEdge = new Int32Array(MAX_CHAIN);

/** How many type ids a kind's fixed words hold: at word 2 (one), at words 3 and 4 (array). */
const HEAD_REFS = new Uint8Array(32);
/** Where a name offset sits in each vlen entry of a kind (0), or none (-1). */
const ENTRY_NAME_AT = new Int8Array(32).fill(-1);
/** Where a type id sits in each vlen entry of a kind, or none (-1). */
const ENTRY_REF_AT = new Int8Array(32).fill(-1);
for (let k = 0; k < 32; k++) HEAD_REFS[k] = ONE_REF_KIND[k];
HEAD_REFS[Kind.FuncProto] = 1;
HEAD_REFS[Kind.Array] = 2;
for (const k of [Kind.Struct, Kind.Union, Kind.Enum, Kind.Enum64, Kind.FuncProto]) {
  ENTRY_NAME_AT[k] = 0;
}
ENTRY_REF_AT[Kind.Struct] = ENTRY_REF_AT[Kind.Union] = ENTRY_REF_AT[Kind.FuncProto] = 1;
ENTRY_REF_AT[Kind.Datasec] = 0;
/** {@linkcode ENTRY_REF_AT} for the references a chain follows: not struct members. */
const CHAIN_ENTRY_REF_AT = ENTRY_REF_AT.slice();
CHAIN_ENTRY_REF_AT[Kind.Struct] = CHAIN_ENTRY_REF_AT[Kind.Union] = -1;

const HOST_LITTLE = HOST_BYTE_ORDER === "little";

/**
 * The bigints 0…255, shared by the enumerators that have these values (most of them):
 * a bigint is a heap object, and vmlinux has about 19,000 enumerators.
 */
const SMALL_BIGINTS: readonly bigint[] = globalThis.Array.from(
  { length: 256 },
  (_, i) => BigInt(i),
);

/** Slots of a spec's cache of list names (192 KiB), made once its string table is. */
const LIST_NAME_CACHE_BITS = 14;
const LIST_NAME_CACHE = 1 << LIST_NAME_CACHE_BITS;
/** The size of string section from which a spec keeps that cache. */
const LIST_NAME_CACHE_MIN_STRINGS = 1 << 18;

/**
 * The raw tables behind a {@linkcode Spec}, for walks that must not allocate. Type `id`
 * starts at word `offsets[id - firstId]` of `words` (host byte order): `name_off`, `info`,
 * `size_or_type`, then the kind's records, as in `struct btf_type`. Kinds and record sizes
 * are checked when parsing; call {@linkcode Spec.validate} before following type ids or
 * string offsets read from here (every decoding method does so by itself).
 */
export interface RawBtf {
  /** The type section as 32-bit words in host byte order. */
  readonly words: Uint32Array;
  /** The word index in `words` where each of this spec's types starts. */
  readonly offsets: Uint32Array;
  /** The id of the first type in this spec: 1, or the base's next id for split BTF. */
  readonly firstId: number;
  /** The number of types in this spec (not counting void or base types). */
  readonly count: number;
  /** The string section of this spec. */
  readonly strings: Uint8Array;
  /** The string offset where this spec's strings start (the base's length for split BTF). */
  readonly stringsBase: number;
}

/**
 * Runs `read` with `spec`'s validation deferred: for a reader of a whole object, which reads
 * a few of its types (map definitions, data sections) and hands the spec on. Each type, list
 * and string read meanwhile is checked on its own (its string offsets and type ids in range,
 * a list's members within their struct); the whole spec (reference cycles among the rest)
 * is validated by the first read after `read` returns. When `read` throws, the spec is
 * validated first, so that corrupt BTF fails with its own error. Internal to the package.
 */
export let readBeforeValidation: <T>(spec: Spec, read: () => T) => T;

/** `spec.raw` with what the readers of `_raw_reader.ts` take besides. Internal. */
export let rawReader: (spec: Spec) => RawBtf & RawReader;

/** The ids of `spec`'s own Datasecs, in order, found when it was indexed. Internal. */
export let datasecIds: (spec: Spec) => number[];

/** Whether `spec` is being read by {@linkcode readBeforeValidation}. Internal. */
export let validationDeferred: (spec: Spec) => boolean;

/**
 * Checks type `id` of `spec` as it is checked when read before validation (its string
 * offsets and type ids in range), unless the spec is validated: for a reader that must
 * know at parse that a later read cannot fail. Internal.
 */
export let checkTypeAlone: (spec: Spec, id: number) => void;

/** Options of {@linkcode parseSpec}. */
export interface ParseOptions {
  /** The base spec of split BTF (module BTF on top of vmlinux). */
  base?: Spec;
  /**
   * Where the spec gets the memory it keeps besides `bytes` (its index of types, and the
   * type words when they must be byte-swapped): fresh zeroed bytes of the given length.
   * A caller that parses many small specs can hand out pieces of one larger buffer, as an
   * ArrayBuffer of its own costs more than parsing a small spec. Default: a new Uint8Array.
   */
  allocate?: (byteLength: number) => Uint8Array;
}

/** Words after the 12-byte common part that every type of a kind has; -1 for no kind. */
const FIXED_WORDS = new Int8Array(32).fill(-1);
/** Words per vlen entry of each kind. */
const PER_VLEN_WORDS = new Int8Array(32);
for (let k = 1; k <= MAX_KIND; k++) {
  FIXED_WORDS[k] = recordBytes(k, 0) >> 2;
  PER_VLEN_WORDS[k] = (recordBytes(k, 1) - recordBytes(k, 0)) >> 2;
}

/**
 * The two tables above as 2-bit fields of 32-bit constants, for {@linkcode indexInto}: a
 * shift of a constant is quicker than a load from a table, and its walk is one chain of
 * dependent steps from one type to the next. `KNOWN_KINDS` has a bit per known kind;
 * `FIXED_LO` and `PER_VLEN_LO` hold kinds 0 to 15, the `_HI` ones kinds 16 to 31.
 */
let KNOWN_KINDS = 0;
let FIXED_LO = 0;
let FIXED_HI = 0;
let PER_VLEN_LO = 0;
let PER_VLEN_HI = 0;
for (let k = 1; k <= MAX_KIND; k++) {
  if (FIXED_WORDS[k] > 3 || PER_VLEN_WORDS[k] > 3) throw new Error(`BTF kind ${k}: no 2-bit size`);
  KNOWN_KINDS |= 1 << k;
  const shift = (k & 15) << 1;
  if (k < 16) {
    FIXED_LO |= FIXED_WORDS[k] << shift;
    PER_VLEN_LO |= PER_VLEN_WORDS[k] << shift;
  } else {
    FIXED_HI |= FIXED_WORDS[k] << shift;
    PER_VLEN_HI |= PER_VLEN_WORDS[k] << shift;
  }
}

/** Type sections of at least this many words (1 MiB) get their whole index up front. */
const LARGE_TYPE_SECTION_WORDS = 1 << 18;

/**
 * The one pass over the type section, as libbpf's btf__parse makes: where each type starts,
 * whether its kind is known and whether its records fit. Kept small and free of error
 * building, so that the optimizing compiler handles it cheaply; on failure it returns the
 * word where the bad type starts. References and strings are checked by `Spec.validate`.
 */
function indexTypes(
  w: Uint32Array,
  allocate: ((byteLength: number) => Uint8Array) | undefined,
): { offsets: Uint32Array; error?: number; datasecs?: number[] } {
  const n = w.length;
  // Every type takes at least 3 words; most take more. A small section (an object's) is
  // indexed into scratch memory that stays warm from one parse to the next, then copied to
  // memory of the exact size: fresh memory costs more to touch than the copy.
  const most = Math.floor(n / 3);
  if (most <= MAX_INDEX_SCRATCH) {
    if (indexScratch.length < most) indexScratch = new Uint32Array(MAX_INDEX_SCRATCH);
    const count = indexInto(w, indexScratch, 0, 0);
    const offsets = allocate === undefined ? new Uint32Array(count) : words32(allocate, count);
    offsets.set(indexScratch.subarray(0, count));
    // A plain array: a typed array's slice is an ArrayBuffer, which costs Deno more than
    // the few numbers in it.
    let datasecs: number[] | undefined;
    if (indexDatasecs <= datasecScratch.length) {
      datasecs = new globalThis.Array<number>(indexDatasecs);
      for (let i = 0; i < indexDatasecs; i++) datasecs[i] = datasecScratch[i];
    }
    return { offsets, error: indexStop < n ? indexStop : undefined, datasecs };
  }
  // A larger one starts smaller and grows; the largest (vmlinux) take the most there can
  // be at once, as does a caller whose memory is cheap: its pages are the system's zero
  // pages until written, so only the part used costs memory.
  let offsets = allocate === undefined && n < LARGE_TYPE_SECTION_WORDS
    ? new Uint32Array(Math.min(most, (n >>> 3) + 64))
    : allocate === undefined
    ? new Uint32Array(most)
    : words32(allocate, most);
  let count = 0;
  for (;;) {
    count = indexInto(w, offsets, count, count === 0 ? 0 : indexStop);
    // Stopped short with room left: a bad type (with none, try again with more room).
    if (indexStop >= n || count < offsets.length) break;
    const grown = new Uint32Array(Math.min(most, offsets.length * 2));
    grown.set(offsets);
    offsets = grown;
  }
  return { offsets: offsets.subarray(0, count), error: indexStop < n ? indexStop : undefined };
}

/** Where {@linkcode indexTypes} indexes small type sections (128 KiB, kept). */
let indexScratch = new Uint32Array(0);
const MAX_INDEX_SCRATCH = 32 * 1024;

/** Where {@linkcode indexInto} stopped: the end of the section, a bad type, or no room. */
let indexStop = 0;
/**
 * How many Datasecs {@linkcode indexInto} saw, and the indexes of the first ones: the ELF
 * reader looks its data sections up, and a pass of its own over the types would cost more.
 */
let indexDatasecs = 0;
const datasecScratch = new Int32Array(64);
const DATASEC = Kind.Datasec;

/**
 * Adds the types that start at word `from` onward to `offsets` from entry `count`, until
 * the section ends, a type is bad or `offsets` is full; returns the new count and leaves
 * where it stopped in `indexStop`. Numbers only, in and out, and nothing after the loop
 * to compare: it stays optimized from one call to the next, even entered mid-loop.
 */
function indexInto(w: Uint32Array, offsets: Uint32Array, count: number, from: number): number {
  const n = w.length;
  const room = offsets.length;
  const ds = datasecScratch;
  let datasecs = 0;
  let o = from;
  while (o < n) {
    if (o + 3 > n) break;
    // One 32-bit read (a heap number in V8's first tiers for the few words with kind_flag
    // set, above 2^30), then sizes by shifts: each step waits on the one before it.
    const info = w[o + 1];
    const kind = (info >>> 24) & 0x1f;
    if (((KNOWN_KINDS >>> kind) & 1) === 0) break;
    const shift = (kind & 15) << 1;
    const high = kind >>> 4;
    const fixed = ((high ? FIXED_HI : FIXED_LO) >>> shift) & 3;
    const perVlen = ((high ? PER_VLEN_HI : PER_VLEN_LO) >>> shift) & 3;
    const end = o + 3 + fixed + perVlen * (info & 0xffff);
    if (end > n || count === room) break;
    if (kind === DATASEC) {
      if (datasecs < ds.length) ds[datasecs] = count;
      datasecs++;
    }
    offsets[count++] = o;
    o = end;
  }
  indexStop = o;
  indexDatasecs = datasecs;
  return count;
}

/** `count` zeroed 32-bit words from `allocate`, or fresh ones if it gives unaligned bytes. */
function words32(allocate: (byteLength: number) => Uint8Array, count: number): Uint32Array {
  const b = allocate(count * 4);
  if (b.byteLength < count * 4 || b.byteOffset % 4 !== 0) return new Uint32Array(count);
  return new Uint32Array(b.buffer, b.byteOffset, count);
}

/**
 * Whether the BTF (or `.BTF.ext`) magic at the start of `bytes` is little-endian; undefined
 * when `bytes` does not start with the magic in either byte order.
 */
export function magicIsLittleEndian(bytes: Uint8Array): boolean | undefined {
  if (bytes[0] === 0x9f && bytes[1] === 0xeb) return true;
  if (bytes[0] === 0xeb && bytes[1] === 0x9f) return false;
  return undefined;
}

/**
 * Parses raw BTF (a `.BTF` section or `/sys/kernel/btf/*`) in either byte order. Corrupt
 * input throws a {@linkcode FormatError} carrying the byte offset; the spec keeps views of
 * `bytes`, which must not change afterwards.
 *
 * @example
 * ```ts
 * import { parseSpec } from "@ebpf/ebpf/btf";
 * const spec = parseSpec(Deno.readFileSync("/sys/kernel/btf/vmlinux"));
 * console.log(spec.typeByName("task_struct")?.kind); // "struct"
 * ```
 */
export function parseSpec(bytes: Uint8Array, options: ParseOptions = {}): Spec {
  if (!(bytes instanceof Uint8Array)) throw new TypeError("BTF must be a Uint8Array");
  if (bytes.length < BTF_HEADER_SIZE) {
    throw new FormatError(`BTF header truncated: ${bytes.length} bytes`, 0);
  }
  const little = magicIsLittleEndian(bytes);
  if (little === undefined) throw new FormatError("Not BTF: bad magic", 0);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes[2] !== 1) throw new FormatError(`Unsupported BTF version ${bytes[2]}`, 2);
  if (bytes[3] !== 0) throw new FormatError(`Unsupported BTF flags ${bytes[3]}`, 3);
  const hdrLen = v.getUint32(4, little);
  if (hdrLen < BTF_HEADER_SIZE || hdrLen > bytes.length) {
    throw new FormatError(`Invalid BTF header length ${hdrLen}`, 4);
  }
  // A longer header (from a newer kernel) must be zero past the fields we know.
  for (let i = BTF_HEADER_SIZE; i < hdrLen; i++) {
    if (bytes[i] !== 0) throw new FormatError("Unsupported BTF header extension", i);
  }
  const typeOff = v.getUint32(8, little);
  const typeLen = v.getUint32(12, little);
  const strOff = v.getUint32(16, little);
  const strLen = v.getUint32(20, little);
  const avail = bytes.length - hdrLen;
  if (typeOff > avail || typeLen > avail - typeOff) {
    throw new FormatError("BTF type section out of range", 8);
  }
  if (strOff > avail || strLen > avail - strOff) {
    throw new FormatError("BTF string section out of range", 16);
  }
  if (typeOff % 4 !== 0) throw new FormatError("BTF type section misaligned", 8);
  if (typeLen % 4 !== 0) throw new FormatError("BTF type section length not a multiple of 4", 12);
  if (typeOff < strOff + strLen && strOff < typeOff + typeLen) {
    throw new FormatError("BTF type and string sections overlap", 16);
  }
  const base = options.base;
  const strStart = hdrLen + strOff;
  const strings = bytes.subarray(strStart, strStart + strLen);
  if (base === undefined) {
    if (strLen === 0 || strings[0] !== 0) {
      throw new FormatError("BTF string section must start with an empty string", strStart);
    }
  }
  if (strLen > 0 && strings[strLen - 1] !== 0) {
    throw new FormatError("BTF string section not NUL-terminated", strStart + strLen - 1);
  }
  const typeStart = hdrLen + typeOff;
  let words: Uint32Array;
  if (little === HOST_LITTLE && (bytes.byteOffset + typeStart) % 4 === 0) {
    words = new Uint32Array(bytes.buffer, bytes.byteOffset + typeStart, typeLen >>> 2);
  } else {
    words = options.allocate
      ? words32(options.allocate, typeLen >>> 2)
      : new Uint32Array(typeLen >>> 2);
    for (let i = 0, p = typeStart; i < words.length; i++, p += 4) words[i] = v.getUint32(p, little);
  }
  return new Spec(
    words,
    strings,
    little ? "little" : "big",
    base,
    typeStart,
    strStart,
    options.allocate,
  );
}

/**
 * Parsed BTF: types by id, by name, and in order. Types are decoded on first use and then
 * kept, so the same id always gives the same object. A split spec (module BTF) sees the
 * types of its base as well; its own ids start at the base's next id.
 */
export class Spec implements Iterable<Type> {
  /** The byte order the BTF was read in. */
  readonly byteOrder: ByteOrder;
  /** The base spec of split BTF, if any. */
  readonly base: Spec | undefined;
  readonly #words: Uint32Array;
  readonly #offsets: Uint32Array;
  readonly #strings: Uint8Array;
  readonly #strBase: number;
  readonly #first: number;
  readonly #count: number;
  readonly #typeStart: number;
  readonly #strStart: number;
  #objects: (Type | undefined)[] | undefined;
  #early: Map<number, Type> | undefined;
  #datasecs: number[] | undefined;
  // The string section as one JS string when it is all ASCII (false when it is not): names
  // are then slices of it, an order of magnitude cheaper than decoding and caching each.
  #strTable: string | false | undefined;
  #strDecodes = 0;
  // Names of members, parameters and enumerators repeat (`skb`, `flags`, `next`): a small
  // cache keyed by string offset hands out one string for each, made with the table.
  #listNameKeys: Int32Array | undefined;
  #listNames: string[] | undefined;
  #nameHeads: Int32Array | undefined;
  #nameNext: Int32Array | undefined;
  #nameHash: Uint32Array | undefined;
  #nameScans = 0;
  #raw: (RawBtf & RawReader) | undefined;
  #halfWords: Uint16Array | undefined;
  #validated = false;
  // Checked type by type (checkTypesOnUse): which types are, and the chain walk's states.
  #typeChecked: Uint8Array | undefined;
  #chainStates: Uint8Array | undefined;
  #typeChecks = 0;
  // Set while a reader of the whole object (parseCollectionSpec) runs: validation waits for
  // the first read after it, and each type, list and string read meanwhile is checked alone.
  #deferred = false;

  static {
    readBeforeValidation = <T>(spec: Spec, read: () => T): T => {
      if (spec.#validated || spec.#deferred) return read();
      spec.#deferred = true;
      try {
        return read();
      } catch (e) {
        // Corrupt BTF is reported as such, as it was when validation came first.
        spec.#deferred = false;
        spec.validate();
        throw e;
      } finally {
        spec.#deferred = false;
      }
    };
    validationDeferred = (spec: Spec) => spec.#deferred;
    datasecIds = (spec: Spec) => {
      const first = spec.#first;
      const found = spec.#datasecs;
      if (found !== undefined) {
        const ids = new globalThis.Array<number>(found.length);
        for (let i = 0; i < found.length; i++) ids[i] = first + found[i];
        return ids;
      }
      const out: number[] = [];
      const w = spec.#words;
      const offsets = spec.#offsets;
      for (let i = 0; i < spec.#count; i++) {
        if (((w[offsets[i] + 1] >>> 24) & 0x1f) === DATASEC) out.push(first + i);
      }
      return out;
    };
    rawReader = (spec: Spec) => spec.#reader();
    checkTypeAlone = (spec: Spec, id: number) => {
      const idx = id - spec.#first;
      if (!spec.#validated && idx >= 0 && idx < spec.#count) spec.#checkBeforeUse(idx);
    };
  }

  /** Use {@linkcode parseSpec}: specs are only made from bytes. */
  constructor(
    words: Uint32Array,
    strings: Uint8Array,
    byteOrder: ByteOrder,
    base: Spec | undefined,
    typeStart: number,
    strStart: number,
    allocate?: (byteLength: number) => Uint8Array,
  ) {
    this.#words = words;
    this.#strings = strings;
    this.byteOrder = byteOrder;
    this.base = base;
    this.#first = base ? base.nextTypeId : 1;
    this.#strBase = base ? base.stringsLength : 0;
    this.#typeStart = typeStart;
    this.#strStart = strStart;
    this.#offsets = this.#index(allocate);
    this.#count = this.#offsets.length;
  }

  /** The id of this spec's first type: 1, or the base's next id for split BTF. */
  get firstTypeId(): number {
    return this.#first;
  }

  /** The number of this spec's own types (not counting void or base types). */
  get typeCount(): number {
    return this.#count;
  }

  /** One more than the highest type id: where a split spec on top of this one starts. */
  get nextTypeId(): number {
    return this.#first + this.#count;
  }

  /** The length of the string space, including the base's strings. */
  get stringsLength(): number {
    return this.#strBase + this.#strings.length;
  }

  /** The raw tables, for allocation-free walks. */
  get raw(): RawBtf {
    return this.#reader();
  }

  /** `raw` as the readers of `_raw_reader.ts` take it: with the halves and the base's. */
  #reader(): RawBtf & RawReader {
    return this.#raw ??= {
      words: this.#words,
      offsets: this.#offsets,
      firstId: this.#first,
      count: this.#count,
      strings: this.#strings,
      stringsBase: this.#strBase,
      halves: this.#halves(),
      base: this.base === undefined ? undefined : this.base.#reader(),
    };
  }

  /** The string at offset `off` of the string section (the base's below its length). */
  string(off: number): string {
    // Read type by type (a kernel spec checked on use, or an object's while its reader
    // runs), a spec needs no validation to read a string: `off` is checked.
    if (!this.#validated && !this.#checksAlone()) this.validate();
    if (off < this.#strBase) return this.base!.string(off);
    const rel = off - this.#strBase;
    if (!(rel < this.#strings.length)) throw new RangeError(`String offset ${off} out of range`);
    let table = this.#strTable;
    // Decoding the whole section costs as much as decoding a name per 64 of its bytes (a
    // few thousand for vmlinux): worth it once that many are read, not for a lookup of one
    // type. An object's small section is decoded after a few dozen (its line infos).
    const size = this.#strings.length;
    if (table === undefined && ++this.#strDecodes > Math.min(1024, size >>> 6)) {
      table = this.#strTable = asciiTable(this.#strings);
      // The cache pays for its memory only where names repeat by the thousand.
      if (table && size >= LIST_NAME_CACHE_MIN_STRINGS) {
        this.#listNameKeys = new Int32Array(LIST_NAME_CACHE).fill(-1);
        this.#listNames = new globalThis.Array<string>(LIST_NAME_CACHE).fill("");
      }
    }
    // The section ends in a NUL (checked when parsing), so the search always finds one.
    if (table) return table.slice(rel, table.indexOf("\0", rel));
    return decodeCString(this.#strings, rel);
  }

  /**
   * `string(off)` for the decoders, which run after `validate` has checked every offset
   * they read: once the section is one JS string, a slice of it.
   */
  #name(off: number): string {
    const table = this.#strTable;
    const rel = off - this.#strBase;
    if (table && rel >= 0 && rel < table.length) {
      return table.slice(rel, table.indexOf("\0", rel));
    }
    return this.string(off);
  }

  /**
   * `#name(off)` for the names in lists. With vmlinux, half of them hit the cache, which
   * saves the strings (a sixth of what a full decode keeps) and their copying by the GC.
   */
  #listName(off: number): string {
    const keys = this.#listNameKeys;
    if (keys === undefined || off === 0) return this.#name(off);
    const slot = Math.imul(off, 0x9e3779b1) >>> (32 - LIST_NAME_CACHE_BITS);
    if (keys[slot] === off) return this.#listNames![slot];
    const name = this.#name(off);
    keys[slot] = off;
    this.#listNames![slot] = name;
    return name;
  }

  /** The `BTF_KIND_*` of type `id` without decoding it (0 for void). */
  kindOf(id: number): number {
    const kind = Number.isInteger(id) ? rawKindOf(this.#reader(), id) : -1;
    if (kind < 0) throw new RangeError(`Type id ${id} not found`);
    return kind;
  }

  /** The string offset of the name of type `id` (0 for void). */
  nameOffsetOf(id: number): number {
    if (id === 0) return 0;
    const off = Number.isInteger(id) ? typeWord(this.#reader(), id, 0) : -1;
    if (off < 0) throw new RangeError(`Type id ${id} not found`);
    return off;
  }

  /** The name of type `id` without decoding the type. */
  nameOf(id: number): string {
    if (id === 0) return "";
    if (id < this.#first) return this.base!.nameOf(id);
    const o = this.#offset(id);
    if (!this.#validated) this.#checkBeforeUse(id - this.#first);
    return this.string(this.#words[o]);
  }

  /** The type with this id; throws a RangeError for an id the spec does not have. */
  typeById(id: number): Type {
    const idx = id - this.#first;
    // An object's types read before validation are kept, but none is handed out before it.
    if (!this.#validated && !this.#checksAlone()) this.validate();
    // This spec's own types first: a type decoded already costs one load.
    if (idx >= 0 && idx < this.#count && Number.isInteger(id)) {
      return this.#objects?.[idx] ?? this.#decodeAt(idx);
    }
    if (id === 0) return VOID;
    if (!Number.isInteger(id)) throw new RangeError(`Invalid BTF type id ${id}`);
    if (id < this.#first) {
      if (this.base && id > 0) return this.base.typeById(id);
      throw new RangeError(`Invalid BTF type id ${id}`);
    }
    throw new RangeError(`Type id ${id} not found`);
  }

  /** Decodes this spec's type at index `idx` (its id less the first id) and keeps it. */
  #decodeAt(idx: number): Type {
    if (!this.#validated) {
      if (this.#deferred) return this.#decodeEarly(idx);
      this.#checkBeforeUse(idx);
    }
    let objects = this.#objects;
    if (objects === undefined) {
      objects = this.#objects = this.#newObjects();
      if (objects[idx] !== undefined) return objects[idx];
    }
    const t = this.#decode(this.#offsets[idx]);
    bindType(t, this, this.#first + idx);
    objects[idx] = t;
    return t;
  }

  /**
   * Decodes type `idx` before validation, checked alone. Kept apart from the array of
   * every type: a reader of an object decodes a handful, and the array costs more.
   */
  #decodeEarly(idx: number): Type {
    const early = this.#early ??= new Map();
    let t = early.get(idx);
    if (t !== undefined) return t;
    this.#checkBeforeUse(idx);
    t = this.#decode(this.#offsets[idx]);
    bindType(t, this, this.#first + idx);
    early.set(idx, t);
    return t;
  }

  /** The array of decoded types, with those decoded before validation in it. */
  #newObjects(): (Type | undefined)[] {
    const objects = new globalThis.Array<Type | undefined>(this.#count);
    if (this.#early !== undefined) { for (const [idx, t] of this.#early) objects[idx] = t; }
    this.#early = undefined;
    return objects;
  }

  /** The id of a type decoded from this spec (or its base); undefined for other types. */
  typeId(type: Type): number | undefined {
    if (type === VOID) return 0;
    if (sourceOf(type) === this) return idOf(type);
    return this.base?.typeId(type);
  }

  /** Every type of this spec (base types excluded), in id order. */
  *types(): IterableIterator<Type> {
    if (!this.#validated && !this.#deferred) this.validate();
    for (let idx = 0; idx < this.#count; idx++) {
      yield this.#objects?.[idx] ?? this.#decodeAt(idx);
    }
  }

  /** Iterates {@linkcode Spec.types}. */
  [Symbol.iterator](): IterableIterator<Type> {
    return this.types();
  }

  /**
   * The ids of every type named `name`, base types first, in id order. Uses a hash index
   * built on the first call over the raw string bytes; no names are decoded.
   */
  typeIdsByName(name: string): number[] {
    const out = this.base ? this.base.typeIdsByName(name) : [];
    if (name === "") return out;
    // The lookups below read names within bounds whatever the offsets: a spec checked type
    // by type checks the types found when they are decoded.
    if (!this.#validated && !this.#checksAlone()) this.validate();
    const key = encodeString(name);
    // Building the index hashes every name: a few linear scans cost less, as in libbpf's
    // btf__find_by_name, for a tool that looks up a handful of types.
    if (this.#nameHeads === undefined && ++this.#nameScans <= 8) {
      return this.#scanName(key, name, out);
    }
    this.#buildNameIndex();
    const h = hashBytes(key);
    const heads = this.#nameHeads!;
    const next = this.#nameNext!;
    const hashes = this.#nameHash!;
    const words = this.#words;
    const offsets = this.#offsets;
    for (let i = heads[h & (heads.length - 1)]; i >= 0; i = next[i]) {
      if (hashes[i] !== h) continue;
      const nameOff = words[offsets[i]];
      const rel = nameOff - this.#strBase;
      const same = rel >= 0
        ? equalsCString(this.#strings, rel, key)
        : this.string(nameOff) === name;
      if (same) out.push(this.#first + i);
    }
    return out;
  }

  #scanName(key: Uint8Array, name: string, out: number[]): number[] {
    const words = this.#words;
    const offsets = this.#offsets;
    const strings = this.#strings;
    const strBase = this.#strBase;
    const first = key[0];
    for (let i = 0; i < this.#count; i++) {
      const nameOff = words[offsets[i]];
      if (nameOff === 0) continue;
      const rel = nameOff - strBase;
      const same = rel >= 0
        ? strings[rel] === first && equalsCString(strings, rel, key)
        : this.string(nameOff) === name;
      if (same) out.push(this.#first + i);
    }
    return out;
  }

  /**
   * Every type named `name`, optionally only those of one class (`Enum` covers ENUM64).
   *
   * @example
   * ```ts
   * import { loadKernelSpec, Struct } from "@ebpf/ebpf/btf";
   * const spec = loadKernelSpec();
   * const all = spec.typesByName("task_struct", Struct);
   * ```
   */
  typesByName<T extends Type = Type>(name: string, kind?: TypeClass<T>): T[] {
    const out: T[] = [];
    for (const id of this.typeIdsByName(name)) {
      const t = this.typeById(id);
      if (kind === undefined || t instanceof kind) out.push(t as T);
    }
    return out;
  }

  /**
   * The one type named `name` (of class `kind`, if given), or undefined when there is none.
   * Throws a RangeError when the name is ambiguous; use {@linkcode Spec.typesByName} then.
   */
  typeByName<T extends Type = Type>(name: string, kind?: TypeClass<T>): T | undefined {
    const all = this.typesByName(name, kind);
    if (all.length > 1) {
      throw new RangeError(`Ambiguous type name "${name}": ${all.length} candidates`);
    }
    return all[0];
  }

  /** Decodes the records (members, values, parameters, variables) of type `id`. */
  decodeList(id: number): unknown[] {
    if (id < this.#first) return this.base!.decodeList(id);
    if (!this.#validated && !this.#checksAlone()) this.validate();
    const w = this.#words;
    const o = this.#offset(id);
    if (!this.#validated) {
      const idx = id - this.#first;
      if (!this.#deferred) this.#checkBeforeUse(idx);
      else {
        // Read before validation: this type's records are checked now.
        const memberError = this.#checkRangesAndMembers(idx, idx + 1);
        if (memberError) throw memberError;
      }
    }
    const info = w[o + 1];
    const kind = (info >>> 24) & 0x1f;
    const vlen = info & 0xffff;
    const kflag = info >>> 31;
    switch (kind) {
      case Kind.Struct:
      case Kind.Union: {
        const out = new globalThis.Array<Member>(vlen);
        for (let i = 0, p = o + 3; i < vlen; i++, p += 3) {
          const off = w[p + 2];
          out[i] = new Member(
            this.#listName(w[p]),
            this.typeById(w[p + 1]),
            kflag ? off & 0xffffff : off,
            kflag ? off >>> 24 : 0,
          );
        }
        return out;
      }
      case Kind.Enum: {
        const out = new globalThis.Array<EnumValue>(vlen);
        for (let i = 0, p = o + 3; i < vlen; i++, p += 2) {
          const raw = w[p + 1];
          const val = raw < SMALL_BIGINTS.length
            ? SMALL_BIGINTS[raw]
            : BigInt(kflag ? raw | 0 : raw);
          out[i] = new EnumValue(this.#listName(w[p]), val);
        }
        return out;
      }
      case Kind.Enum64: {
        const out = new globalThis.Array<EnumValue>(vlen);
        for (let i = 0, p = o + 3; i < vlen; i++, p += 3) {
          const u = (BigInt(w[p + 2]) << 32n) | BigInt(w[p + 1]);
          out[i] = new EnumValue(this.#listName(w[p]), kflag ? BigInt.asIntN(64, u) : u);
        }
        return out;
      }
      case Kind.FuncProto: {
        const out = new globalThis.Array<FuncParam>(vlen);
        for (let i = 0, p = o + 3; i < vlen; i++, p += 2) {
          out[i] = new FuncParam(this.#listName(w[p]), this.typeById(w[p + 1]));
        }
        return out;
      }
      case Kind.Datasec: {
        const out = new globalThis.Array<VarSecinfo>(vlen);
        for (let i = 0, p = o + 3; i < vlen; i++, p += 3) {
          out[i] = new VarSecinfo(this.typeById(w[p]), w[p + 1], w[p + 2]);
        }
        return out;
      }
      default:
        return [];
    }
  }

  #offset(id: number): number {
    const idx = id - this.#first;
    if (!(idx >= 0 && idx < this.#count && Number.isInteger(idx))) {
      throw new RangeError(`Type id ${id} not found`);
    }
    return this.#offsets[idx];
  }

  #ref(id: number): Type {
    // References to void and to types decoded already need no lazy wrapper.
    if (id === 0) return VOID;
    const idx = id - this.#first;
    const t = idx >= 0 ? this.#objects?.[idx] : undefined;
    return t ?? lazyRef(id);
  }

  #decode(o: number): Type {
    const w = this.#words;
    const name = this.#name(w[o]);
    const info = w[o + 1];
    const kind = (info >>> 24) & 0x1f;
    const vlen = info & 0xffff;
    const kflag = info >>> 31;
    const sz = w[o + 2];
    switch (kind) {
      case Kind.Int: {
        const x = w[o + 3];
        return new Int(name, sz, (x >>> 24) & 0x0f, x & 0xff, (x >>> 16) & 0xff);
      }
      case Kind.Pointer:
        return new Pointer(this.#ref(sz), name);
      case Kind.Array:
        return new ArrayType(this.#ref(w[o + 3]), this.#ref(w[o + 4]), w[o + 5], name);
      case Kind.Struct:
        return new Struct(name, sz, vlen === 0 ? [] : LAZY_LIST);
      case Kind.Union:
        return new Union(name, sz, vlen === 0 ? [] : LAZY_LIST);
      case Kind.Enum:
      case Kind.Enum64:
        return new Enum(name, sz, vlen === 0 ? [] : LAZY_LIST, kflag === 1, kind === Kind.Enum64);
      case Kind.Fwd:
        return new Fwd(name, kflag ? "union" : "struct");
      case Kind.Typedef:
        return new Typedef(name, this.#ref(sz));
      case Kind.Volatile:
        return new Volatile(this.#ref(sz), name);
      case Kind.Const:
        return new Const(this.#ref(sz), name);
      case Kind.Restrict:
        return new Restrict(this.#ref(sz), name);
      case Kind.Func:
        return new Func(name, this.#ref(sz) as FuncProto, vlen);
      case Kind.FuncProto:
        return new FuncProto(this.#ref(sz), vlen === 0 ? [] : LAZY_LIST, name);
      case Kind.Var:
        return new Var(name, this.#ref(sz), w[o + 3]);
      case Kind.Datasec:
        return new Datasec(name, sz, vlen === 0 ? [] : LAZY_LIST);
      case Kind.Float:
        return new Float(name, sz);
      case Kind.DeclTag:
        return new DeclTag(name, this.#ref(sz), w[o + 3] | 0);
      case Kind.TypeTag:
        return new TypeTag(name, this.#ref(sz));
    }
    throw new FormatError(`Unknown BTF kind ${kind}`, this.#typeStart + o * 4 + 4);
  }

  /**
   * One pass over the type section, as libbpf's btf__parse makes: where each type starts,
   * whether its kind is known and whether its records fit. References and strings are
   * checked by {@linkcode Spec.validate}, before anything follows them.
   */
  #index(allocate: ((byteLength: number) => Uint8Array) | undefined): Uint32Array {
    const r = indexTypes(this.#words, allocate);
    this.#datasecs = r.datasecs;
    if (r.error !== undefined) {
      const w = this.#words;
      const o = r.error;
      if (o + 3 > w.length) throw this.#error("BTF type truncated", o);
      const kind = (w[o + 1] >>> 24) & 0x1f;
      if (FIXED_WORDS[kind] < 0) throw this.#error(`Unknown BTF kind ${kind}`, o + 1);
      throw this.#error(
        `BTF ${KIND_NAMES[kind]} with vlen ${w[o + 1] & 0xffff} overruns the section`,
        o,
      );
    }
    return r.offsets;
  }

  /**
   * Checks what parsing leaves for later: that every string offset and type id is in range,
   * that no chain of references that avoids structs and unions is cyclic or absurdly deep,
   * and that no struct or union member ends past its type's size (as the kernel checks).
   * Runs by itself, once, before the first type, name or string is handed out, so that only
   * the raw tables are ever seen unchecked. The kernel's own BTF (`loadKernelSpec`) instead
   * checks each type the same way just before its first use, and a reader of a whole object
   * may read a few types first, each checked alone (see `readBeforeValidation`). Throws a
   * {@linkcode FormatError}.
   */
  validate(): this {
    if (this.#validated) return this;
    this.base?.validate();
    const count = this.#count;
    const memberError = this.#checkRangesAndMembers(0, count);
    // 0: not seen, 1: on the stack, 2: done. Scratch shared by every spec (the walk calls
    // nothing that could validate another): allocating costs more than a small walk.
    if (chainState.length < count) {
      chainState = new Uint8Array(Math.max(count, chainState.length * 2));
    } else {
      chainState.fill(0, 0, count);
    }
    this.#checkChains(0, count, chainState);
    if (memberError) throw memberError;
    this.#validated = true;
    this.#typeChecked = this.#chainStates = undefined;
    return this;
  }

  /**
   * Whether the spec checks types one by one as they are read instead of validating them
   * all first: the kernel's own ({@linkcode checkTypesOnUse}), or an object's while its
   * reader runs (`readBeforeValidation`).
   */
  #checksAlone(): boolean {
    return this.#deferred || typesCheckedOnUse.has(this);
  }

  /**
   * What the decoders run before reading type `idx` (its id less the first id) of a spec
   * that is not validated yet: {@linkcode Spec.validate}; for a spec checked type by type
   * ({@linkcode checkTypesOnUse}) the same checks of this one type: its string offsets and
   * type ids, its members' extents, the chains of references it starts; while an object's
   * reader runs (`readBeforeValidation`), only what decoding the type reads outside its list
   * (which `decodeList` checks): a parse reads few types, and the whole spec is validated
   * before any is handed out.
   */
  #checkBeforeUse(idx: number): void {
    if (this.#deferred) {
      this.#checkHead(idx);
      return;
    }
    if (!typesCheckedOnUse.has(this)) {
      this.validate();
      return;
    }
    const checked = this.#typeChecked ??= new Uint8Array(this.#count);
    if (checked[idx] === 1) return;
    // One pass costs less than checking most types one by one.
    if (++this.#typeChecks > CHECKS_BEFORE_VALIDATION) {
      this.validate();
      return;
    }
    const memberError = this.#checkRangesAndMembers(idx, idx + 1);
    this.#checkChains(idx, idx + 1, this.#chainStates ??= new Uint8Array(this.#count));
    if (memberError) throw memberError;
    checked[idx] = 1;
  }

  /**
   * The type words as 16-bit halves, high half of word `o` at `2 * o + HI`. The walks read
   * `info` (and bitfield offsets) through them: a 32-bit word of 2^30 or more is a heap
   * number until V8 optimizes the loop, and a kflag sets bit 31, so reading whole words
   * allocates, and changes the type feedback that delays the optimization, JIT-cold.
   */
  #halves(): Uint16Array {
    const w = this.#words;
    return this.#halfWords ??= new Uint16Array(w.buffer, w.byteOffset, w.length * 2);
  }

  /**
   * String offsets and type ids in range, and (recorded, thrown by `validate` after the
   * chain check, as the kernel orders them) struct members within their type's size, in
   * one pass. Table-driven, so that every kind runs the same code: a loop whose type
   * feedback keeps changing as new kinds turn up is optimized late, and vmlinux's BTF is
   * validated JIT-cold at a process's first CO-RE load.
   */
  #checkRangesAndMembers(from: number, to: number): FormatError | undefined {
    const w = this.#words;
    const h = this.#halves();
    const offsets = this.#offsets;
    const count = this.#count;
    const first = this.#first;
    const strLimit = this.#strBase + this.#strings.length;
    const reader = this.#reader();
    let maxRef = 0;
    let memberError: FormatError | undefined;
    for (let i = from; i < to; i++) {
      const o = offsets[i];
      const high = h[2 * o + 2 + HI];
      const kind = (high >>> 8) & 0x1f;
      const vlen = h[2 * o + 3 - HI];
      if (w[o] >= strLimit) throw this.#error(`String offset ${w[o]} out of range`, o);
      let r = 0;
      const headRefs = HEAD_REFS[kind];
      if (headRefs === 1) r = w[o + 2];
      else if (headRefs === 2) r = w[o + 3] > w[o + 4] ? w[o + 3] : w[o + 4];
      const stride = PER_VLEN_WORDS[kind];
      const nameAt = ENTRY_NAME_AT[kind];
      const refAt = ENTRY_REF_AT[kind];
      const entries = stride === 0 ? 0 : vlen; // FUNC keeps its linkage in vlen
      for (let j = 0, p = o + 3; j < entries; j++, p += stride) {
        if (nameAt === 0 && w[p] >= strLimit) {
          throw this.#error(`String offset ${w[p]} out of range`, p);
        }
        if (refAt >= 0 && w[p + refAt] > r) r = w[p + refAt];
      }
      if (r > maxRef) maxRef = r;
      if (memberError !== undefined || (kind !== Kind.Struct && kind !== Kind.Union)) continue;
      const bits = w[o + 2] * 8;
      const kflag = high >>> 15;
      for (let p = o + 3, j = 0; j < vlen; j++, p += 3) {
        let offset: number;
        let width = 0;
        if (kflag) {
          // Bitfield size in the top byte, bit offset in the low 24 bits.
          const top = h[2 * p + 4 + HI];
          offset = ((top & 0xff) << 16) | h[2 * p + 5 - HI];
          width = top >>> 8;
        } else {
          offset = w[p + 2];
        }
        if (width === 0) {
          // Ids are not checked yet: a member of a type without a size (void, a forward
          // declaration, a function) or of an id out of range counts as 0 bytes, so is not
          // checked here (the range check reports a bad id).
          const size = resolvedSize(reader, w[p + 1], MEMBER_SIZES, MAX_CHAIN + 1);
          width = size > 0 ? size * 8 : 0;
        }
        if (offset + width > bits) {
          memberError = this.#error(
            `BTF ${KIND_NAMES[kind]} ${first + i}: member ${j} (bits ${offset}..${
              offset + width
            }) ends past its ${w[o + 2]} bytes`,
            p,
          );
          break;
        }
      }
    }
    if (maxRef >= first + count) this.#badRef(from, to);
    return memberError;
  }

  /**
   * Checks what decoding type `idx` (an index, not an id) reads before validation: its name
   * offset and the types it refers to outside its list (which `decodeList` checks).
   */
  #checkHead(idx: number): void {
    const w = this.#words;
    const o = this.#offsets[idx];
    if (w[o] >= this.#strBase + this.#strings.length) {
      throw this.#error(`String offset ${w[o]} out of range`, o);
    }
    const kind = (w[o + 1] >>> 24) & 0x1f;
    const limit = this.#first + this.#count;
    const refs = HEAD_REFS[kind];
    const bad = refs === 1
      ? w[o + 2] >= limit
      : refs === 2 && (w[o + 3] >= limit || w[o + 4] >= limit);
    if (bad) this.#badRef(idx, idx + 1);
  }

  /** Finds where the out-of-range type id is, for the error (the slow path). */
  #badRef(from: number, to: number): never {
    const w = this.#words;
    const offsets = this.#offsets;
    const limit = this.#first + this.#count;
    for (let i = from; i < to; i++) {
      const o = offsets[i];
      const info = w[o + 1];
      const kind = (info >>> 24) & 0x1f;
      const vlen = info & 0xffff;
      const refs: number[] = [];
      switch (kind) {
        case Kind.Array:
          refs.push(o + 3, o + 4);
          break;
        case Kind.Struct:
        case Kind.Union:
          for (let j = 0; j < vlen; j++) refs.push(o + 4 + 3 * j);
          break;
        case Kind.FuncProto:
          refs.push(o + 2);
          for (let j = 0; j < vlen; j++) refs.push(o + 4 + 2 * j);
          break;
        case Kind.Datasec:
          for (let j = 0; j < vlen; j++) refs.push(o + 3 + 3 * j);
          break;
        case Kind.Int:
        case Kind.Enum:
        case Kind.Enum64:
        case Kind.Fwd:
        case Kind.Float:
          break;
        default:
          refs.push(o + 2);
      }
      for (const at of refs) {
        if (w[at] >= limit) throw this.#error(`Type id ${w[at]} out of range`, at);
      }
    }
    throw this.#error("Type id out of range", 0);
  }

  /**
   * Rejects cycles that do not pass through a struct or union (a typedef or qualifier that
   * refers to itself, an array of itself): C cannot express them and every walk over
   * them would loop. Also bounds how deep such chains go, so recursive walks stay shallow.
   */
  #checkChains(from: number, to: number, state: Uint8Array): void {
    const count = this.#count;
    const w = this.#words;
    const h = this.#halves();
    const offs = this.#offsets;
    const first = this.#first;
    const stackId = chainStackId;
    const stackEdge = chainStackEdge;
    for (let start = from; start < to; start++) {
      if (state[start] !== 0) continue;
      // Most types refer to nothing or to one type already checked: no stack needed.
      const so = offs[start];
      const sk = (h[2 * so + 2 + HI] >>> 8) & 0x1f;
      if (LEAF_KIND[sk] === 1) {
        state[start] = 2;
        continue;
      }
      if (ONE_REF_KIND[sk] === 1) {
        const t = w[so + 2] - first;
        if (t < 0 || (t < count && state[t] === 2)) {
          state[start] = 2;
          continue;
        }
      }
      let sp = 0;
      stackId[0] = start;
      stackEdge[0] = 0;
      state[start] = 1;
      while (sp >= 0) {
        const idx = stackId[sp];
        const o = offs[idx];
        const kind = (h[2 * o + 2 + HI] >>> 8) & 0x1f;
        const e = stackEdge[sp]++;
        // Edge e: the type ids of the fixed words, then those of the entries (parameters,
        // variables); members of structs and unions are no edge.
        const headRefs = HEAD_REFS[kind];
        let at = -1;
        if (e < headRefs) at = o + 1 + headRefs + e;
        else if (CHAIN_ENTRY_REF_AT[kind] >= 0 && e - headRefs < h[2 * o + 3 - HI]) {
          at = o + 3 + PER_VLEN_WORDS[kind] * (e - headRefs) + CHAIN_ENTRY_REF_AT[kind];
        }
        if (at < 0) {
          state[idx] = 2;
          sp--;
          continue;
        }
        const t = w[at] - first;
        if (t < 0) continue;
        let message = "";
        if (t >= count) message = `Type id ${w[at]} out of range`;
        else if (state[t] === 2) continue;
        else if (state[t] === 1) message = `BTF type ${first + idx} is part of a reference cycle`;
        else if (sp + 1 >= MAX_CHAIN) {
          message = `BTF type ${first + idx} starts a chain deeper than ${MAX_CHAIN} types`;
        }
        if (message !== "") {
          // Leave no type marked as on the stack: lazily checked specs keep their states.
          for (let k = 0; k <= sp; k++) state[stackId[k]] = 0;
          throw this.#error(message, t >= count ? at : o);
        }
        state[t] = 1;
        sp++;
        stackId[sp] = t;
        stackEdge[sp] = 0;
      }
    }
  }

  #error(message: string, word: number): FormatError {
    return new FormatError(message, this.#typeStart + word * 4);
  }

  #buildNameIndex(): void {
    if (this.#nameHeads) return;
    const count = this.#count;
    let size = 16;
    while (size < count * 2) size *= 2;
    const heads = new Int32Array(size).fill(-1);
    const next = new Int32Array(count);
    const hashes = new Uint32Array(count);
    const w = this.#words;
    const offs = this.#offsets;
    const strs = this.#strings;
    const strBase = this.#strBase;
    // Inserted from the end so that each chain lists ids in ascending order.
    for (let i = count - 1; i >= 0; i--) {
      const nameOff = w[offs[i]];
      if (nameOff === 0) {
        next[i] = -1;
        continue;
      }
      const rel = nameOff - strBase;
      // Names of split types that point into the base strings hash through the base.
      const h = rel >= 0 ? hashCString(strs, rel) : hashBytes(encodeString(this.string(nameOff)));
      hashes[i] = h;
      const b = h & (size - 1);
      next[i] = heads[b];
      heads[b] = i;
    }
    this.#nameHeads = heads;
    this.#nameNext = next;
    this.#nameHash = hashes;
  }

  /** Where the type and string sections started in the parsed bytes (for error offsets). */
  get sectionOffsets(): { types: number; strings: number } {
    return { types: this.#typeStart, strings: this.#strStart };
  }
}
