/**
 * A reader for ELF64 relocatable objects of either byte order, as clang emits for BPF:
 * section headers, string tables, the symbol table and `.rel*` sections. Every offset and
 * size is checked against the input before it is used.
 *
 * @module
 */

import { HOST_BYTE_ORDER } from "../asm/mod.ts";
import { FormatError } from "../errors.ts";

/** The ELF machine number of BPF. */
export const EM_BPF = 247;

/** Section types the loader looks at (`SHT_*`). */
export const SectionType = {
  Null: 0,
  ProgBits: 1,
  SymTab: 2,
  StrTab: 3,
  Rela: 4,
  NoBits: 8,
  Rel: 9,
} as const;

/** Section flags (`SHF_*`). */
export const SectionFlag = {
  Write: 0x1,
  Alloc: 0x2,
  ExecInstr: 0x4,
} as const;

/** Symbol types (`STT_*`), the low nibble of `st_info`. */
export const SymbolType = {
  NoType: 0,
  Object: 1,
  Func: 2,
  Section: 3,
  File: 4,
} as const;

/** Symbol bindings (`STB_*`), the high nibble of `st_info`. */
export const SymbolBinding = {
  Local: 0,
  Global: 1,
  Weak: 2,
} as const;

/** Special section indices (`SHN_*`). */
export const SHN_UNDEF = 0;
const SHN_LORESERVE = 0xff00;
/** Section index of absolute symbols. */
export const SHN_ABS = 0xfff1;
/** Section index of common symbols. */
export const SHN_COMMON = 0xfff2;
const SHN_XINDEX = 0xffff;

const EHDR_SIZE = 64;
const SHDR_SIZE = 64;
const SYM_SIZE = 24;
const REL_SIZE = 16;
const RELA_SIZE = 24;
/** The largest `.bss` the reader materialises: far above any map value the kernel takes. */
export const MAX_NOBITS = 1 << 30;

/** One section header, with its name resolved. */
export interface Section {
  /** The index of the section in the header table. */
  readonly index: number;
  readonly name: string;
  /** Where the name's NUL-terminated bytes are in the file, for comparing without strings. */
  readonly nameAt: number;
  readonly type: number;
  readonly flags: bigint;
  /** The low byte of `flags` as a number, for cheap tests of the `SHF_*` bits. */
  readonly flagBits: number;
  readonly offset: number;
  readonly size: number;
  readonly link: number;
  readonly info: number;
  readonly addralign: number;
  readonly entsize: number;
}

/**
 * A section header as the reader makes it: its name is decoded, and `flags` made into a
 * bigint, only when read (most sections of an object are debug info nobody names).
 */
class SectionHeader implements Section {
  // Declared, not defined, and no `#` fields: the constructor makes each field once, and
  // V8 makes an object with `#` fields markedly slower (every section gets one).
  declare readonly index: number;
  declare readonly nameAt: number;
  declare readonly type: number;
  declare readonly flagBits: number;
  declare readonly offset: number;
  declare readonly size: number;
  declare readonly link: number;
  declare readonly info: number;
  declare readonly addralign: number;
  declare readonly entsize: number;
  declare private readonly _flagsLo: number;
  declare private readonly _flagsHi: number;
  declare private readonly _names: StringTable;
  declare private _decoded: string | undefined;

  constructor(
    index: number,
    names: StringTable,
    nameAt: number,
    type: number,
    flagsLo: number,
    flagsHi: number,
    offset: number,
    size: number,
    link: number,
    info: number,
    addralign: number,
    entsize: number,
  ) {
    this.index = index;
    this.nameAt = nameAt;
    this.type = type;
    this.flagBits = flagsLo & 0xff;
    this.offset = offset;
    this.size = size;
    this.link = link;
    this.info = info;
    this.addralign = addralign;
    this.entsize = entsize;
    this._flagsLo = flagsLo;
    this._flagsHi = flagsHi;
    this._names = names;
    this._decoded = undefined;
  }

  get name(): string {
    return this._decoded ??= this._names.get(this.nameAt - this._names.offset);
  }

