/**
 * What the kernel requires of each map type at `BPF_MAP_CREATE`, and the fix-ups that turn a
 * spec as BPF C declares it into the attr the kernel accepts — what libbpf and cilium/ebpf do
 * at load time (libbpf's `map_set_def_max_entries`, `adjust_ringbuf_sz` and the BTF id
 * switch of `bpf_object__create_map`; cilium's `fixupMagicFields` and `canHaveValueSize`).
 *
 * The spec stays as the ELF says; only what is created changes. The file is pure: facts of
 * the host (possible CPUs, page size) come in as arguments, so every rule is testable
 * without a kernel.
 *
 * @module
 */

import { sizeof } from "../btf/helpers.ts";
import type { Type } from "../btf/types.ts";
import { isBtfType } from "./codec.ts";
import type { MapSpec } from "./map_spec.ts";
import { MapType, mapTypeName } from "./map_type.ts";

/** `BPF_F_NO_PREALLOC`. */
export const BPF_F_NO_PREALLOC = 1;
/** `BPF_F_MMAPABLE`. */
export const BPF_F_MMAPABLE = 1 << 10;

/**
 * Sizes a map type accepts for its key or value. The first is what an unset (0) size, or a
 * size that only came from a `__type()` the kernel cannot use, becomes.
 */
type Sizes = readonly [number, ...number[]];

/** How a map type's `max_entries` is decided. */
type Entries =
  /** 0 means one entry per possible CPU (libbpf's default for perf event arrays). */
  | "cpus"
  /** Bytes of a ring: rounded up to a power-of-2 number of pages, as libbpf does. */
  | "ring"
  /** Must be 0: the kernel sizes the map itself (storage maps). */
  | "zero"
  /** Pages of an arena: must be non-zero. */
  | "pages";

/** What the kernel requires of one map type. */
interface Requirement {
  /** Accepted key sizes; absent when any size goes. */
  key?: Sizes;
  /** Accepted value sizes; absent when any size goes. */
  value?: Sizes;
  /** How `max_entries` is decided; absent when it is taken as given. */
  entries?: Entries;
  /** Flags the kernel refuses to create the type without; added when missing. */
  flags?: number;
  /**
   * Which BTF type ids the kernel takes for the type: `"none"` where it refuses them
   * (`map_check_no_btf` answers ENOTSUPP; queues, stacks and rings EINVAL) or libbpf leaves
   * them out (arenas), `"value"` where the key must be void (bloom filters). Default: both.
   */
  btf?: "none" | "value";
}

const FD = [4] as const;
/** A u32 fd, or a struct whose first member is one (devmap, cpumap values), or a u64 cookie. */
const FD_OR_8 = [4, 8] as const;
const NONE = [0] as const;
/** `struct bpf_cgroup_storage_key` (u64 inode id, u32 attach type, padded), or a bare u64 id. */
const CGROUP_STORAGE_KEY = [16, 8] as const;

/**
 * The table: one entry per map type that has requirements. Facts from the kernel's
 * `map_alloc_check`/`map_check_btf` of each type; struct_ops maps are left out on purpose,
 * `BpfMap.create` has a path of its own for them.
 */
