/**
 * `.BTF.ext`: function info, line info and CO-RE relocation records, per ELF section, in
 * either byte order. Instruction offsets stay in bytes from the start of the section, as
 * clang writes them; the loader turns them into instruction indexes.
 *
 * @module
 */

import { HOST_BYTE_ORDER } from "../asm/mod.ts";
import { FormatError } from "../errors.ts";
import {
  checkTypeAlone,
  magicIsLittleEndian,
  type RawBtf,
  type Spec,
  validationDeferred,
} from "./spec.ts";
import type { Type } from "./types.ts";

/** `struct bpf_func_info`: the function that starts at an instruction. */
export interface FuncInfo {
  /** Byte offset of the function's first instruction in its section. */
  insnOffset: number;
  /** The BTF id of the {@linkcode Func}. */
  typeId: number;
  /** The {@linkcode Func} type. */
  func: Type;
}

/** `struct bpf_line_info`: the source line an instruction came from. */
export interface LineInfo {
  /** Byte offset of the instruction in its section. */
  insnOffset: number;
  /** The source file's name. */
  fileName: string;
  /** The text of the source line. */
  line: string;
  /** The line number. */
  lineNumber: number;
  /** The column. */
  column: number;
  /** String offset of the file name (for writing the record back). */
  fileNameOffset: number;
  /** String offset of the line text. */
  lineOffset: number;
}

/**
 * Instruction metadata key under which the ELF reader puts the {@linkcode CoreRelo} that
 * patches an instruction (see `asm.getMeta`), and where CO-RE relocation looks for it.
 */
export const CORE_RELO_META = "btf.coreRelo";

/** Instruction metadata key of the `Func` (func_info) that starts at an instruction. */
export const FUNC_INFO_META = "btf.func";

/** `enum bpf_core_relo_kind`. */
export const CoreReloKind = {
  FieldByteOffset: 0,
  FieldByteSize: 1,
  FieldExists: 2,
  FieldSigned: 3,
  FieldLShiftU64: 4,
  FieldRShiftU64: 5,
  TypeIdLocal: 6,
  TypeIdTarget: 7,
  TypeExists: 8,
  TypeSize: 9,
  EnumvalExists: 10,
  EnumvalValue: 11,
  TypeMatches: 12,
} as const;

/** A `bpf_core_relo_kind` number. */
export type CoreReloKind = typeof CoreReloKind[keyof typeof CoreReloKind];

/** libbpf's names of the relocation kinds, indexed by kind. */
export const CORE_RELO_KIND_NAMES: readonly string[] = [
  "byte_off",
  "byte_sz",
  "field_exists",
  "signed",
  "lshift_u64",
  "rshift_u64",
  "local_type_id",
  "target_type_id",
  "type_exists",
  "type_size",
  "enumval_exists",
  "enumval_value",
  "type_matches",
];

/** `struct bpf_core_relo`: one CO-RE relocation. */
export interface CoreRelo {
  /** Byte offset of the instruction to patch in its section. */
  insnOffset: number;
  /** The BTF id of the local root type. */
  typeId: number;
  /** The local root type. */
  type: Type;
  /** The access string, such as `"0:3:1"` (member indexes) or `"2"` (an enumerator). */
  accessor: string;
  /** What to compute: a {@linkcode CoreReloKind}. */
  kind: CoreReloKind;
}

/** The records of a `.BTF.ext` section, keyed by the ELF section they describe. */
export interface ExtInfos {
  /** Function info per section, in file order. */
  funcInfos: Map<string, FuncInfo[]>;
  /** Line info per section, in file order. */
  lineInfos: Map<string, LineInfo[]>;
  /** CO-RE relocations per section, in file order. */
  coreRelos: Map<string, CoreRelo[]>;
  /** The record sizes the file declared (func, line, CO-RE), for writing them back. */
  recordSizes: { funcInfo: number; lineInfo: number; coreRelo: number };
}

const EXT_HEADER_MIN = 24;

/** Which block of `.BTF.ext` a record is in. */
const FUNC = 0;
const LINE = 1;
const CORE = 2;
const WHAT = ["func_info", "line_info", "core_relo"] as const;
const COLON = 0x3a;