  get flags(): bigint {
    const lo = this._flagsLo >>> 0;
    return this._flagsHi === 0 ? BigInt(lo) : (BigInt(this._flagsHi >>> 0) << 32n) | BigInt(lo);
  }
}

/** One symbol of `.symtab`. */
export interface ElfSymbol {
  /** The index of the symbol in the table (relocations refer to symbols by index). */
  readonly index: number;
  readonly name: string;
  readonly type: number;
  readonly binding: number;
  /** `st_other & 3`: default, internal, hidden or protected. */
  readonly visibility: number;
  /** The section the symbol is defined in, or one of the `SHN_*` values. */
  readonly section: number;
  readonly value: number;
  readonly size: number;
}

/** A symbol as the reader makes it: its name is decoded only when read. */
class SymbolEntry implements ElfSymbol {
  // As SectionHeader: declared fields, no `#` ones.
  declare readonly index: number;
  declare readonly type: number;
  declare readonly binding: number;
  declare readonly visibility: number;
  declare readonly section: number;
  declare readonly value: number;
  declare readonly size: number;
  declare private readonly _names: StringTable;
  declare private readonly _nameIndex: number;
  declare private _decoded: string | undefined;

  constructor(
    index: number,
    names: StringTable,
    nameIndex: number,
    type: number,
    binding: number,
    visibility: number,
    section: number,
    value: number,
    size: number,
  ) {
    this.index = index;
    this.type = type;
    this.binding = binding;
    this.visibility = visibility;
    this.section = section;
    this.value = value;
    this.size = size;
    this._names = names;
    this._nameIndex = nameIndex;
    this._decoded = undefined;
  }

  get name(): string {
    return this._decoded ??= this._names.get(this._nameIndex);
  }
}

/**
 * A string table of the file, checked when made so that every string handed out later is
 * known to be NUL-terminated within it. Decoded as a whole on the first string asked for.
 */
class StringTable {
  /** The table as one string when all ASCII; null when not; undefined until decoded. */
  #text: string | null | undefined;

  constructor(
    readonly bytes: Uint8Array,
    readonly offset: number,
    readonly size: number,
    /** The index of the table's last NUL, or -1: a string at `i` ends in the table iff `i <= lastNul`. */
    readonly lastNul: number,
  ) {}

  /** Throws the FormatError a string at `index` would give, if it would (`at`: what names it). */
  check(index: number, at: number): void {
    if (index >= this.size && !(index === 0 && this.size === 0)) {
      throw new FormatError(`ELF: string offset ${index} is outside its table`, at);
    }
    if (index > this.lastNul && this.size !== 0) {
      throw new FormatError(
        "ELF: string is not NUL-terminated within its table",
        this.offset + index,
      );
    }
  }

  /** The string at `index`, which {@linkcode check} passed. */
  get(index: number): string {
    if (this.size === 0) return "";
    let text = this.#text;
    if (text === undefined) {
      text = this.#text = decodeAsciiTable(
        this.bytes.subarray(this.offset, this.offset + this.size),
      );
    }
    if (text !== null) return text.slice(index, text.indexOf("\0", index));
    // A table with non-ASCII bytes: offsets are bytes, so decode the one string.
    const start = this.offset + index;
    return decoder.decode(this.bytes.subarray(start, this.bytes.indexOf(0, start)));
  }
}

/** One relocation entry of a `.rel` (or `.rela`) section. */
export interface Relocation {
  /** Byte offset in the section the relocations apply to. */
  readonly offset: number;
  /** The index of the symbol in `.symtab`. */
  readonly symbol: number;
  /** The relocation type (`R_BPF_*`). */
  readonly type: number;
  /** The addend of `.rela` entries; 0 for `.rel`. */
  readonly addend: bigint;
}

