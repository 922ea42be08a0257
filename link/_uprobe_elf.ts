/**
 * Just enough of an ELF64 reader for uprobes: the symbols of an executable or shared
 * library (`.symtab` and `.dynsym`), its loadable segments (to turn an address into a file
 * offset, which is what the uprobe PMU takes), and the `.note.stapsdt` notes of USDT probes.
 * Every offset and size is checked: a corrupt file gives a FormatError, never a crash.
 *
 * @module
 */

import { FormatError } from "../errors.ts";

const SHT_SYMTAB = 2;
const SHT_NOTE = 7;
const SHT_DYNSYM = 11;
const PT_LOAD = 1;
const PF_X = 1;
const STT_FUNC = 2;
const STT_GNU_IFUNC = 10;

/** A loadable segment (`PT_LOAD`). */
export interface Segment {
  vaddr: bigint;
  memsz: bigint;
  offset: bigint;
  filesz: bigint;
  executable: boolean;
}

/** A section header, as much as uprobes need. */
export interface ElfSection {
  name: string;
  type: number;
  addr: bigint;
  offset: number;
  size: number;
  link: number;
  entsize: number;
}

/** A symbol of `.symtab` or `.dynsym`. */
export interface ElfSym {
  name: string;
  type: number;
  value: bigint;
  size: bigint;
  section: number;
}

/** A USDT probe note from `.note.stapsdt`, with addresses as written by the compiler. */
export interface StapsdtNote {
  provider: string;
  name: string;
  /** The probe's address (the `nop`). */
  pc: bigint;
  /** The link-time address of `.stapsdt.base`, for prelink adjustment. */
  base: bigint;
  /** The semaphore's address, or 0. */
  semaphore: bigint;
  /** The argument string, such as `"-4@%edi 8@%rax"`. */
  args: string;
}

const decoder = new TextDecoder();