/**
 * The records of one section of a {@linkcode ExtIndex}, found by
 * {@linkcode ExtIndex.sectionAt}: its methods take one in place of the section's name.
 */
export class ExtSection {
  /** Use {@linkcode ExtIndex.sectionAt}. */
  private constructor(
    /** The string offset of the section's name. */
    readonly nameOff: number,
    /**
     * Its blocks as (kind, index into that kind's blocks) pairs, kinds in order: one array
     * rather than one per kind, as most sections have one block of each.
     */
    readonly blocks: number[],
  ) {}

  /** @internal */
  static make(nameOff: number): ExtSection {
    return new ExtSection(nameOff, []);
  }
}

type NameGroup = ExtSection;

/** FNV-1a over the NUL-terminated bytes at `off`, cut to 30 bits (a small integer). */
function hashCString(bytes: Uint8Array, off: number): number {
  let h = 0x811c9dc5;
  for (let i = off; i < bytes.length && bytes[i] !== 0; i++) {
    h = Math.imul(h ^ bytes[i], 0x01000193);
  }
  return h & 0x3fffffff;
}

/** The same hash over the UTF-8 bytes of `s`. */
function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) return hashBytes(encoder.encode(s));
    h = Math.imul(h ^ c, 0x01000193);
  }
  return h & 0x3fffffff;
}

function hashBytes(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
  return h & 0x3fffffff;
}

/** Whether the NUL-terminated bytes at `off` are the UTF-8 encoding of `s`. */
function sameString(bytes: Uint8Array, off: number, s: string): boolean {
  let i = 0;
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) {
      const e = encoder.encode(s);
      for (let j = 0; j < e.length; j++) if (bytes[off + j] !== e[j]) return false;
      return bytes[off + e.length] === 0;
    }
    if (bytes[off + i] !== c) return false;
  }
  return bytes[off + i] === 0;
}

const encoder = new TextEncoder();

/** Whether the NUL-terminated bytes at `i` of `a` and at `j` of `b` are equal. */
function sameBytes(a: Uint8Array, i: number, b: Uint8Array, j: number): boolean {
  for (;; i++, j++) {
    const c = a[i];
    if (c !== b[j]) return false;
    if (c === 0 || c === undefined) return c === 0;
  }
}

/**
 * The first record of `section` (func, line, then CO-RE blocks, in file order) whose
 * instruction offset is not where an instruction of `code` starts, or undefined: `code` is
 * checked by `asm.Instructions.validate`, so every 8-byte slot but the second half of an
 * imm64 load has a non-zero opcode. One loop over the records, for the ELF reader, which
 * checks every record of every section. Internal: not exported from `btf/mod.ts`.
 */
export let misplacedExtRecord: (
  index: ExtIndex,
  section: ExtSection,
  code: Uint8Array,
) => { insnOffset: number; kind: "func_info" | "line_info" | "core_relo" } | undefined;

/**
 * A checked `.BTF.ext` whose records are decoded only when asked for, by ELF section name.
 * Made by {@linkcode indexExtInfos}, which makes every check {@linkcode parseExtInfos} makes:
 * decoding a record later cannot fail. Holds views of the bytes it was given, which must
 * not change afterwards.
 */
export class ExtIndex {
  /** The record sizes the file declared (func, line, CO-RE), for writing them back. */
  readonly recordSizes: { funcInfo: number; lineInfo: number; coreRelo: number };
  readonly #view: DataView;
  /** The same bytes as host-order words, when they are aligned and in host order. */
  readonly #words: Uint32Array | undefined;
  readonly #le: boolean;
  readonly #spec: Spec;
  /** Per block kind: the sections as triples (name offset, first record, record count). */
  readonly #blocks: readonly number[][];
  /** The sections with records, in file order, built on first use. */
  #all: NameGroup[] | undefined;
  /** The hash of each one's name (`#all`'s order), searched in place while they are few. */
  #hashes: number[] = [];
  /** The indexes in `#all` of the groups by the hash of their names, once there are many. */
  #byHash: Map<number, number[]> | undefined;
  /** The group after the one last asked for. */
  #cursor = 0;