const REQUIREMENTS: Readonly<Partial<Record<MapType, Requirement>>> = {
  [MapType.ProgramArray]: { key: FD, value: FD },
  [MapType.PerfEventArray]: { key: FD, value: FD, entries: "cpus", btf: "none" },
  [MapType.StackTrace]: { key: FD, btf: "none" },
  [MapType.CgroupArray]: { key: FD, value: FD, btf: "none" },
  [MapType.LPMTrie]: { flags: BPF_F_NO_PREALLOC },
  [MapType.ArrayOfMaps]: { key: FD, value: FD, btf: "none" },
  [MapType.HashOfMaps]: { value: FD, btf: "none" },
  [MapType.DevMap]: { key: FD, value: FD_OR_8, btf: "none" },
  [MapType.SockMap]: { key: FD, value: FD_OR_8, btf: "none" },
  [MapType.CPUMap]: { key: FD, value: FD_OR_8, entries: "cpus", btf: "none" },
  [MapType.XSKMap]: { key: FD, value: FD, btf: "none" },
  [MapType.SockHash]: { value: FD_OR_8, btf: "none" },
  [MapType.CgroupStorage]: { key: CGROUP_STORAGE_KEY, entries: "zero" },
  [MapType.ReusePortSockArray]: { key: FD, value: FD_OR_8 },
  [MapType.PerCPUCgroupStorage]: { key: CGROUP_STORAGE_KEY, entries: "zero" },
  [MapType.Queue]: { key: NONE, btf: "none" },
  [MapType.Stack]: { key: NONE, btf: "none" },
  [MapType.SkStorage]: { key: FD, entries: "zero", flags: BPF_F_NO_PREALLOC },
  [MapType.DevMapHash]: { key: FD, value: FD_OR_8, btf: "none" },
  [MapType.RingBuf]: { key: NONE, value: NONE, entries: "ring", btf: "none" },
  [MapType.InodeStorage]: { key: FD, entries: "zero", flags: BPF_F_NO_PREALLOC },
  [MapType.TaskStorage]: { key: FD, entries: "zero", flags: BPF_F_NO_PREALLOC },
  [MapType.BloomFilter]: { key: NONE, btf: "value" },
  [MapType.UserRingbuf]: { key: NONE, value: NONE, entries: "ring", btf: "none" },
  [MapType.CgroupStorageNew]: { key: FD, entries: "zero", flags: BPF_F_NO_PREALLOC },
  [MapType.Arena]: { key: NONE, value: NONE, entries: "pages", flags: BPF_F_MMAPABLE, btf: "none" },
};

/** Facts of the running host that some fix-ups need; asked only when needed. */
export interface HostFacts {
  /** The number of possible CPUs. */
  possibleCpus(): number;
  /** The page size in bytes. */
  pageSize(): number;
}

/** The fields of `BPF_MAP_CREATE` that come from a spec. */
export type CreateFields = Pick<
  MapSpec,
  "type" | "name" | "keySize" | "valueSize" | "maxEntries" | "flags" | "numaNode" | "mapExtra"
>;

/** A spec as the kernel will get it. */
export interface FixedMapSpec {
  /** What `BPF_MAP_CREATE` gets. */
  fields: CreateFields;
  /** The spec's key type when it still describes keys of `fields.keySize`, else undefined. */
  key: Type | undefined;
  /** The spec's value type when it still describes values of `fields.valueSize`. */
  value: Type | undefined;
  /** Whether the kernel takes a BTF type id for the key. */
  btfKey: boolean;
  /** Whether the kernel takes a BTF type id for the value. */
  btfValue: boolean;
}

type SpecLike = CreateFields & Pick<MapSpec, "key" | "value">;

/**
 * The spec as the kernel must get it: sizes the map type fixes filled in, `max_entries`
 * decided where the type decides it, required flags added, and which BTF types may be
 * named. A key or value size that only came from a `__type()` the kernel cannot use (a
 * ring buffer's record struct, a perf event array's event) is replaced silently, as
 * cilium/ebpf does; a size given otherwise that the type forbids is a RangeError that says
 * what the type accepts.
 */
export function fixupMapSpec(spec: SpecLike, host: HostFacts): FixedMapSpec {
  const req = REQUIREMENTS[spec.type] ?? {};
  const keySize = fixSize(spec, "key", spec.keySize, spec.key, req.key);
  const valueSize = fixSize(spec, "value", spec.valueSize, spec.value, req.value);
  const fields: CreateFields = {
    type: spec.type,
    name: spec.name,
    keySize,
    valueSize,
    maxEntries: fixEntries(spec, req.entries, host),
    flags: spec.flags | (req.flags ?? 0),
    numaNode: spec.numaNode,
    mapExtra: spec.mapExtra,
  };
  if (spec.type === MapType.Arena) checkArenaAddress(spec, host);
  const key = describes(spec.key, keySize);
  const value = describes(spec.value, valueSize);
  return {
    fields,
    key,
    value,
    btfKey: key !== undefined && req.btf === undefined,
    btfValue: value !== undefined && req.btf !== "none",
  };
}