/** An ELF64 relocatable BPF object, parsed from bytes. */
export class ElfFile {
  /** The whole input. */
  readonly bytes: Uint8Array;
  /** `"little"` or `"big"`, from `e_ident[EI_DATA]`. */
  readonly byteOrder: "little" | "big";
  /** Section headers in index order. */
  readonly sections: readonly Section[];
  readonly #view: DataView;
  readonly #little: boolean;
  #symbols: ElfSymbol[] | undefined;
  /** The string table of section names (also the symbols' table in clang's objects). */
  #sectionNames: StringTable | undefined;

  /**
   * Parses the header and the section table. Throws {@linkcode FormatError} for anything
   * that is not a well-formed ELF64 relocatable object for `EM_BPF`.
   */
  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (bytes.length < EHDR_SIZE) throw new FormatError("ELF: file shorter than its header", 0);
    if (bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) {
      throw new FormatError("ELF: bad magic", 0);
    }
    if (bytes[4] !== 2) throw new FormatError(`ELF: class ${bytes[4]} is not ELF64`, 4);
    if (bytes[5] !== 1 && bytes[5] !== 2) {
      throw new FormatError(`ELF: unknown data encoding ${bytes[5]}`, 5);
    }
    if (bytes[6] !== 1) throw new FormatError(`ELF: unknown version ${bytes[6]}`, 6);
    this.#little = bytes[5] === 1;
    this.byteOrder = this.#little ? "little" : "big";
    const type = this.#u16(16);
    if (type !== 1) throw new FormatError(`ELF: type ${type} is not a relocatable object`, 16);
    const machine = this.#u16(18);
    if (machine !== EM_BPF) {
      throw new FormatError(`ELF: machine ${machine} is not BPF (${EM_BPF})`, 18);
    }
    this.sections = this.#readSections();
  }

  #u16(offset: number): number {
    return this.#view.getUint16(offset, this.#little);
  }

  #u32(offset: number): number {
    return this.#view.getUint32(offset, this.#little);
  }

  /** A 64-bit field that must fit in a JS number (file offsets and sizes). */
  #u64(offset: number, what: string): number {
    // Two 32-bit reads: a BigInt per field costs more than the rest of the parse.
    const little = this.#little;
    const lo = this.#view.getUint32(little ? offset : offset + 4, little);
    const hi = this.#view.getUint32(little ? offset + 4 : offset, little);
    if (hi > 0x1fffff) {
      const v = (BigInt(hi) << 32n) | BigInt(lo);
      throw new FormatError(`ELF: ${what} ${v} is out of range`, offset);
    }
    return hi === 0 ? lo : hi * 0x100000000 + lo;
  }

  /**
   * `length` bytes at `offset` (in range, a multiple of 8) as 32-bit words in host order
   * (a 64-bit field keeps the file's word order: see {@linkcode u64}). Tables are read through one copy into aligned
   * memory: a DataView call per field costs more than the rest of the parse.
   */
  #words(offset: number, length: number): Uint32Array {
    // One scratch buffer for every table of every file: an ArrayBuffer allocation costs
    // more than reading a whole table. Callers use the words before asking for others.
    if (scratch.byteLength < length) {
      scratch = new Uint32Array(Math.max(length, scratch.byteLength * 2) / 4);
      scratchBytes = new Uint8Array(scratch.buffer);
    }
    scratchBytes.set(this.bytes.subarray(offset, offset + length));
    const w = scratch;
    if (this.#little !== HOST_LITTLE) {
      for (let i = 0; i < length / 4; i++) {
        const x = w[i];
        w[i] = ((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24);
      }
    }
    return w;
  }

  #readSections(): Section[] {
    const shoff = this.#u64(0x28, "section header offset");
    const shentsize = this.#u16(0x3a);
    let shnum = this.#u16(0x3c);
    let shstrndx = this.#u16(0x3e);
    if (shoff === 0) return [];
    if (shentsize !== SHDR_SIZE) {
      throw new FormatError(`ELF: section header size ${shentsize} is not ${SHDR_SIZE}`, 0x3a);
    }
    this.#checkRange(shoff, SHDR_SIZE, "section header 0");
    // Extended numbering: the real counts live in section 0.
    if (shnum === 0) shnum = this.#u64(shoff + 0x20, "section count");
    if (shstrndx === SHN_XINDEX) shstrndx = this.#u32(shoff + 0x28);
    if (shnum > (this.bytes.length - shoff) / SHDR_SIZE) {
      throw new FormatError(`ELF: ${shnum} section headers do not fit in the file`, 0x3c);
    }
    const w = this.#words(shoff, shnum * SHDR_SIZE);
    const little = this.#little;
    const W = SHDR_SIZE / 4;
    // Checks first, in the order of the fields and then of the ranges; objects after.
    // The high words of offset, size, alignment and entry size: one test for the four.
    const hi = little ? 1 : 0;
    for (let i = 0, k = 0, at = shoff; i < shnum; i++, k += W, at += SHDR_SIZE) {
      if ((w[k + 6 + hi] | w[k + 8 + hi] | w[k + 12 + hi] | w[k + 14 + hi]) >>> 0 <= 0x1fffff) {
        continue;
      }
      u64(w, k + 6, little, at + 0x18, "section offset");
      u64(w, k + 8, little, at + 0x20, "section size");
      u64(w, k + 12, little, at + 0x30, "section alignment");
      u64(w, k + 14, little, at + 0x38, "section entry size");
    }
    for (let i = 0, k = 0, at = shoff; i < shnum; i++, k += W, at += SHDR_SIZE) {
      const type = w[k + 1];
      if (type !== SectionType.NoBits && type !== SectionType.Null) {
        const offset = num(w, k + 6, little);
        const size = num(w, k + 8, little);
        // The message is built only on failure: a string per section costs more than the check.
        if (offset > this.bytes.length || size > this.bytes.length - offset) {
          this.#checkRange(offset, size, `section ${i}`, at + 0x18);
        }
      }
    }
    if (shnum > 0 && (shstrndx >= shnum || w[shstrndx * W + 1] !== SectionType.StrTab)) {
      throw new FormatError(`ELF: section name table index ${shstrndx} is invalid`, 0x3e);
    }
    const namesOffset = shnum > 0 ? u64(w, shstrndx * W + 6, little, 0, "") : 0;
    const namesSize = shnum > 0 ? u64(w, shstrndx * W + 8, little, 0, "") : 0;
    const names = this.#sectionNames = this.#stringTable(namesOffset, namesSize);
    const out: Section[] = [];
    for (let i = 0, k = 0, at = shoff; i < shnum; i++, k += W, at += SHDR_SIZE) {
      const flagsLo = little ? w[k + 2] : w[k + 3];
      const flagsHi = little ? w[k + 3] : w[k + 2];
      names.check(w[k], at);
      out.push(
        new SectionHeader(
          i,
          names,
          namesOffset + w[k],
          w[k + 1],
          flagsLo,
          flagsHi,
          num(w, k + 6, little),
          num(w, k + 8, little),
          w[k + 10],
          w[k + 11],
          num(w, k + 12, little),
          num(w, k + 14, little),
        ),
      );
    }
    return out;
  }

  #checkRange(offset: number, size: number, what: string, at = offset): void {
    if (offset > this.bytes.length || size > this.bytes.length - offset) {
      throw new FormatError(
        `ELF: ${what} (${size} bytes at ${offset}) extends past the end of the file`,
        at,
      );
    }
  }

  /** The string table at `offset` (in range), checked once for every string of it. */
  #stringTable(offset: number, size: number): StringTable {
    const names = this.#sectionNames;
    if (names !== undefined && names.offset === offset && names.size === size) return names;
    const lastNul = size === 0 ? -1 : this.bytes.lastIndexOf(0, offset + size - 1) - offset;
    return new StringTable(this.bytes, offset, size, lastNul < 0 ? -1 : lastNul);
  }

  /** The section named `name`, if any (the first, when several share it). */
  section(name: string): Section | undefined {
    for (const s of this.sections) if (this.nameIs(s, name)) return s;
    return undefined;
  }

  /**
   * Whether `section` is named `name`, compared on the bytes of the name without decoding
   * it: cheaper than `section.name === name` for sections whose names nothing else reads.
   */
  nameIs(section: Section, name: string): boolean {
    if (this.#sectionNames!.size === 0) return name === "";
    const b = this.bytes;
    const at = section.nameAt;
    for (let i = 0; i < name.length; i++) {
      const c = name.charCodeAt(i);
      // Up to the first non-ASCII character, bytes and characters line up.
      if (c >= 0x80) return section.name === name;
      if (b[at + i] !== c) return false;
    }
    return b[at + name.length] === 0;
  }

  /**
   * The contents of a section: a view into the input, not a copy. `SHT_NOBITS` sections
   * (`.bss`) have no bytes in the file and give zeros of their size.
   */
  data(section: Section): Uint8Array {
    if (section.type === SectionType.NoBits) {
      if (section.size > MAX_NOBITS) {
        throw new FormatError(`ELF: section "${section.name}" of ${section.size} bytes`, 0);
      }
      return new Uint8Array(section.size);
    }
    return this.bytes.subarray(section.offset, section.offset + section.size);
  }

  /** The symbols of `.symtab`, index 0 (the null symbol) included. */
  symbols(): readonly ElfSymbol[] {
    if (this.#symbols) return this.#symbols;
    const symtab = this.sections.find((s) => s.type === SectionType.SymTab);
    if (!symtab) return this.#symbols = [];
    const at = symtab.offset;
    if (symtab.entsize !== SYM_SIZE || symtab.size % SYM_SIZE !== 0) {
      throw new FormatError(`ELF: symbol table entry size ${symtab.entsize} is invalid`, at);
    }
    const strtab = this.sections[symtab.link];
    if (!strtab || strtab.type !== SectionType.StrTab) {
      throw new FormatError(`ELF: symbol string table index ${symtab.link} is invalid`, at);
    }
    const names = this.#stringTable(strtab.offset, strtab.size);
    const count = symtab.size / SYM_SIZE;
    // Sized first: an array pushed to grows (and copies) several times on the way to 100.
    const symbols: ElfSymbol[] = new Array(count);
    const w = this.#words(at, symtab.size);
    const little = this.#little;
    const bytes = this.bytes;
    const hi = little ? 1 : 0;
    for (let i = 0, k = 0; i < count; i++, k += SYM_SIZE / 4) {
      const o = at + i * SYM_SIZE;
      const info = bytes[o + 4];
      names.check(w[k], o);
      // One test of both high words; the checks with their messages only when it fails.
      if ((w[k + 2 + hi] | w[k + 4 + hi]) >>> 0 > 0x1fffff) {
        u64(w, k + 2, little, o + 8, "symbol value");
        u64(w, k + 4, little, o + 16, "symbol size");
      }
      symbols[i] = new SymbolEntry(
        i,
        names,
        w[k],
        info & 0xf,
        info >> 4,
        bytes[o + 5] & 3,
        little ? bytes[o + 6] | (bytes[o + 7] << 8) : (bytes[o + 6] << 8) | bytes[o + 7],
        num(w, k + 2, little),
        num(w, k + 4, little),
      );
    }
    return this.#symbols = symbols;
  }

  /**
   * The relocation entries of a `SHT_REL` or `SHT_RELA` section. The section they apply to is
   * `sections[rel.info]`; symbol indices are checked against `.symtab`.
   */
  relocations(rel: Section): Relocation[] {
    const isRela = rel.type === SectionType.Rela;
    if (!isRela && rel.type !== SectionType.Rel) {
      throw new TypeError(`Section "${rel.name}" is not a relocation section`);
    }
    const size = isRela ? RELA_SIZE : REL_SIZE;
    if (rel.size % size !== 0) {
      throw new FormatError(
        `ELF: relocation section "${rel.name}" has a partial entry`,
        rel.offset,
      );
    }
    const symbolCount = this.symbols().length;
    const out: Relocation[] = [];
    const little = this.#little;
    if (rel.size <= 4 * RELA_SIZE) return this.#fewRelocations(rel, isRela, symbolCount);
    const w = this.#words(rel.offset, rel.size);
    for (let k = 0, o = rel.offset; k < rel.size / 4; k += size / 4, o += size) {
      // r_info: the symbol index in the high 32 bits, the type in the low 32.
      const symbol = little ? w[k + 3] : w[k + 2];
      const type = little ? w[k + 2] : w[k + 3];
      if (symbol >= symbolCount) {
        throw new FormatError(`ELF: relocation names symbol ${symbol} of ${symbolCount}`, o + 8);
      }
      out.push({
        offset: (little ? w[k + 1] : w[k]) > 0x1fffff
          ? u64(w, k, little, o, "relocation offset")
          : num(w, k, little),
        symbol,
        type,
        addend: isRela ? this.#view.getBigInt64(o + 16, little) : 0n,
      });
    }
    return out;
  }

  /**
   * {@linkcode relocations} of a section of a few entries (most code sections have one or
   * two), read in place: copying them into aligned words costs more than the reads.
   */
  #fewRelocations(rel: Section, isRela: boolean, symbolCount: number): Relocation[] {
    const little = this.#little;
    const view = this.#view;
    const size = isRela ? RELA_SIZE : REL_SIZE;
    // Sized first: a pushed-to array reserves room for 17.
    const out: Relocation[] = new Array(rel.size / size);
    for (let i = 0, o = rel.offset; o < rel.offset + rel.size; i++, o += size) {
      const symbol = view.getUint32(little ? o + 12 : o + 8, little);
      const type = view.getUint32(little ? o + 8 : o + 12, little);
      if (symbol >= symbolCount) {
        throw new FormatError(`ELF: relocation names symbol ${symbol} of ${symbolCount}`, o + 8);
      }
      out[i] = {
        offset: this.#u64(o, "relocation offset"),
        symbol,
        type,
        addend: isRela ? view.getBigInt64(o + 16, little) : 0n,
      };
    }
    return out;
  }

  /** Whether a symbol's section index names a real section rather than `SHN_*`. */
  static isRegularSection(index: number): boolean {
    return index !== SHN_UNDEF && index < SHN_LORESERVE;
  }
}

