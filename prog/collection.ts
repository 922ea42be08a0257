/**
 * Collection: the maps and programs of a {@linkcode CollectionSpec}, created and loaded the
 * way libbpf loads an object, and `newCollection`, which makes one.
 *
 * @module
 */

import { type Instruction, Instructions, LoadImm64Op, type MapLike, Pseudo } from "../asm/mod.ts";
import { CoreCandidateCache, Datasec, type Func, sizeof, type Spec, Var } from "../btf/mod.ts";
import { BpfMap, createFieldsOf } from "../map/bpf_map.ts";
import { MapSpec, PinType } from "../map/map_spec.ts";
import { enumOption } from "../_internal/enum_option.ts";
import { MapType } from "../map/map_type.ts";
import { Errno, SyscallError } from "../errors.ts";
import { unpinPath } from "../_internal/pin.ts";
import type { CollectionSpec } from "./collection_spec.ts";
import { Program, type ProgramLoadOptions } from "./program.ts";
import { EXTERN, type ExternRef, ProgramSpec, requireProgramType } from "./program_spec.ts";
import { hiddenFuncs, ObjectBtf, type SectionLayout } from "./_object_btf.ts";
import { writeKconfig } from "./_kconfig.ts";
import {
  closeVariables,
  collectionVariables,
  mmapableDataSection,
  type Variable,
} from "./variable.ts";
import { fillStructOps } from "./_struct_ops.ts";
import { bindReadOnlyData, isReadOnlyDataMap } from "./_rodata_binding.ts";
import { namedRecord } from "./_named_record.ts";
import { prefetchCandidates } from "./_core.ts";

/** Options of {@linkcode newCollection}. */
export interface CollectionOptions {
  /** Options for every program load (log level and size). */
  programs?: Omit<ProgramLoadOptions, "kernelTypes" | "targetProgram">;
  /** Target BTF for CO-RE relocations, kfuncs, ksyms and attach targets (default: the running kernel's). */
  kernelTypes?: Spec | Spec[];
  /** A bpffs directory: maps pinned by name are reused from there when compatible, else pinned there. */
  pinPath?: string;
  /** Existing maps to use in place of the spec's maps of the same name (the caller keeps ownership). */
  mapReplacements?: Record<string, BpfMap>;
  /**
   * Load only these programs (`SEC("?…")` ones included), and create only the maps they
   * use. Default: every program whose `autoload` is true, and every map.
   */
  only?: string[];
}

const KCONFIG = ".kconfig";
const BPF_F_RDONLY_PROG = 1 << 7;

/**
 * Live maps and programs by name. Closing the collection closes every one of them; take one
 * out with `clone()` to keep it longer.
 *
 * @example
 * ```ts ignore
 * using coll = newCollection(await loadCollectionSpec("prog.o"));
 * coll.programs.count.run({ data: new Uint8Array(64) });
 * ```
 */
export class Collection {
  /**
   * Programs by name. Reading a name the collection lacks throws a `TypeError` that lists
   * the names it has; ask with `name in coll.programs` first when a program is optional.
   */
  readonly programs: Record<string, Program>;
  /** Maps by name; a missing name throws as for {@linkcode Collection.programs}. */
  readonly maps: Record<string, BpfMap>;
  /** Global variables by name, read and written in place in their sections' maps. */
  readonly variables: Record<string, Variable>;
  /** The record `variables` wraps: the mappings to unmap are registered under it. */
  readonly #variables: Record<string, Variable>;

  /** Use {@linkcode newCollection}. */
  constructor(
    programs: Record<string, Program>,
    maps: Record<string, BpfMap>,
    variables: Record<string, Variable> = {},
  ) {
    this.programs = namedRecord(programs, "program");
    this.maps = namedRecord(maps, "map");
    this.#variables = variables;
    this.variables = namedRecord(variables, "variable");
  }

