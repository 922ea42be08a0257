/**
 * `parseCollectionSpec` and `loadCollectionSpec`: a clang-compiled BPF object to a
 * {@linkcode CollectionSpec}, following libbpf's conventions for sections, maps, global
 * data, externs and subprograms. Pure: no syscalls, and no permissions when given bytes.
 *
 * @module
 */

import { HOST_BYTE_ORDER, Instructions } from "../asm/mod.ts";
import { BTF_HEADER_SIZE, indexExtInfos, parseSpec } from "../btf/mod.ts";
import { magicIsLittleEndian, readBeforeValidation } from "../btf/spec.ts";
import { FormatError } from "../errors.ts";
import type { MapSpec } from "../map/map_spec.ts";
import { CollectionSpec } from "../prog/collection_spec.ts";
import { ProgramSpec } from "../prog/program_spec.ts";
import { ElfFile, MAX_NOBITS, type Relocation, type Section, SectionType } from "./elf_file.ts";
import { BTF_MAPS_SECTION, readBtfMaps } from "./btf_maps.ts";
import { dataSectionKind, readGlobalData } from "./data_sections.ts";
import { readExterns } from "./externs.ts";
import { LEGACY_MAPS_SECTION, readLegacyMaps } from "./legacy_maps.ts";
import { linkProgram } from "./linker.ts";
import {
  bindStructOpsPrograms,
  isStructOpsSection,
  readStructOps,
  type StructOpsBinding,
} from "./struct_ops.ts";
import {
  checkExtRecords,
  decodeProgramSection,
  type ElfFunction,
  functionOffsets,
  isEntryFunction,
  isProgramSection,
  materializeSections,
  type ProgramSection,
  relocateProgramSection,
  splitFunctions,
} from "./program_sections.ts";
import { type SectionConvention, sectionConvention } from "./section_conventions.ts";
import { align8, newArena, type ObjectContext, take } from "./_object.ts";

/**
 * Parses a BPF ELF object (either byte order) into a {@linkcode CollectionSpec}: one
 * program per global function of each code section, typed by its SEC() name, with the
 * subprograms it calls appended; maps from `.maps` and the legacy `maps` section; a map and
 * variables per global data section; externs recorded for the loader. The result does not
 * share memory with `bytes`; its byte arrays (BTF, global data) may be views into a buffer
 * other parsed specs have views into too, never of the same bytes. Malformed input throws
 * a `FormatError` with the byte offset.
 *
 * @example
 * ```ts ignore
 * import { parseCollectionSpec } from "@ebpf/ebpf/elf";
 * const spec = parseCollectionSpec(await Deno.readFile("prog.o"));
 * console.log(Object.keys(spec.programs), Object.keys(spec.maps));
 * ```
 */
export function parseCollectionSpec(bytes: Uint8Array): CollectionSpec {
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError("Cannot parse a collection: expected a Uint8Array");
  }
  const elf = new ElfFile(bytes);
  const ctx = readObject(elf);
  // The spec is validated by its first read after parsing, when something walks its types
  // (a load, an inspection): parsing reads a few of them, each checked on its own.
  const btf = ctx.btf;
  return btf === undefined
    ? readCollection(ctx)
    : readBeforeValidation(btf, () => readCollection(ctx));
}