/** An executable or shared object, parsed for its symbols, segments and notes. */
export class TargetElf {
  readonly bytes: Uint8Array;
  readonly #v: DataView;
  readonly #le: boolean;
  /** ET_EXEC (2) or ET_DYN (3). */
  readonly type: number;
  readonly sections: ElfSection[];
  readonly segments: Segment[];

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.#v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (bytes.length < 64) throw new FormatError("ELF: file shorter than its header", 0);
    if (bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) {
      throw new FormatError("ELF: bad magic", 0);
    }
    if (bytes[4] !== 2) throw new FormatError(`ELF: class ${bytes[4]} is not ELF64`, 4);
    if (bytes[5] !== 1 && bytes[5] !== 2) {
      throw new FormatError(`ELF: unknown data encoding ${bytes[5]}`, 5);
    }
    this.#le = bytes[5] === 1;
    this.type = this.#u16(16);
    if (this.type !== 2 && this.type !== 3) {
      throw new FormatError(
        `ELF: type ${this.type} is neither an executable nor a shared object`,
        16,
      );
    }
    this.segments = this.#readSegments();
    this.sections = this.#readSections();
  }

  #u16(o: number): number {
    return this.#v.getUint16(o, this.#le);
  }
  #u32(o: number): number {
    return this.#v.getUint32(o, this.#le);
  }
  #u64(o: number): bigint {
    return this.#v.getBigUint64(o, this.#le);
  }
  #num(o: number, what: string): number {
    const v = this.#u64(o);
    if (v > BigInt(this.bytes.length)) {
      throw new FormatError(`ELF: ${what} ${v} is out of range`, o);
    }
    return Number(v);
  }
  #check(offset: number, size: number, what: string, at: number): void {
    if (offset > this.bytes.length || size > this.bytes.length - offset) {
      throw new FormatError(`ELF: ${what} (${size} bytes at ${offset}) extends past the end`, at);
    }
  }

  #readSegments(): Segment[] {
    const phoff = this.#num(0x20, "program header offset");
    const phentsize = this.#u16(0x36);
    const phnum = this.#u16(0x38);
    if (phnum === 0) return [];
    if (phentsize !== 56) throw new FormatError(`ELF: program header size ${phentsize}`, 0x36);
    this.#check(phoff, phnum * 56, "program headers", 0x20);
    const out: Segment[] = [];
    for (let i = 0; i < phnum; i++) {
      const at = phoff + i * 56;
      if (this.#u32(at) !== PT_LOAD) continue;
      out.push({
        executable: (this.#u32(at + 4) & PF_X) !== 0,
        offset: this.#u64(at + 8),
        vaddr: this.#u64(at + 16),
        filesz: this.#u64(at + 32),
        memsz: this.#u64(at + 40),
      });
    }
    return out;
  }

  #readSections(): ElfSection[] {
    const shoff = this.#num(0x28, "section header offset");
    const shentsize = this.#u16(0x3a);
    const shnum = this.#u16(0x3c);
    const shstrndx = this.#u16(0x3e);
    if (shoff === 0 || shnum === 0) return [];
    if (shentsize !== 64) throw new FormatError(`ELF: section header size ${shentsize}`, 0x3a);
    this.#check(shoff, shnum * 64, "section headers", 0x28);
    const raw = [];
    for (let i = 0; i < shnum; i++) {
      const at = shoff + i * 64;
      const type = this.#u32(at + 4);
      const offset = this.#num(at + 0x18, "section offset");
      const size = this.#num(at + 0x20, "section size");
      // SHT_NOBITS (8) and SHT_NULL occupy no bytes of the file.
      if (type !== 8 && type !== 0) this.#check(offset, size, `section ${i}`, at + 0x18);
      raw.push({
        nameOff: this.#u32(at),
        type,
        addr: this.#u64(at + 0x10),
        offset,
        size,
        link: this.#u32(at + 0x28),
        entsize: this.#num(at + 0x38, "section entry size"),
      });
    }
    const names = raw[shstrndx];
    return raw.map((s) => ({
      name: names && names.type === 3 ? this.#str(names.offset, names.size, s.nameOff) : "",
      type: s.type,
      addr: s.addr,
      offset: s.offset,
      size: s.size,
      link: s.link,
      entsize: s.entsize,
    }));
  }

  #str(tableOff: number, tableSize: number, index: number): string {
    if (index >= tableSize) {
      if (index === 0) return "";
      throw new FormatError(`ELF: string offset ${index} is outside its table`, tableOff);
    }
    const start = tableOff + index;
    const end = this.bytes.indexOf(0, start);
    if (end < 0 || end >= tableOff + tableSize) {
      throw new FormatError("ELF: string is not NUL-terminated within its table", start);
    }
    return decoder.decode(this.bytes.subarray(start, end));
  }

  /** The section named `name`, if any. */
  section(name: string): ElfSection | undefined {
    return this.sections.find((s) => s.name === name);
  }

  /** The symbols of `.symtab` and then `.dynsym`. */
  *symbols(): Generator<ElfSym> {
    for (const tableType of [SHT_SYMTAB, SHT_DYNSYM]) {
      for (const tab of this.sections.filter((s) => s.type === tableType)) {
        if (tab.entsize !== 24) {
          throw new FormatError(`ELF: symbol entry size ${tab.entsize}`, tab.offset);
        }
        const strtab = this.sections[tab.link];
        if (!strtab) throw new FormatError(`ELF: string table ${tab.link} is missing`, tab.offset);
        for (let o = tab.offset + 24; o + 24 <= tab.offset + tab.size; o += 24) {
          yield {
            name: this.#str(strtab.offset, strtab.size, this.#u32(o)),
            type: this.bytes[o + 4] & 0xf,
            section: this.#u16(o + 6),
            value: this.#u64(o + 8),
            size: this.#u64(o + 16),
          };
        }
      }
    }
  }

  /**
   * The address of function `name` (a defined `STT_FUNC` or IFUNC symbol). Versioned
   * names such as `malloc@@GLIBC_2.2.5` match by their part before `@`.
   */
  functionAddress(name: string): bigint | undefined {
    for (const s of this.symbols()) {
      if (s.section === 0 || s.value === 0n) continue;
      if (s.type !== STT_FUNC && s.type !== STT_GNU_IFUNC) continue;
      const at = s.name.indexOf("@");
      if (s.name === name || (at > 0 && s.name.slice(0, at) === name)) return s.value;
    }
    return undefined;
  }

  /** The file offset of virtual address `addr`, from the segment that maps it. */
  fileOffset(addr: bigint): bigint | undefined {
    for (const s of this.segments) {
      if (addr >= s.vaddr && addr < s.vaddr + s.memsz) return addr - s.vaddr + s.offset;
    }
    return undefined;
  }

  /** The notes of `.note.stapsdt` (name "stapsdt", type 3). */
  stapsdtNotes(): StapsdtNote[] {
    const out: StapsdtNote[] = [];
    for (const sec of this.sections) {
      if (sec.type !== SHT_NOTE || sec.name !== ".note.stapsdt") continue;
      let o = sec.offset;
      const end = sec.offset + sec.size;
      while (o + 12 <= end) {
        const namesz = this.#u32(o);
        const descsz = this.#u32(o + 4);
        const type = this.#u32(o + 8);
        const nameAt = o + 12;
        const descAt = nameAt + align4(namesz);
        const next = descAt + align4(descsz);
        if (namesz > sec.size || descsz > sec.size || next > end) {
          throw new FormatError("ELF: note extends past its section", o);
        }
        const noteName = decoder.decode(this.bytes.subarray(nameAt, nameAt + namesz)).replace(
          /\0+$/,
          "",
        );
        if (noteName === "stapsdt" && type === 3) {
          if (descsz < 24 + 3) throw new FormatError("ELF: stapsdt note too short", descAt);
          const strings = decoder.decode(this.bytes.subarray(descAt + 24, descAt + descsz)).split(
            "\0",
          );
          if (strings.length < 3) {
            throw new FormatError("ELF: stapsdt note lacks its strings", descAt + 24);
          }
          out.push({
            pc: this.#u64(descAt),
            base: this.#u64(descAt + 8),
            semaphore: this.#u64(descAt + 16),
            provider: strings[0],
            name: strings[1],
            args: strings[2],
          });
        }
        o = next;
      }
    }
    return out;
  }
}