  /** Use {@linkcode indexExtInfos}. */
  constructor(
    view: DataView,
    le: boolean,
    spec: Spec,
    blocks: number[][],
    sizes: number[],
    words?: Uint32Array,
  ) {
    this.#view = view;
    this.#words = words;
    this.#le = le;
    this.#spec = spec;
    this.#blocks = blocks;
    this.recordSizes = { funcInfo: sizes[FUNC], lineInfo: sizes[LINE], coreRelo: sizes[CORE] };
  }

  /** The names of the sections that have records, in file order (func, line, CO-RE blocks). */
  sectionNames(): string[] {
    return [...this.#names().keys()];
  }

  /**
   * Calls `f` with the byte offset (in the section) of the instruction each record of
   * `section` points at, and the record's kind, without decoding the records.
   */
  forEachInsnOffset(
    section: string | ExtSection,
    f: (insnOffset: number, kind: "func_info" | "line_info" | "core_relo") => void,
  ): void {
    const g = this.#lists(section);
    if (!g) return;
    const pairs = g.blocks;
    const view = this.#view;
    const le = this.#le;
    for (let j = 0; j < pairs.length; j += 2) {
      const kind = pairs[j];
      const blocks = this.#blocks[kind];
      const b = pairs[j + 1];
      const size = this.#sizeOf(kind);
      for (let i = 0, at = blocks[b + 1]; i < blocks[b + 2]; i++, at += size) {
        f(view.getUint32(at, le), WHAT[kind]);
      }
    }
  }

  static {
    misplacedExtRecord = (index, section, code) => index.#misplaced(section, code);
  }

  #misplaced(
    g: ExtSection,
    code: Uint8Array,
  ): { insnOffset: number; kind: "func_info" | "line_info" | "core_relo" } | undefined {
    const pairs = g.blocks;
    const view = this.#view;
    const le = this.#le;
    const length = code.length;
    const words = this.#words;
    for (let j = 0; j < pairs.length; j += 2) {
      const kind = pairs[j];
      const blocks = this.#blocks[kind];
      const b = pairs[j + 1];
      const size = this.#sizeOf(kind);
      const start = blocks[b + 1];
      const count = blocks[b + 2];
      // Offsets read as words where aligned; any record that fails is found again below.
      if (words !== undefined && (start & 3) === 0) {
        const step = size >>> 2;
        let ok = true;
        for (let i = 0, q = start >>> 2; i < count && ok; i++, q += step) {
          const offset = words[q];
          ok = (offset & 7) === 0 && offset < length && code[offset] !== 0;
        }
        if (ok) continue;
      }
      for (let i = 0, at = start; i < count; i++, at += size) {
        const offset = view.getUint32(at, le);
        if (offset % 8 !== 0 || offset >= length || code[offset] === 0) {
          return { insnOffset: offset, kind: WHAT[kind] };
        }
      }
    }
    return undefined;
  }

  /** The function info of `section`, in file order. */
  funcInfos(section: string | ExtSection): FuncInfo[] {
    const out: FuncInfo[] = [];
    this.#each(section, FUNC, (at) => out.push(this.#func(at)));
    return out;
  }

  /** The line info of `section`, in file order. */
  lineInfos(section: string | ExtSection): LineInfo[] {
    const out: LineInfo[] = [];
    this.#each(section, LINE, (at) => out.push(this.#line(at)));
    return out;
  }

  /** The CO-RE relocations of `section`, in file order. */
  coreRelos(section: string | ExtSection): CoreRelo[] {
    const out: CoreRelo[] = [];
    this.#each(section, CORE, (at) => out.push(this.#core(at)));
    return out;
  }

