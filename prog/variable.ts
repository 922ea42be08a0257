/**
 * Variable: a global variable of a loaded collection, read and written in place through
 * the mmap()ed memory of its data section's map, as libbpf skeletons' `skel->bss->x` and
 * cilium/ebpf's `Collection.Variables` give.
 *
 * @module
 */

import { HOST_BYTE_ORDER } from "../asm/mod.ts";
import { type Mapping, mmap, munmap, pageSize } from "../ffi.ts";
import { ClosedError } from "../errors.ts";
import type { BpfMap } from "../map/bpf_map.ts";
import { type Codec, codecFor, hasValueRepresentation, isBtfType } from "../map/codec.ts";
import type { MapSpec } from "../map/map_spec.ts";
import { MapType } from "../map/map_type.ts";
import { haveMmapableArrays } from "../map/map_type_probe.ts";
import { BPF_F_MMAPABLE } from "../map/_create_fixups.ts";
import type { Type } from "../btf/types.ts";
import type { VariableSpec } from "./variable_spec.ts";

/** `BPF_F_RDONLY`: user space may only read the map. */
const BPF_F_RDONLY = 1 << 3;
const PROT_READ = 1;
const PROT_WRITE = 2;
const MAP_SHARED = 1;
const LE = HOST_BYTE_ORDER === "little";

/**
 * Whether a map holds global data: `.data`, `.rodata`, `.bss`, their `.name.*` variants, and
 * the `.kconfig` map the loader makes (libbpf creates all of them mmapable).
 */
function isDataSection(name: string): boolean {
  return /^\.(data|rodata|bss)(\..*)?$/.test(name) || name === ".kconfig";
}

/**
 * The spec a data section's map is created from: `ms` with `BPF_F_MMAPABLE` added when the
 * kernel has mmapable arrays (probed once per process), so that its variables are shared
 * memory; `ms` itself otherwise. The spec stays as the ELF says: what the kernel allows is
 * decided here, at load.
 */
export function mmapableDataSection(ms: MapSpec): MapSpec {
  if (ms.type !== MapType.Array || (ms.flags & BPF_F_MMAPABLE) !== 0) return ms;
  if (!isDataSection(ms.name) || !haveMmapableArrays()) return ms;
  const copy = ms.copy();
  copy.flags |= BPF_F_MMAPABLE;
  return copy;
}

/**
 * The bytes of one data section's map, shared by its variables: mmap()ed on first use when
 * the map was created `BPF_F_MMAPABLE` (read-only when the map is frozen), else reached with
 * lookup and update.
 */
class SectionMemory {
  readonly map: BpfMap;
  readonly readOnly: boolean;
  closed = false;
  /** Views over the mapping, once made; all undefined when the map cannot be mmapped. */
  u8: Uint8Array | undefined;
  u16: Uint16Array | undefined;
  u32: Uint32Array | undefined;
  u64: BigUint64Array | undefined;
  #mapping: Mapping | undefined;
  #tried = false;

  constructor(map: BpfMap, readOnly: boolean) {
    this.map = map;
    this.readOnly = readOnly;
  }