function readCollection(ctx: ObjectContext): CollectionSpec {
  const elf = ctx.elf;
  readExtInfos(ctx, ctx.named.ext);
  // By target section index: a plain array costs less than a Map keyed by small integers.
  const relocations: (Relocation[] | undefined)[] = [];
  for (const s of elf.sections) {
    if (s.type !== SectionType.Rel && s.type !== SectionType.Rela) continue;
    if (s.info === 0 || s.info >= elf.sections.length) continue;
    // Only code, `.maps` and struct_ops variables have relocations anything reads; like
    // libbpf, skip the rest (debug info has most of an object's relocations).
    const target = elf.sections[s.info];
    if (
      !isProgramSection(target) && !elf.nameIs(target, BTF_MAPS_SECTION) &&
      !isStructOpsSection(elf, target)
    ) continue;
    const list = relocations[s.info];
    const entries = elf.relocations(s);
    if (list) list.push(...entries);
    else relocations[s.info] = entries;
  }

  const maps: Record<string, MapSpec> = {};
  const addMap = (map: MapSpec) => {
    if (Object.hasOwn(maps, map.name)) {
      throw new FormatError(`ELF: two maps named "${map.name}"`, 0);
    }
    maps[map.name] = map;
  };
  const mapSections = new Set<number>();
  // The maps of map sections, which relocations of code may load.
  const mapNames = new Set<string>();
  const addSectionMap = (map: MapSpec) => {
    addMap(map);
    mapNames.add(map.name);
  };
  const structOps: StructOpsBinding[] = [];
  for (const s of elf.sections) {
    // Names compared on their bytes: most sections' names are never decoded.
    if (s.type !== SectionType.Rel && elf.nameIs(s, BTF_MAPS_SECTION)) {
      mapSections.add(s.index);
      for (const m of readBtfMaps(ctx, s, relocations[s.index] ?? NO_RELOCATIONS)) {
        addSectionMap(m);
      }
    } else if (s.type === SectionType.ProgBits && elf.nameIs(s, LEGACY_MAPS_SECTION)) {
      mapSections.add(s.index);
      for (const m of readLegacyMaps(ctx, s)) addSectionMap(m);
    } else if (isStructOpsSection(elf, s)) {
      mapSections.add(s.index);
      const found = readStructOps(ctx, s, relocations[s.index] ?? NO_RELOCATIONS);
      for (const m of found.maps) addSectionMap(m);
      structOps.push(...found.bindings);
    }
  }
  const data = readGlobalData(ctx);
  for (const m of data.maps.values()) addMap(m);
  const externs = readExterns(ctx);
  if (externs.kconfig) addMap(externs.kconfig);

  const sections: ProgramSection[] = [];
  for (const s of elf.sections) {
    if (isProgramSection(s)) sections.push(decodeProgramSection(ctx, s));
  }
  const targets = {
    mapSections,
    mapNames,
    dataMaps: data.maps,
    functions: functionOffsets(sections),
    externs: externs.byName,
  };
  // Entry programs go straight into `programs`; every function, for linking, waits in
  // `all`, whose Map by name is made when the first program is built.
  const license = readLicense(elf, ctx.named.license);
  const kernelVersion = readVersion(elf, ctx.named.version);
  const programs: Record<string, ProgramSpec> = {};
  // Two functions may not share a name. Entry programs are checked against `programs`,
  // whose store needs the name's hash anyway; the few subprograms, in a record of their own.
  // (A Set of every name hashes each a second time: ≈2% of corpus_probes' parse.)
  const subprograms: Record<string, true> = {};
  let anySubprogram = false;
  const all: ElfFunction[] = [];
  let functions: Map<string, ElfFunction> | undefined;
  const ext = ctx.ext;
  // Instruction objects are made when a program's instructions are first read: each
  // program gets its own copy of its code and subprograms, annotated from `.BTF.ext` once.
  // The builders hold the decoded code and copies of BTF, never the ELF file or its input.
  const btf = ctx.btf;
  const materialize = () => materializeSections(all, ext);
  const build = (entry: ElfFunction) => () => {
    if (functions === undefined) {
      functions = new Map(all.map((f) => [f.name, f]));
      // Reads only what the parse checked (.BTF.ext's types and strings), so it cannot
      // fail on a spec whose validation is still to come.
      if (btf === undefined) materialize();
      else readBeforeValidation(btf, materialize);
    }
    return linkProgram(entry, functions);
  };
  for (const p of sections) {
    relocateProgramSection(ctx, p, relocations[p.section.index] ?? NO_RELOCATIONS, targets);
    // Annotating waits for the first program built; a record that misses an instruction
    // is reported now.
    if (ctx.ext !== undefined) checkExtRecords(ctx, ctx.ext, p);
    const first = all.length;
    splitFunctions(p, all);
    for (let k = first; k < all.length; k++) {
      const f = all[k];
      const { name } = f;
      if (
        Object.hasOwn(programs, name) || (anySubprogram && Object.hasOwn(subprograms, name))
      ) throw new FormatError(`ELF: two functions "${name}"`, 0);
      if (!isEntryFunction(f)) {
        subprograms[name] = true;
        anySubprogram = true;
        continue;
      }
      const c = convention(f.section.name);
      programs[name] = new ProgramSpec({
        name,
        type: c.programType,
        attachType: c.attachType,
        attachTo: c.attachTo,
        sectionName: f.section.name,
        license,
        kernelVersion,
        flags: c.programFlags,
        byteOrder: elf.byteOrder,
        btf: ctx.btf,
        instructions: Instructions.lazy(build(f)),
        autoload: c.autoload,
      });
    }
  }
  bindStructOpsPrograms(structOps, programs);
  return new CollectionSpec({
    programs,
    maps,
    variables: data.variables,
    types: ctx.btf,
    byteOrder: elf.byteOrder,
  });
}