  /** Every record, decoded, in the shape of {@linkcode ExtInfos}. */
  decodeAll(): ExtInfos {
    const maps = [new Map(), new Map(), new Map()] as Map<string, unknown[]>[];
    const decode = [
      (at: number) => this.#func(at),
      (at: number) => this.#line(at),
      (at: number) => this.#core(at),
    ];
    for (let kind = 0; kind < 3; kind++) {
      const blocks = this.#blocks[kind];
      const size = this.#sizeOf(kind);
      for (let b = 0; b < blocks.length; b += 3) {
        const name = this.#spec.string(blocks[b]);
        let list = maps[kind].get(name);
        if (!list) maps[kind].set(name, list = []);
        for (let i = 0, at = blocks[b + 1]; i < blocks[b + 2]; i++, at += size) {
          list.push(decode[kind](at));
        }
      }
    }
    return {
      funcInfos: maps[FUNC] as Map<string, FuncInfo[]>,
      lineInfos: maps[LINE] as Map<string, LineInfo[]>,
      coreRelos: maps[CORE] as Map<string, CoreRelo[]>,
      recordSizes: { ...this.recordSizes },
    };
  }

  #u32(at: number): number {
    return this.#view.getUint32(at, this.#le);
  }

  #sizeOf(kind: number): number {
    const r = this.recordSizes;
    return kind === FUNC ? r.funcInfo : kind === LINE ? r.lineInfo : r.coreRelo;
  }

  /** The names of every section with records, in file order, decoded. */
  #names(): Map<string, ExtSection> {
    const out = new Map<string, ExtSection>();
    for (const g of this.#groups()) out.set(this.#spec.string(g.nameOff), g);
    return out;
  }

  /**
   * The records grouped by section name. Blocks of each kind mostly name the sections in
   * one order, so a block's name offset is first compared with the group after the last
   * one matched; the offsets seen are kept in a Map only once there are many. Names are
   * compared (by a hash of their bytes) only between distinct offsets: decoding strings or
   * hashing every block costs more than reading the records.
   */
  #groups(): NameGroup[] {
    if (this.#all) return this.#all;
    // Distinct name offsets in order of first appearance, and the group of each.
    const offs: number[] = [];
    const groupOf: NameGroup[] = [];
    let byOff: Map<number, number> | undefined;
    const all: NameGroup[] = this.#all = [];
    for (let kind = 0; kind < 3; kind++) {
      const blocks = this.#blocks[kind];
      let next = 0;
      for (let b = 0; b < blocks.length; b += 3) {
        const nameOff = blocks[b];
        let i = next < offs.length && offs[next] === nameOff ? next : -1;
        if (i < 0) {
          if (byOff !== undefined) i = byOff.get(nameOff) ?? -1;
          else i = offs.indexOf(nameOff);
        }
        if (i < 0) {
          // One group per name: two offsets may hold the same string.
          const h = this.#hashName(nameOff);
          let k = this.#withHash(h, 0);
          while (k >= 0 && !this.#sameName(all[k].nameOff, nameOff)) k = this.#withHash(h, k + 1);
          let g: NameGroup;
          if (k >= 0) g = all[k];
          else {
            g = ExtSection.make(nameOff);
            this.#add(g, h);
          }
          i = offs.length;
          offs.push(nameOff);
          groupOf.push(g);
          if (byOff !== undefined) byOff.set(nameOff, i);
          else if (offs.length > 32) byOff = new Map(offs.map((o, k) => [o, k]));
        }
        groupOf[i].blocks.push(kind, b);
        next = i + 1;
      }
    }
    return all;
  }

  /** Appends group `g`, whose name hashes to `h`. */
  #add(g: NameGroup, h: number): void {
    const all = this.#all!;
    const hashes = this.#hashes;
    all.push(g);
    hashes.push(h);
    // A Map costs more to fill than a search of a few dozen small integers.
    if (this.#byHash !== undefined) {
      const same = this.#byHash.get(h);
      if (same) same.push(all.length - 1);
      else this.#byHash.set(h, [all.length - 1]);
    } else if (all.length > 32) {
      const byHash = this.#byHash = new Map<number, number[]>();
      for (let k = 0; k < hashes.length; k++) {
        const same = byHash.get(hashes[k]);
        if (same) same.push(k);
        else byHash.set(hashes[k], [k]);
      }
    }
  }

  /** The index of the first group from `from` on whose name hashes to `h`, or -1. */
  #withHash(h: number, from: number): number {
    if (this.#byHash === undefined) return this.#hashes.indexOf(h, from);
    const same = this.#byHash.get(h);
    if (same === undefined) return -1;
    for (const k of same) if (k >= from) return k;
    return -1;
  }

  #hashName(nameOff: number): number {
    const { strings, stringsBase } = this.#spec.raw;
    // Names in a base spec's strings (split BTF) hash through their decoded form.
    return nameOff >= stringsBase
      ? hashCString(strings, nameOff - stringsBase)
      : hashString(this.#spec.string(nameOff));
  }

  #sameName(a: number, b: number): boolean {
    const { strings, stringsBase } = this.#spec.raw;
    if (a < stringsBase || b < stringsBase) return this.#spec.string(a) === this.#spec.string(b);
    for (let i = a - stringsBase, j = b - stringsBase;; i++, j++) {
      if (strings[i] !== strings[j]) return false;
      if (strings[i] === 0) return true;
    }
  }

  /**
   * The records of the section whose name is the NUL-terminated bytes at `at` of `bytes`
   * (an ELF section name table, say), compared as bytes without decoding the name: for a
   * reader that asks for every section, cheaper than asking by name. Undefined when the
   * section has no records.
   */
  sectionAt(bytes: Uint8Array, at: number): ExtSection | undefined {
    const all = this.#groups();
    const { strings, stringsBase } = this.#spec.raw;
    const next = all[this.#cursor];
    if (next !== undefined && next.nameOff >= stringsBase) {
      if (sameBytes(strings, next.nameOff - stringsBase, bytes, at)) {
        this.#cursor++;
        return next;
      }
    }
    const h = hashCString(bytes, at);
    for (let k = this.#withHash(h, 0); k >= 0; k = this.#withHash(h, k + 1)) {
      const g = all[k];
      const same = g.nameOff >= stringsBase
        ? sameBytes(strings, g.nameOff - stringsBase, bytes, at)
        : sameBytes(encoder.encode(this.#spec.string(g.nameOff) + "\0"), 0, bytes, at);
      if (!same) continue;
      this.#cursor = k + 1;
      return g;
    }
    return undefined;
  }

  /** The records of `section`, if it has any. */
  #lists(section: string | ExtSection): ExtSection | undefined {
    if (typeof section !== "string") return section;
    const all = this.#groups();
    // Sections are mostly asked for in the order their records come in: try the group
    // after the last one found before hashing the name.
    const next = all[this.#cursor];
    if (next !== undefined && this.#is(next, section)) {
      this.#cursor++;
      return next;
    }
    const h = hashString(section);
    for (let k = this.#withHash(h, 0); k >= 0; k = this.#withHash(h, k + 1)) {
      if (!this.#is(all[k], section)) continue;
      this.#cursor = k + 1;
      return all[k];
    }
    return undefined;
  }

  /** Whether group `g` holds the records of `section`. */
  #is(g: NameGroup, section: string): boolean {
    const { strings, stringsBase } = this.#spec.raw;
    return g.nameOff >= stringsBase
      ? sameString(strings, g.nameOff - stringsBase, section)
      : this.#spec.string(g.nameOff) === section;
  }

  #each(section: string | ExtSection, kind: number, f: (at: number) => void): void {
    const g = this.#lists(section);
    if (!g) return;
    const blocks = this.#blocks[kind];
    const size = this.#sizeOf(kind);
    const pairs = g.blocks;
    for (let j = 0; j < pairs.length; j += 2) {
      if (pairs[j] !== kind) continue;
      const b = pairs[j + 1];
      for (let i = 0, at = blocks[b + 1]; i < blocks[b + 2]; i++, at += size) f(at);
    }
  }

  #func(at: number): FuncInfo {
    const typeId = this.#u32(at + 4);
    return { insnOffset: this.#u32(at), typeId, func: this.#spec.typeById(typeId) };
  }

  #line(at: number): LineInfo {
    const fileNameOffset = this.#u32(at + 4);
    const lineOffset = this.#u32(at + 8);
    const lc = this.#u32(at + 12);
    return {
      insnOffset: this.#u32(at),
      fileName: this.#spec.string(fileNameOffset),
      line: this.#spec.string(lineOffset),
      lineNumber: lc >>> 10,
      column: lc & 0x3ff,
      fileNameOffset,
      lineOffset,
    };
  }

  #core(at: number): CoreRelo {
    const typeId = this.#u32(at + 4);
    return {
      insnOffset: this.#u32(at),
      typeId,
      type: this.#spec.typeById(typeId),
      accessor: this.#spec.string(this.#u32(at + 8)),
      kind: this.#u32(at + 12) as CoreReloKind,
    };
  }
}