  /** Maps the values once; leaves the views undefined when that is not possible. */
  open(): void {
    if (this.#tried) return;
    this.#tried = true;
    const map = this.map;
    if (map.type !== MapType.Array || (map.flags & BPF_F_MMAPABLE) === 0) return;
    const page = pageSize();
    const length = Math.ceil(((map.valueSize + 7) & ~7) * map.maxEntries / page) * page;
    // A frozen map can only be mapped for reading: the kernel refuses PROT_WRITE with EPERM.
    const prot = this.readOnly ? PROT_READ : PROT_READ | PROT_WRITE;
    try {
      this.#mapping = mmap(length, prot, MAP_SHARED, map.fd, 0n);
    } catch {
      // A map the kernel will not let us map (a replacement frozen behind our back) is still
      // reachable with syscalls.
      return;
    }
    const buffer = this.#mapping.buffer;
    this.u8 = new Uint8Array(buffer);
    this.u16 = new Uint16Array(buffer);
    this.u32 = new Uint32Array(buffer);
    this.u64 = new BigUint64Array(buffer);
  }

  /** Unmaps (the buffer is detached first, so no view can reach unmapped memory). */
  close(): void {
    this.closed = true;
    this.u8 = undefined;
    this.u16 = undefined;
    this.u32 = undefined;
    this.u64 = undefined;
    if (this.#mapping) munmap(this.#mapping);
    this.#mapping = undefined;
  }
}

/** Reaches the private constructor: variables are made only by `collectionVariables`. */
let makeVariable: (spec: VariableSpec, memory: SectionMemory) => Variable;

/** The memories of each collection's variables, so that the collection can unmap them. */
const memoriesOf = new WeakMap<object, SectionMemory[]>();

/**
 * A global variable of a loaded collection (`coll.variables.name`). Reads and writes touch
 * only the variable's bytes, in place in the mmap()ed value of its section's map: no
 * syscall per access, and programs see a write at once. Values are typed by BTF as map
 * values are (numbers, bigints at 8 bytes, objects for structs, strings for char arrays);
 * bytes of the variable's size always work.
 *
 * `.rodata` is frozen at load and mapped read-only: `set` throws a `TypeError` (set it on the
 * spec before loading instead). A section whose map cannot be mmapped (a kernel older than
 * 5.5, or a map from `mapReplacements` created without `BPF_F_MMAPABLE`) is reached with a
 * lookup, and a write with a lookup and an update of the whole value — which can undo a
 * program's concurrent change to a neighbouring variable; {@linkcode Variable.mapped} says
 * which way a variable goes.
 *
 * A naturally aligned variable of 1, 2, 4 or 8 bytes is read and written with one atomic
 * access, so a counter a program increments is never seen torn; larger values are copied
 * byte by byte, as a skeleton's `memcpy` would. A variable used after its collection is
 * closed throws {@linkcode ClosedError}.
 *
 * @example
 * ```ts ignore
 * using coll = newCollection(await loadCollectionSpec("minimal.o"));
 * coll.variables.my_pid.set(Deno.pid);
 * console.log(coll.variables.events_seen.get()); // a bigint for an unsigned long long
 * ```
 */
export class Variable<T = unknown> {
  /** The variable's symbol name. */
  readonly name: string;
  /** The name of its section's map, such as `".bss"`. */
  readonly mapName: string;
  /** Byte offset in the section. */
  readonly offset: number;
  /** Size in bytes. */
  readonly size: number;
  /** The variable's BTF type (a `btf.Var`), when the object has BTF. */
  readonly type: unknown;
  /** Whether writes are refused: the section is frozen (`.rodata`) or read-only to user space. */
  readonly readOnly: boolean;
  readonly #memory: SectionMemory;
  readonly #codec: Codec | undefined;
  /** The value is staged here: decoded from after a read, encoded into before a write. */
  readonly #scratch: Uint8Array;
  readonly #scratchView: DataView;
  readonly #scratch16: Uint16Array;
  readonly #scratch32: Uint32Array;
  readonly #scratch64: BigUint64Array;
  /** The width of the one atomic access that reads or writes the variable, 0 for a copy. */
  readonly #width: number;
  /** The index of the variable in the typed view of that width. */
  readonly #index: number;

  /** Use `coll.variables`: variables are made by `newCollection`. */
  private constructor(spec: VariableSpec, memory: SectionMemory) {
    this.name = spec.name;
    this.mapName = spec.mapName;
    this.offset = spec.offset;
    this.size = spec.size;
    this.type = spec.type;
    this.readOnly = memory.readOnly;
    this.#memory = memory;
    this.#codec = codecOf(spec.type, spec.size);
    const stage = new ArrayBuffer(Math.max(8, (spec.size + 7) & ~7));
    this.#scratch = new Uint8Array(stage, 0, spec.size);
    this.#scratchView = new DataView(stage);
    this.#scratch16 = new Uint16Array(stage, 0, 1);
    this.#scratch32 = new Uint32Array(stage, 0, 1);
    this.#scratch64 = new BigUint64Array(stage, 0, 1);
    const natural = [1, 2, 4, 8].includes(spec.size) && spec.offset % spec.size === 0;
    this.#width = natural ? spec.size : 0;
    this.#index = natural ? spec.offset / spec.size : 0;
  }

  /** Whether reads and writes go through shared memory rather than syscalls. */
  get mapped(): boolean {
    return this.#open() !== undefined;
  }

  /** The current value, decoded from BTF; a copy of the bytes without BTF. */
  get(): T {
    this.#load();
    if (this.#codec) return this.#codec.decode(this.#scratchView, this.#scratch, 0) as T;
    return this.#scratch.slice() as T;
  }

  /** A copy of the variable's bytes, in the host's byte order. */
  bytes(): Uint8Array {
    this.#load();
    return this.#scratch.slice();
  }

  /**
   * Writes `value`: anything the variable's BTF type encodes from, bytes of exactly its
   * size, or, without BTF, a number or bigint for a 1, 2, 4 or 8-byte variable. A value of
   * the wrong shape throws before anything is written.
   */
  set(value: T | Uint8Array): void {
    const memory = this.#memory;
    if (memory.closed) throw this.#closed();
    if (this.readOnly) {
      throw new TypeError(
        `Cannot set variable '${this.name}': '${this.mapName}' is read-only after load ` +
          "(frozen): set it on the spec before newCollection",
      );
    }
    this.#encode(value);
    const u8 = this.#open();
    if (u8 === undefined) {
      const whole = this.#lookup();
      whole.set(this.#scratch, this.offset);
      memory.map.update(0, whole);
      return;
    }
    switch (this.#width) {
      case 1:
        Atomics.store(u8, this.#index, this.#scratch[0]);
        return;
      case 2:
        Atomics.store(memory.u16!, this.#index, this.#scratch16[0]);
        return;
      case 4:
        Atomics.store(memory.u32!, this.#index, this.#scratch32[0]);
        return;
      case 8:
        Atomics.store(memory.u64!, this.#index, this.#scratch64[0]);
        return;
      default:
        u8.set(this.#scratch, this.offset);
    }
  }

  /** The error for a variable whose collection is closed. */
  #closed(): ClosedError {
    return new ClosedError(`variable '${this.name}' of a closed collection`);
  }

  /** The mapped bytes of the section, or undefined when it is reached with syscalls. */
  #open(): Uint8Array | undefined {
    const memory = this.#memory;
    if (memory.closed) throw this.#closed();
    if (memory.u8 === undefined) memory.open();
    return memory.u8;
  }

  /** The whole section value, with a syscall. */
  #lookup(): Uint8Array {
    const whole = this.#memory.map.lookupBytes(0);
    if (whole === undefined) throw new Error(`Map '${this.mapName}' has no value`);
    return whole;
  }

  /** Copies the variable's current bytes into the scratch buffer. */
  #load(): void {
    const u8 = this.#open();
    if (u8 === undefined) {
      this.#scratch.set(this.#lookup().subarray(this.offset, this.offset + this.size));
      return;
    }
    const memory = this.#memory;
    switch (this.#width) {
      case 1:
        this.#scratch[0] = Atomics.load(u8, this.#index);
        return;
      case 2:
        this.#scratch16[0] = Atomics.load(memory.u16!, this.#index);
        return;
      case 4:
        this.#scratch32[0] = Atomics.load(memory.u32!, this.#index);
        return;
      case 8:
        this.#scratch64[0] = Atomics.load(memory.u64!, this.#index);
        return;
      default:
        this.#scratch.set(u8.subarray(this.offset, this.offset + this.size));
    }
  }

  /** Encodes `value` into the scratch buffer, or throws without touching the variable. */
  #encode(value: unknown): void {
    const size = this.size;
    if (value instanceof Uint8Array) {
      if (value.length !== size) {
        throw new RangeError(
          `Cannot set variable '${this.name}': got ${value.length} bytes, need ${size}`,
        );
      }
      this.#scratch.set(value);
      return;
    }
    if (this.#codec) {
      this.#codec.encode(value, this.#scratchView, this.#scratch, 0, this.name);
      return;
    }
    if (typeof value === "number" && !Number.isInteger(value)) {
      throw new TypeError(`Cannot set variable '${this.name}': ${value} is not an integer`);
    }
    if ((typeof value !== "number" && typeof value !== "bigint") || this.#width === 0) {
      throw new TypeError(
        `Cannot set variable '${this.name}' of ${size} bytes without BTF: give bytes` +
          (this.#width === 0 ? "" : ", a number or a bigint"),
      );
    }
    const v = BigInt.asUintN(size * 8, BigInt(value));
    const view = this.#scratchView;
    if (size === 8) view.setBigUint64(0, v, LE);
    else if (size === 4) view.setUint32(0, Number(v), LE);
    else if (size === 2) view.setUint16(0, Number(v), LE);
    else view.setUint8(0, Number(v));
  }

  static {
    makeVariable = (spec, memory) => new Variable(spec, memory);
  }
}

/**
 * The variables of a collection, one per variable whose section's map is in `maps` (no
 * syscalls: a section is mapped on its variables' first use).
 */
export function collectionVariables(
  specs: Record<string, VariableSpec>,
  maps: Record<string, BpfMap>,
): Record<string, Variable> {
  const variables: Record<string, Variable> = {};
  const memories = new Map<string, SectionMemory>();
  for (const [name, spec] of Object.entries(specs)) {
    const map = maps[spec.mapName];
    // Maps left out by `only`, and variables that do not fit their map, have no variable.
    if (map === undefined || spec.offset + spec.size > map.valueSize) continue;
    let memory = memories.get(spec.mapName);
    if (memory === undefined) {
      memory = new SectionMemory(map, spec.constant || (map.flags & BPF_F_RDONLY) !== 0);
      memories.set(spec.mapName, memory);
    }
    variables[name] = makeVariable(spec, memory);
  }
  memoriesOf.set(variables, [...memories.values()]);
  return variables;
}

/** Unmaps the sections of variables made by {@linkcode collectionVariables}; idempotent. */
export function closeVariables(variables: Record<string, Variable>): void {
  for (const memory of memoriesOf.get(variables) ?? []) memory.close();
}

/** The codec of a variable's `btf.Var`, when its type has a value of the variable's size. */
function codecOf(type: unknown, size: number): Codec | undefined {
  const inner = (type as { type?: unknown } | undefined)?.type;
  if (!isBtfType(inner) || !hasValueRepresentation(inner as Type)) return undefined;
  try {
    const codec = codecFor(inner);
    return codec.size === size ? codec : undefined;
  } catch {
    return undefined;
  }
}
