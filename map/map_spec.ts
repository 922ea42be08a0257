/**
 * MapSpec: the description of a map to create. Plain data; no syscalls.
 *
 * @module
 */

import type { MapType } from "./map_type.ts";

/** How a map is pinned when a collection is loaded (libbpf's `LIBBPF_PIN_*`). */
export const PinType = {
  /** Not pinned. */
  None: 0,
  /** Pinned by name under the collection's pin path, and reused when compatible. */
  ByName: 1,
} as const;

/** A pinning mode, one of {@linkcode PinType}'s values. */
export type PinType = typeof PinType[keyof typeof PinType];

/** One initial entry of a map: raw key and value bytes, or anything a codec encodes. */
export interface MapEntry {
  /** The key. */
  key: unknown;
  /** The value. */
  value: unknown;
}

/** The fields of a {@linkcode MapSpec} a caller must or may give. */
export interface MapSpecInit {
  /** The map name (see {@linkcode MapSpec.name}). */
  name?: string;
  /** The map type. */
  type: MapType;
  /** Key size in bytes. */
  keySize?: number;
  /** Value size in bytes. */
  valueSize?: number;
  /** Capacity. */
  maxEntries?: number;
  /** `BPF_F_*` flags. */
  flags?: number;
  /** NUMA node to allocate on. */
  numaNode?: number;
  /** `map_extra`. */
  mapExtra?: bigint;
  /** Pinning mode. */
  pinning?: PinType;
  /** Inner map template for map-in-map types. */
  innerMap?: MapSpec;
  /** Initial entries. */
  contents?: MapEntry[];
  /** Freeze the map after its contents are written (read-only from user space). */
  freeze?: boolean;
  /** BTF type of the key, when the map has BTF. */
  key?: unknown;
  /** BTF type of the value, when the map has BTF. */
  value?: unknown;
}

/**
 * A description of a map: what `BpfMap.create` makes. Change it freely before creating;
 * `copy()` gives an independent deep copy.
 *
 * @example
 * ```ts
 * import { MapSpec, MapType } from "@ebpf/ebpf";
 * const spec = new MapSpec({ name: "counts", type: MapType.Hash, keySize: 4, valueSize: 8, maxEntries: 1024 });
 * ```
 */
export class MapSpec {
  /** The map's name; the kernel keeps the first 15 characters. */
  name: string;
  /** The map type. */
  type: MapType;
  /** Key size in bytes. */
  keySize: number;
  /** Value size in bytes. */
  valueSize: number;
  /** Capacity. */
  maxEntries: number;
  /** `BPF_F_*` map flags. */
  flags: number;
  /** NUMA node to allocate on (sets `BPF_F_NUMA_NODE` when non-zero). */
  numaNode: number;
  /** `map_extra`: the bloom filter's hash count, or the arena's address hint. */
  mapExtra: bigint;
  /** Pinning mode, used by collections. */
  pinning: PinType;
  /** For map-in-map types: the template of the inner maps. */
  innerMap: MapSpec | undefined;
  /** Entries written after creation. */
  contents: MapEntry[];
  /** Freeze the map after its contents are written. */
  freeze: boolean;
  /** BTF type of the key, when the map has BTF. */
  key: unknown;
  /** BTF type of the value, when the map has BTF. */
  value: unknown;

  /** Builds a spec; sizes default to 0, which some map types require. */
  constructor(init: MapSpecInit) {
    this.name = init.name ?? "";
    this.type = init.type;
    this.keySize = init.keySize ?? 0;
    this.valueSize = init.valueSize ?? 0;
    this.maxEntries = init.maxEntries ?? 0;
    this.flags = init.flags ?? 0;
    this.numaNode = init.numaNode ?? 0;
    this.mapExtra = init.mapExtra ?? 0n;
    this.pinning = init.pinning ?? PinType.None;
    this.innerMap = init.innerMap;
    this.contents = init.contents ?? [];
    this.freeze = init.freeze ?? false;
    this.key = init.key;
    this.value = init.value;
  }

  /** An independent copy: contents and the inner map are copied too; BTF types are shared. */
  copy(): MapSpec {
    return new MapSpec({
      ...this,
      innerMap: this.innerMap?.copy(),
      contents: this.contents.map(({ key, value }) => ({
        key: copyData(key),
        value: copyData(value),
      })),
    });
  }
}

/**
 * Bytes copied; plain objects (such as a struct_ops value's members by name) copied one
 * level deep, their bytes too; anything else (numbers, names, BTF-encoded values) shared.
 */
function copyData(x: unknown): unknown {
  if (x instanceof Uint8Array) return x.slice();
  if (x !== null && typeof x === "object" && Object.getPrototypeOf(x) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(x)) out[k] = v instanceof Uint8Array ? v.slice() : v;
    return out;
  }
  return x;
}