/**
 * Whether the kernel decides the key or value size of maps of `type`: a BTF type given for
 * it then documents the records (a ring buffer's, a perf event array's), not the slot, and
 * need not be its size.
 */
export function sizeIsFixed(type: MapType, what: "key" | "value"): boolean {
  return REQUIREMENTS[type]?.[what] !== undefined;
}

/** Whether the kernel takes BTF key or value type ids for maps of `type` at all. */
export function takesBtf(type: MapType): boolean {
  return REQUIREMENTS[type]?.btf !== "none";
}

function fixSize(
  spec: SpecLike,
  what: "key" | "value",
  size: number,
  type: unknown,
  accepted: Sizes | undefined,
): number {
  if (accepted === undefined || accepted.includes(size)) return size;
  if (size === 0 || size === typeSize(type)) return accepted[0];
  const allowed = accepted.length === 1 ? `${accepted[0]}` : accepted.join(" or ");
  throw new RangeError(
    `Map "${spec.name}" (${mapTypeName(spec.type)}): the ${what} size must be ${allowed}` +
      `${accepted[0] === 0 ? "" : " (or 0, to have it filled in)"}, got ${size}`,
  );
}

function fixEntries(spec: SpecLike, rule: Entries | undefined, host: HostFacts): number {
  const n = spec.maxEntries;
  switch (rule) {
    case undefined:
      return n;
    case "cpus":
      return n === 0 ? host.possibleCpus() : n;
    case "ring":
      if (n === 0) {
        throw new RangeError(
          `Map "${spec.name}" (${
            mapTypeName(spec.type)
          }) needs max_entries: the ring's size in bytes`,
        );
      }
      return ringSize(n, host.pageSize());
    case "zero":
      if (n !== 0) {
        throw new RangeError(
          `Map "${spec.name}" (${mapTypeName(spec.type)}): max_entries must be 0 ` +
            `(the kernel sizes storage maps itself), got ${n}`,
        );
      }
      return 0;
    case "pages":
      if (n === 0) {
        throw new RangeError(
          `Map "${spec.name}" (${mapTypeName(spec.type)}) needs max_entries: its size in pages`,
        );
      }
      return n;
  }
}

/**
 * A ring's size as the kernel wants it, a power-of-2 number of pages: sizes that are not are
 * rounded up to the next one (libbpf's `adjust_ringbuf_sz`); sizes past 2^32 stay as given,
 * for the kernel to refuse.
 */
export function ringSize(bytes: number, page: number): number {
  if (bytes % page === 0 && isPowerOf2(bytes / page)) return bytes;
  for (let pages = 1; pages * page <= 0xffffffff; pages *= 2) {
    if (pages * page > bytes) return pages * page;
  }
  return bytes;
}

function isPowerOf2(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0;
}

/**
 * An arena's `map_extra` is where user space maps it: page-aligned, and the arena must not
 * cross a 4 GiB boundary there (the kernel's EINVAL and ERANGE, said with the reason).
 */
function checkArenaAddress(spec: SpecLike, host: HostFacts): void {
  const at = spec.mapExtra;
  if (at === 0n) return;
  const page = BigInt(host.pageSize());
  if (at % page !== 0n) {
    throw new RangeError(
      `Map "${spec.name}" (BPF_MAP_TYPE_ARENA): map_extra 0x${at.toString(16)} ` +
        `is not page-aligned (${page} bytes)`,
    );
  }
  const end = at + BigInt(spec.maxEntries) * page - 1n;
  if (at >> 32n !== end >> 32n) {
    throw new RangeError(
      `Map "${spec.name}" (BPF_MAP_TYPE_ARENA): ${spec.maxEntries} pages at ` +
        `0x${at.toString(16)} cross a 4 GiB boundary`,
    );
  }
}

function typeSize(type: unknown): number | undefined {
  if (!isBtfType(type)) return undefined;
  try {
    return sizeof(type as Type);
  } catch {
    return undefined;
  }
}

/** `type` when it is a BTF type of `size` bytes (and size is not 0). */
function describes(type: unknown, size: number): Type | undefined {
  return size !== 0 && typeSize(type) === size ? type as Type : undefined;
}