/**
 * Reads a BPF ELF object file and parses it with {@linkcode parseCollectionSpec}. Needs
 * `--allow-read` for the file.
 */
export async function loadCollectionSpec(path: string | URL): Promise<CollectionSpec> {
  return parseCollectionSpec(await Deno.readFile(path));
}

const NO_RELOCATIONS: readonly Relocation[] = [];

/**
 * Conventions by section name, remembered across parses: matching a name against the
 * table costs more than the rest of a small program. Bounded so hostile names cannot grow it.
 */
const conventions = new Map<string, SectionConvention>();

function convention(name: string): SectionConvention {
  let c = conventions.get(name);
  if (c === undefined) {
    c = sectionConvention(name);
    if (conventions.size >= 4096) conventions.clear();
    conventions.set(name, c);
  }
  return c;
}

function readObject(elf: ElfFile): ObjectContext {
  const symbols = elf.symbols();
  const [btfSection, extNamed, license, version] = sectionsNamed(elf, NAMED_SECTIONS);
  if (btfSection?.type === SectionType.NoBits) {
    // Zeros are no BTF; better said now than after making a copy of its size.
    throw new FormatError('ELF: section ".BTF" has no bytes in the file', 0);
  }
  const extSection = btfSection ? extNamed : undefined;
  // (A `.BTF.ext` of SHT_NOBITS, in no sane object, gets fresh zeros from `data` below.)
  const extInFile = extSection !== undefined && extSection.type !== SectionType.NoBits;
  // Sized for every copy the spec keeps: BTF and its index of types (a word per four words
  // of types: types are seven to ten words in most objects, and an object of smaller ones
  // takes fresh memory for what does not fit; and a byte-swapped copy of the types for a
  // foreign byte order), `.BTF.ext`, code, global data and map keys. The types are measured
  // by the BTF header, not the section: strings are near half of an object's BTF, and in a
  // loop of parses every fresh byte of the arena costs time (tests/bench/elf_bench.ts,
  // corpus_probes).
  const btfData = btfSection ? elf.data(btfSection) : undefined;
  const typeBytes = btfData ? btfTypeLength(btfData) : 0;
  const foreign = elf.byteOrder !== HOST_BYTE_ORDER;
  const indexEstimate = btfData ? align8(Math.floor(typeBytes / 16) * 4) : 0;
  let arenaSize = btfData && foreign ? align8(typeBytes) : 0;
  if (extInFile) arenaSize += align8(extSection.size);
  for (const s of elf.sections) {
    if (isProgramSection(s)) arenaSize += align8(s.size);
    if (s.size === 0 || dataSectionKind(s) === undefined) continue;
    if (s.type === SectionType.NoBits && s.size > MAX_NOBITS) continue;
    arenaSize += align8(s.size) + 8;
  }
  // The BTF copy goes in the arena too, unless that makes it large enough for malloc to map
  // fresh pages for it at each parse (glibc: from 128 KiB): then each gets its own buffer.
  const btfInArena = btfData !== undefined &&
    arenaSize + indexEstimate + btfData.length <= MAX_ARENA;
  if (btfInArena) arenaSize += align8(btfData.length);
  // When the BTF has a buffer of its own and its types need no swapping, the spec's first
  // request is its index, of the exact size: the arena waits for it rather than reserving
  // the estimate (three times what most objects' index takes, all of it zeroed).
  const indexSized = btfData !== undefined && !btfInArena && !foreign;
  if (!indexSized) arenaSize += indexEstimate;
  const ctx: ObjectContext = {
    elf,
    byteOrder: elf.byteOrder,
    symbols,
    btf: undefined,
    ext: undefined,
    arena: indexSized ? NO_ARENA : newArena(arenaSize),
    arenaUsed: 0,
    named: { ext: extSection, license, version },
  };
  const allocate = (n: number) => {
    if (ctx.arena === NO_ARENA) ctx.arena = newArena(arenaSize + align8(n));
    return take(ctx, n);
  };
  if (btfData) {
    // Copied: the type section must be word-aligned, and specs must not alias the input.
    let copy: Uint8Array;
    if (btfInArena) {
      copy = take(ctx, btfData.length);
      copy.set(btfData);
    } else {
      // The copying constructor does not zero the bytes it copies over.
      copy = new Uint8Array(btfData);
    }
    ctx.btf = parseSpec(copy, { allocate });
  }
  if (ctx.arena === NO_ARENA) ctx.arena = newArena(arenaSize);
  return ctx;
}