  /** Closes every program and map, and unmaps the variables; safe to call twice. */
  close(): void {
    closeVariables(this.#variables);
    for (const p of Object.values(this.programs)) p.close();
    for (const m of Object.values(this.maps)) m.close();
  }

  /** Same as {@linkcode Collection.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/** A map as instructions see it: the fd is read when the program is marshalled. */
function mapLike(map: BpfMap): MapLike {
  return { fd: () => map.fd, name: map.name };
}

function isMapLoad(ins: Instruction): boolean {
  return ins.opcode === LoadImm64Op && (ins.src === Pseudo.MapFD || ins.src === Pseudo.MapValue);
}

/** The names of the maps a program's instructions use. */
function mapsUsed(prog: ProgramSpec, maps: Record<string, MapSpec>, into: Set<string>): void {
  for (const ins of prog.instructions.list) {
    const ext = ins.meta?.[EXTERN] as ExternRef | undefined;
    if (ext?.kind === "kconfig") into.add(KCONFIG);
    else if (ins.reference !== undefined && isMapLoad(ins) && ins.reference in maps) {
      into.add(ins.reference);
    }
  }
}

/**
 * Creates the maps of `spec` and loads its programs: map references and externs resolved,
 * CO-RE applied, global data written (and `.rodata` frozen) before the programs load, each
 * program bound to the `.rodata*` maps as libbpf binds them, and program arrays filled after. On failure everything created so far is closed (and pins it
 * made are removed) before the error is thrown.
 *
 * @example
 * ```ts ignore
 * const spec = await loadCollectionSpec("prog.o");
 * spec.variables.threshold.set(10);
 * using coll = newCollection(spec);
 * ```
 */
export function newCollection(spec: CollectionSpec, options: CollectionOptions = {}): Collection {
  const allNames = Object.keys(spec.programs);
  // Like libbpf, programs not to be autoloaded (`SEC("?…")`) load only when named.
  const progNames = options.only ?? allNames.filter((n) => spec.programs[n].autoload !== false);
  const partial = options.only !== undefined || progNames.length !== allNames.length;
  for (const name of progNames) {
    if (!(name in spec.programs)) {
      throw new ReferenceError(`Cannot load program '${name}': the collection has no such program`);
    }
    requireProgramType(spec.programs[name]);
  }
  const mapSpecs: Record<string, MapSpec> = { ...spec.maps };
  const kconfigExterns = new Map<string, ExternRef>();
  for (const name of progNames) {
    for (const ins of spec.programs[name].instructions.list) {
      const ext = ins.meta?.[EXTERN] as ExternRef | undefined;
      if (ext?.kind === "kconfig") kconfigExterns.set(ext.name, ext);
    }
  }
  if (kconfigExterns.size > 0) mapSpecs[KCONFIG] = kconfigMapSpec(spec, kconfigExterns);
  for (const [name, ms] of Object.entries(mapSpecs)) {
    enumOption(ms.pinning, `pinning of map "${name}"`, PinType, "PinType");
  }

  let mapNames: string[];
  if (options.only) {
    const used = new Set<string>();
    for (const name of progNames) mapsUsed(spec.programs[name], mapSpecs, used);
    // Maps whose initial contents name other maps need those too.
    for (const m of [...used]) {
      for (const e of mapSpecs[m].contents) {
        if (typeof e.value === "string" && e.value in mapSpecs && isMapInMap(mapSpecs[m])) {
          used.add(e.value);
        }
      }
    }
    mapNames = [...used];
  } else {
    mapNames = Object.keys(mapSpecs);
  }

  const maps: Record<string, BpfMap> = {};
  const programs: Record<string, Program> = {};
  const pinned: string[] = [];
  const reused = new Set<string>();
  let objBtf: ObjectBtf | undefined;
  const coreCache = new CoreCandidateCache();
  try {
    const lines = [];
    for (const name of progNames) {
      for (const ins of spec.programs[name].instructions.list) if (ins.line) lines.push(ins.line);
    }
    const statics = new Set<Func>();
    for (const name of progNames) {
      for (const f of hiddenFuncs(spec.programs[name].instructions.list)) statics.add(f);
    }
    if (spec.types) {
      objBtf = ObjectBtf.load(spec.types, sectionLayouts(spec, mapSpecs), lines, statics);
    }

    // Maps, then the contents that are plain data, then .rodata frozen: all before loading.
    for (const name of mapNames) {
      // Data sections get BPF_F_MMAPABLE here, before a pinned map is checked against them.
      const ms = mmapableDataSection(mapSpecs[name]);
      const replacement = options.mapReplacements?.[name];
      if (replacement) {
        maps[name] = replacement.clone();
        reused.add(name);
        continue;
      }
      if (ms.pinning === PinType.ByName && options.pinPath !== undefined) {
        const path = pinPathOf(options.pinPath, name);
        const existing = openPinned(path);
        if (existing) {
          maps[name] = existing;
          reused.add(name);
          checkCompatible(name, ms, existing);
          continue;
        }
      }
      maps[name] = createMap(ms, spec.types, objBtf);
    }
    for (const name of mapNames) {
      if (reused.has(name)) continue;
      const ms = mapSpecs[name];
      if (!isDeferred(ms)) writeContents(name, ms, maps[name], maps, programs);
      if (ms.freeze) maps[name].freeze();
    }

    const readOnlyData = mapNames.filter((n) => isReadOnlyDataMap(n, mapSpecs[n]));
    prefetchCandidates(
      progNames.map((n) => spec.programs[n].instructions),
      options.kernelTypes,
      coreCache,
    );
    for (const name of progNames) {
      const ps = spec.programs[name];
      const insns = linkMaps(ps, maps, kconfigExterns.size > 0 ? maps[KCONFIG] : undefined);
      programs[name] = Program.load(new ProgramSpec({ ...ps, instructions: insns }), {
        ...options.programs,
        kernelTypes: options.kernelTypes,
        objectBtf: objBtf,
        coreCache,
      });
      bindReadOnlyData(programs[name], readOnlyData.map((n) => maps[n]));
    }

    // Program arrays and maps of maps: their values are fds of what was just made.
    for (const name of mapNames) {
      const ms = mapSpecs[name];
      if (reused.has(name) || !isDeferred(ms)) continue;
      writeContents(name, ms, maps[name], maps, programs, partial);
    }
    for (const name of mapNames) {
      if (reused.has(name) || mapSpecs[name].pinning !== PinType.ByName) continue;
      if (options.pinPath === undefined) continue;
      const path = pinPathOf(options.pinPath, name);
      maps[name].pin(path);
      pinned.push(path);
    }
  } catch (e) {
    for (const p of Object.values(programs)) p.close();
    for (const m of Object.values(maps)) m.close();
    for (const path of pinned) {
      try {
        unpinPath(path, "map");
      } catch { /* already gone, or no longer our pin: left alone */ }
    }
    throw e;
  } finally {
    objBtf?.close();
  }
  return new Collection(programs, maps, collectionVariables(spec.variables, maps));
}

/** bpffs refuses names with dots; libbpf pins `.data` as `_data`, and so do we. */
function pinPathOf(dir: string, name: string): string {
  return `${dir}/${name.replaceAll(".", "_")}`;
}

function isMapInMap(ms: MapSpec): boolean {
  return ms.type === MapType.ArrayOfMaps || ms.type === MapType.HashOfMaps;
}

/** Contents that name programs or maps can only be written once those exist. */
function isDeferred(ms: MapSpec): boolean {
  return ms.type === MapType.ProgramArray || isMapInMap(ms) || ms.type === MapType.StructOpsMap;
}

/** The `.kconfig` map: the spec's, or one sized to hold every extern; values filled in. */
function kconfigMapSpec(spec: CollectionSpec, externs: Map<string, ExternRef>): MapSpec {
  let size = 0;
  for (const ext of externs.values()) {
    const t = ext.type instanceof Var ? ext.type.type : undefined;
    if (t === undefined || ext.offset === undefined) {
      throw new TypeError(`Kconfig extern '${ext.name}' has no BTF type or offset`);
    }
    size = Math.max(size, ext.offset + sizeof(t));
  }
  const given = spec.maps[KCONFIG];
  const ms = given ? given.copy() : new MapSpec({
    name: KCONFIG,
    type: MapType.Array,
    keySize: 4,
    valueSize: Math.max(8, (size + 7) & ~7),
    maxEntries: 1,
    // Read-only to programs and frozen, as libbpf makes it: the verifier then treats the
    // values as constants and prunes the branches they decide.
    flags: BPF_F_RDONLY_PROG,
    freeze: true,
  });
  if (ms.valueSize < size) {
    throw new RangeError(`Map '.kconfig' of ${ms.valueSize} bytes cannot hold ${size} bytes`);
  }
  const value = new Uint8Array(ms.valueSize);
  for (const ext of externs.values()) {
    const v = (ext.type as Var).type;
    if (!writeKconfig(ext.name, v, value, ext.offset!) && !ext.weak) {
      throw new ReferenceError(
        `Cannot resolve kconfig extern '${ext.name}': the kernel has no value`,
      );
    }
  }
  ms.contents = [{ key: new Uint8Array(4), value }];
  ms.freeze = true;
  return ms;
}

/** Where each data section's variables live: from the maps' sizes and the variables. */
function sectionLayouts(
  spec: CollectionSpec,
  maps: Record<string, MapSpec>,
): Map<string, SectionLayout> {
  const layouts = new Map<string, SectionLayout>();
  for (const [name, ms] of Object.entries(maps)) {
    layouts.set(name, { size: ms.valueSize, offsets: new Map() });
  }
  for (const v of Object.values(spec.variables)) {
    layouts.get(v.mapName)?.offsets.set(v.name, v.offset);
  }
  const kconfig = layouts.get(KCONFIG);
  if (kconfig) {
    for (const prog of Object.values(spec.programs)) {
      for (const ins of prog.instructions.list) {
        const ext = ins.meta?.[EXTERN] as ExternRef | undefined;
        if (ext?.kind === "kconfig" && ext.offset !== undefined) {
          kconfig.offsets.set(ext.name, ext.offset);
        }
      }
    }
  }
  return layouts;
}

/**
 * Creates a map with its BTF key and value types when the object has BTF. The inner map
 * template of a map of maps is made here too, with the object's BTF, as libbpf makes it:
 * left to `BpfMap.create`, it would load a BTF object of its own for the template. Contents
 * and freeze are left to the loader, which writes them once what they name exists.
 */
function createMap(ms: MapSpec, types: Spec | undefined, btf: ObjectBtf | undefined): BpfMap {
  const contents = false;
  if (isMapInMap(ms) && ms.innerMap && btf && types) {
    using innerMap = createMap(ms.innerMap, types, btf);
    return BpfMap.create(ms, { innerMap, contents });
  }
  // Which of the ids the map type takes is BpfMap.create's to decide (map/_create_fixups.ts).
  if (!btf || !types) return BpfMap.create(ms, { contents });
  let keyTypeId = btf.typeId(ms.key);
  let valueTypeId = btf.typeId(ms.value);
  if (valueTypeId === 0) {
    // Global data: the value type is the section's DATASEC, and there is no key type.
    const ds = types.typeByName(ms.name, Datasec);
    if (ds) {
      keyTypeId = 0;
      valueTypeId = btf.typeId(ds);
    }
  }
  if (valueTypeId === 0) return BpfMap.create(ms, { contents });
  try {
    return BpfMap.create(ms, { btf: { fd: btf.fd, keyTypeId, valueTypeId }, contents });
  } catch (e) {
    // As libbpf: a kernel that refuses the map's BTF still gets the map, without it.
    if (e instanceof SyscallError && e.errno === Errno.EINVAL) {
      return BpfMap.create(ms, { contents });
    }
    throw e;
  }
}

function openPinned(path: string): BpfMap | undefined {
  try {
    return BpfMap.loadPinned(path);
  } catch (e) {
    if (e instanceof SyscallError && e.errno === Errno.ENOENT) return undefined;
    throw e;
  }
}

/** A pinned map is reused only when it matches the spec (libbpf's `map_is_reuse_compat`). */
function checkCompatible(name: string, ms: MapSpec, map: BpfMap): void {
  // Opening the pin read the kernel's info already: no second BPF_OBJ_GET_INFO_BY_FD.
  const info = map;
  // Compared with what creating the spec would have made (sizes and flags fixed up).
  const want = createFieldsOf(ms);
  const diffs: string[] = [];
  if (info.type !== want.type) diffs.push(`type ${info.type} != ${want.type}`);
  if (info.keySize !== want.keySize) diffs.push(`key size ${info.keySize} != ${want.keySize}`);
  if (info.valueSize !== want.valueSize) {
    diffs.push(`value size ${info.valueSize} != ${want.valueSize}`);
  }
  if (info.maxEntries !== want.maxEntries) {
    diffs.push(`max entries ${info.maxEntries} != ${want.maxEntries}`);
  }
  if (info.flags !== want.flags) diffs.push(`flags ${info.flags} != ${want.flags}`);
  if (diffs.length > 0) {
    throw new TypeError(`Pinned map '${name}' is incompatible with its spec: ${diffs.join(", ")}`);
  }
}

/** Writes a map's initial contents; names of programs or maps become their fds. */
function writeContents(
  name: string,
  ms: MapSpec,
  map: BpfMap,
  maps: Record<string, BpfMap>,
  programs: Record<string, Program>,
  partial = false,
): void {
  if (ms.type === MapType.StructOpsMap) return fillStructOps(map, ms, programs, partial);
  for (const { key, value } of ms.contents) {
    let v: unknown = value;
    if (ms.type === MapType.ProgramArray) {
      const prog = typeof value === "string"
        ? programs[value]
        : value instanceof ProgramSpec
        ? programs[value.name]
        : value instanceof Program
        ? value
        : undefined;
      if (!prog) {
        if (partial) continue;
        throw new ReferenceError(
          `Map '${name}' names program ${String(label(value))}, which is not loaded`,
        );
      }
      v = prog.fd;
    } else if (isMapInMap(ms)) {
      const inner = typeof value === "string"
        ? maps[value]
        : value instanceof MapSpec
        ? maps[value.name]
        : value instanceof BpfMap
        ? value
        : undefined;
      if (!inner) {
        throw new ReferenceError(
          `Map '${name}' names map ${String(label(value))}, which does not exist`,
        );
      }
      v = inner.fd;
    }
    if (!isData(key) || !isData(v)) {
      throw new TypeError(`Map '${name}': initial entries must be bytes or numbers`);
    }
    map.update(key, v);
  }
}

function label(value: unknown): string {
  if (typeof value === "string") return `'${value}'`;
  if (value && typeof value === "object" && "name" in value) return `'${String(value.name)}'`;
  return String(value);
}

function isData(x: unknown): x is Uint8Array | number | bigint {
  return x instanceof Uint8Array || typeof x === "number" || typeof x === "bigint";
}

/**
 * A copy of the program's instructions whose map loads point at the created maps, and whose
 * kconfig loads read the `.kconfig` map (as libbpf rewrites them).
 */
function linkMaps(
  ps: ProgramSpec,
  maps: Record<string, BpfMap>,
  kconfig: BpfMap | undefined,
): Instructions {
  const src = ps.instructions.list;
  const out = new Array<Instruction>(src.length);
  for (let i = 0; i < src.length; i++) {
    const ins = src[i];
    const ext = ins.meta?.[EXTERN] as ExternRef | undefined;
    if (ext?.kind === "kconfig" && ins.opcode === LoadImm64Op) {
      const c = { ...ins };
      c.src = Pseudo.MapValue;
      c.map = mapLike(kconfig!);
      c.imm = 0;
      c.immHi = ext.offset ?? 0;
      c.reference = undefined;
      out[i] = c;
    } else if (ins.reference !== undefined && ins.map === undefined && isMapLoad(ins)) {
      const map = maps[ins.reference];
      if (!map) {
        throw new ReferenceError(
          `Program '${ps.name}' refers to map '${ins.reference}', which the collection lacks`,
        );
      }
      out[i] = { ...ins, map: mapLike(map) };
    } else {
      out[i] = ins;
    }
  }
  return Instructions.of(out);
}