/**
 * Checks `.BTF.ext` as {@linkcode parseExtInfos} does, with the same errors in the same
 * order, but decodes no record: names, types and lines are made when a section's records
 * are asked for. String offsets and type ids refer to `spec` (the object's `.BTF`), whose
 * byte order the section must share. Malformed input throws a {@linkcode FormatError}.
 */
export function indexExtInfos(bytes: Uint8Array, spec: Spec): ExtIndex {
  if (bytes.length < EXT_HEADER_MIN) {
    throw new FormatError(`BTF.ext header truncated: ${bytes.length} bytes`, 0);
  }
  const le = magicIsLittleEndian(bytes);
  if (le === undefined) throw new FormatError("Not BTF.ext: bad magic", 0);
  if ((le ? "little" : "big") !== spec.byteOrder) {
    throw new FormatError("BTF.ext byte order differs from its BTF", 0);
  }
  if (bytes[2] !== 1) throw new FormatError(`Unsupported BTF.ext version ${bytes[2]}`, 2);
  if (bytes[3] !== 0) throw new FormatError(`Unsupported BTF.ext flags ${bytes[3]}`, 3);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hdrLen = v.getUint32(4, le);
  if (hdrLen < EXT_HEADER_MIN || hdrLen > bytes.length) {
    throw new FormatError(`Invalid BTF.ext header length ${hdrLen}`, 4);
  }
  const field = (at: number) => (at + 4 <= hdrLen ? v.getUint32(at, le) : 0);
  // Strings and type ids are checked against the spec once it is known to be sound, as
  // decoding a string or type would check it (unless the spec's reader deferred that).
  let strLimit = -1;
  let typeLimit = -1;
  let raw: RawBtf | undefined;
  const deferred = validationDeferred(spec);
  const words = le === (HOST_BYTE_ORDER === "little") && (bytes.byteOffset & 3) === 0
    ? new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length >>> 2)
    : undefined;
  const check = () => {
    if (!deferred) spec.validate();
    strLimit = spec.stringsLength;
    typeLimit = spec.nextTypeId;
    raw = spec.raw;
  };
  const blocks: number[][] = [[], [], []];
  const sizes = [0, 0, 0];
  for (let kind = 0; kind < 3; kind++) {
    const off = field(8 + kind * 8);
    const len = field(12 + kind * 8);
    if (len === 0) continue;
    const what = WHAT[kind];
    const start = hdrLen + off;
    if (off > bytes.length - hdrLen || len > bytes.length - start) {
      throw new FormatError(`BTF.ext ${what} out of range`, 8);
    }
    if (len < 4) throw new FormatError(`BTF.ext ${what} truncated`, start);
    const end = start + len;
    const recSize = v.getUint32(start, le);
    if (recSize < (kind === FUNC ? 8 : 16) || recSize % 4 !== 0) {
      throw new FormatError(`BTF.ext ${what} record size ${recSize} invalid`, start);
    }
    sizes[kind] = recSize;
    const list = blocks[kind];
    let p = start + 4;
    while (p < end) {
      if (p + 8 > end) throw new FormatError(`BTF.ext ${what} section header truncated`, p);
      const nameOff = v.getUint32(p, le);
      if (strLimit < 0) check();
      if (nameOff >= strLimit) throw new FormatError(`String offset ${nameOff} out of range`, p);
      const num = v.getUint32(p + 4, le);
      p += 8;
      if (num === 0) throw new FormatError(`BTF.ext ${what} section has no records`, p - 4);
      if (num > (end - p) / recSize) {
        throw new FormatError(`BTF.ext ${what}: ${num} records overrun the block`, p - 4);
      }
      list.push(nameOff, p, num);
      // Read as host-order words where they are aligned (an object's `.BTF.ext`, copied into
      // aligned memory, always is): a DataView read per field costs more than the checks.
      // Records that fail are checked again one field at a time below, for the error.
      if (words !== undefined && (p & 3) === 0) {
        const step = recSize >>> 2;
        const first = p >>> 2;
        if (recordsPass(spec, raw!, words, first, num, step, kind, strLimit, typeLimit)) {
          if (deferred && kind !== LINE) {
            for (let i = 0, q = first + 1; i < num; i++, q += step) checkTypeAlone(spec, words[q]);
          }
          p += num * recSize;
          continue;
        }
      }
      for (let i = 0; i < num; i++, p += recSize) {
        const a = v.getUint32(p + 4, le);
        if (kind === LINE) {
          if (a >= strLimit) throw new FormatError(`String offset ${a} out of range`, p + 4);
          const b = v.getUint32(p + 8, le);
          if (b >= strLimit) throw new FormatError(`String offset ${b} out of range`, p + 8);
          continue;
        }
        if (kind === CORE) {
          const relo = v.getUint32(p + 12, le);
          if (relo > CoreReloKind.TypeMatches) {
            throw new FormatError(`Unknown CO-RE relocation kind ${relo}`, p + 12);
          }
          const accessor = v.getUint32(p + 8, le);
          if (accessor >= strLimit) {
            throw new FormatError(`String offset ${accessor} out of range`, p + 8);
          }
          if (!isAccessString(spec, raw!, accessor)) {
            throw new FormatError(
              `Invalid CO-RE access string "${spec.string(accessor)}"`,
              p + 8,
            );
          }
        }
        if (a >= typeLimit) throw new FormatError(`Type id ${a} out of range`, p + 4);
        // Decoding the records later must not fail: their types are checked now.
        if (deferred) checkTypeAlone(spec, a);
      }
    }
  }
  return new ExtIndex(v, le, spec, blocks, sizes, words);
}