function align4(n: number): number {
  return (n + 3) & ~3;
}

const LIBRARY_DIRS = [
  "/lib/x86_64-linux-gnu",
  "/usr/lib/x86_64-linux-gnu",
  "/lib/aarch64-linux-gnu",
  "/usr/lib/aarch64-linux-gnu",
  "/lib64",
  "/usr/lib64",
  "/lib",
  "/usr/lib",
];

/**
 * The path of a uprobe target: as given when it contains a `/`, else a shared library
 * found in `LD_LIBRARY_PATH` or the usual library directories (as libbpf does).
 */
export function resolveTargetPath(path: string): string {
  if (path.includes("/")) return path;
  const dirs = [...(Deno.env.get("LD_LIBRARY_PATH")?.split(":") ?? []), ...LIBRARY_DIRS];
  for (const dir of dirs.filter((d) => d !== "")) {
    try {
      const candidate = `${dir}/${path}`;
      if (Deno.statSync(candidate).isFile) return candidate;
    } catch {
      // not there; try the next directory
    }
  }
  throw new Deno.errors.NotFound(`Cannot find "${path}" in the library directories`);
}

/** Reads and parses `path` (after {@linkcode resolveTargetPath}). */
export function openTarget(path: string): { path: string; elf: TargetElf } {
  const resolved = resolveTargetPath(path);
  return { path: resolved, elf: new TargetElf(Deno.readFileSync(resolved)) };
}