/** The arena of an object whose arena is made on its first use. */
const NO_ARENA = new Uint8Array(0);

/**
 * The largest arena that holds the BTF copy as well: below glibc's threshold for serving an
 * allocation with a fresh mapping (128 KiB), whose page faults cost more than the parse.
 */
const MAX_ARENA = 120 * 1024;

/** The sections {@linkcode readObject} looks up by name, found in one pass. */
const NAMED_SECTIONS = [".BTF", ".BTF.ext", "license", "version"] as const;

/**
 * The first section of each of `names` (as `elf.section` finds it), in one pass over the
 * sections rather than one per name: a name's first byte is compared before the rest.
 */
function sectionsNamed(elf: ElfFile, names: readonly string[]): (Section | undefined)[] {
  const out: (Section | undefined)[] = names.map(() => undefined);
  const bytes = elf.bytes;
  for (const s of elf.sections) {
    const c = bytes[s.nameAt];
    for (let i = 0; i < names.length; i++) {
      if (out[i] !== undefined) continue;
      const first = names[i].charCodeAt(0);
      if (first < 0x80 && c !== first) continue;
      if (elf.nameIs(s, names[i])) out[i] = s;
    }
  }
  return out;
}

/** Checks and indexes `.BTF.ext`, when the object has it and BTF. */
function readExtInfos(ctx: ObjectContext, extSection: Section | undefined): void {
  const { elf, btf } = ctx;
  if (btf === undefined || extSection === undefined) return;
  const extData = elf.data(extSection);
  const extInFile = extSection.type !== SectionType.NoBits;
  const extBytes = extInFile ? take(ctx, extData.length) : extData;
  if (extInFile) extBytes.set(extData);
  ctx.ext = indexExtInfos(extBytes, btf);
}

/**
 * The length of the type section a `.BTF` header declares, for sizing only: the whole
 * section when the header cannot say (parseSpec then says what is wrong with it).
 */
function btfTypeLength(btf: Uint8Array): number {
  const little = magicIsLittleEndian(btf);
  if (btf.length < BTF_HEADER_SIZE || little === undefined) return btf.length;
  const length = new DataView(btf.buffer, btf.byteOffset, BTF_HEADER_SIZE).getUint32(12, little);
  return length <= btf.length ? length : btf.length;
}

/** The `license` section's string, up to its first NUL (libbpf's reading). */
function readLicense(elf: ElfFile, s: Section | undefined): string {
  if (!s) return "";
  const bytes = elf.data(s);
  const end = bytes.indexOf(0);
  const text = end < 0 ? bytes : bytes.subarray(0, end);
  // Licenses are short ASCII ("GPL", "Dual BSD/GPL"): no decoder call for them.
  if (text.length <= 64 && text.every((c) => c < 0x80)) {
    return String.fromCharCode.apply(null, text as unknown as number[]);
  }
  return utf8.decode(text);
}

const utf8 = new TextDecoder();

/** The `version` section's u32: the `kern_version` old kprobe programs need. */
function readVersion(elf: ElfFile, s: Section | undefined): number {
  if (!s) return 0;
  if (s.size !== 4) throw new FormatError(`ELF: "version" section of ${s.size} bytes`, s.offset);
  const b = elf.data(s);
  return new DataView(b.buffer, b.byteOffset, 4).getUint32(0, elf.byteOrder === "little");
}