/**
 * Whether `count` records of `kind`, `step` words each from word `first` of `words` (host
 * order), pass the checks {@linkcode indexExtInfos} makes of each field, but for the check
 * of their types' own words.
 */
function recordsPass(
  spec: Spec,
  raw: RawBtf,
  words: Uint32Array,
  first: number,
  count: number,
  step: number,
  kind: number,
  strLimit: number,
  typeLimit: number,
): boolean {
  const end = first + count * step;
  if (kind === LINE) {
    for (let q = first; q < end; q += step) {
      if (words[q + 1] >= strLimit || words[q + 2] >= strLimit) return false;
    }
    return true;
  }
  for (let q = first; q < end; q += step) {
    if (words[q + 1] >= typeLimit) return false;
    if (kind !== CORE) continue;
    const accessor = words[q + 2];
    if (words[q + 3] > CoreReloKind.TypeMatches || accessor >= strLimit) return false;
    if (!isAccessString(spec, raw, accessor)) return false;
  }
  return true;
}

/**
 * Parses `.BTF.ext` and decodes every record. String offsets and type ids refer to `spec`
 * (the object's `.BTF`), whose byte order the section must share. Malformed input throws a
 * {@linkcode FormatError}. {@linkcode indexExtInfos} makes the same checks and decodes
 * records only when asked for.
 */
export function parseExtInfos(bytes: Uint8Array, spec: Spec): ExtInfos {
  return indexExtInfos(bytes, spec).decodeAll();
}

/** Whether the string at `off` (in range) matches `^\d+(:\d+)*$`, checked on its bytes. */
function isAccessString(spec: Spec, raw: RawBtf, off: number): boolean {
  const { strings, stringsBase } = raw;
  if (off < stringsBase) return /^\d+(:\d+)*$/.test(spec.string(off));
  let digit = false;
  for (let i = off - stringsBase; i < strings.length; i++) {
    const c = strings[i];
    if (c === 0) return digit;
    if (c >= 0x30 && c <= 0x39) digit = true;
    else if (c === COLON && digit) digit = false;
    else return false;
  }
  return false;
}