const decoder = new TextDecoder("utf-8", { fatal: false });
let scratch = new Uint32Array(1024);
let scratchBytes = new Uint8Array(scratch.buffer);
const HOST_LITTLE = HOST_BYTE_ORDER === "little";

/**
 * The 64-bit field at word `k` of `w` that must fit in a JS number; `little` says whether
 * its low word comes first.
 */
function u64(w: Uint32Array, k: number, little: boolean, at: number, what: string): number {
  const lo = little ? w[k] : w[k + 1];
  const hi = little ? w[k + 1] : w[k];
  // Kept small so that it inlines: the error is built elsewhere.
  if (hi > 0x1fffff) outOfRange(lo, hi, at, what);
  // Small values as small integers: a product is a double, and a double index makes every
  // typed array access and field holding it slow.
  return hi === 0 ? lo : hi * 0x100000000 + lo;
}

/** The 64-bit field at word `k` of `w`, already checked by {@linkcode u64}. */
function num(w: Uint32Array, k: number, little: boolean): number {
  const lo = little ? w[k] : w[k + 1];
  const hi = little ? w[k + 1] : w[k];
  return hi === 0 ? lo : hi * 0x100000000 + lo;
}

function outOfRange(lo: number, hi: number, at: number, what: string): never {
  const v = (BigInt(hi) << 32n) | BigInt(lo);
  throw new FormatError(`ELF: ${what} ${v} is out of range`, at);
}

/**
 * A string table as one string when every byte is ASCII, so that byte offsets are string
 * offsets; null otherwise. The lenient decoder is several times faster than the fatal one;
 * it gives as many code units as bytes with no U+FFFD only if every byte is ASCII (a valid
 * multi-byte sequence gives fewer units, an invalid byte a U+FFFD).
 */
function decodeAsciiTable(bytes: Uint8Array): string | null {
  const s = decoder.decode(bytes);
  return s.length === bytes.length && s.indexOf("\uFFFD") < 0 ? s : null;
}
