/**
 * `enum bpf_map_type` from `include/uapi/linux/bpf.h`.
 *
 * @module
 */

/** The kinds of map the kernel can create, with their uapi numbers. */
export const MapType = {
  Unspecified: 0,
  Hash: 1,
  Array: 2,
  ProgramArray: 3,
  PerfEventArray: 4,
  PerCPUHash: 5,
  PerCPUArray: 6,
  StackTrace: 7,
  CgroupArray: 8,
  LRUHash: 9,
  LRUCPUHash: 10,
  LPMTrie: 11,
  ArrayOfMaps: 12,
  HashOfMaps: 13,
  DevMap: 14,
  SockMap: 15,
  CPUMap: 16,
  XSKMap: 17,
  SockHash: 18,
  CgroupStorage: 19,
  ReusePortSockArray: 20,
  PerCPUCgroupStorage: 21,
  Queue: 22,
  Stack: 23,
  SkStorage: 24,
  DevMapHash: 25,
  StructOpsMap: 26,
  RingBuf: 27,
  InodeStorage: 28,
  TaskStorage: 29,
  BloomFilter: 30,
  UserRingbuf: 31,
  CgroupStorageNew: 32,
  Arena: 33,
} as const;

/** A map type number, one of {@linkcode MapType}'s values. */
export type MapType = typeof MapType[keyof typeof MapType];

/** The first kernel release that has each map type, for {@linkcode NotSupportedError}s. */
export const MAP_TYPE_MIN_KERNEL: Readonly<Record<MapType, string>> = {
  0: "3.18",
  1: "3.19",
  2: "3.19",
  3: "4.2",
  4: "4.3",
  5: "4.6",
  6: "4.6",
  7: "4.6",
  8: "4.8",
  9: "4.10",
  10: "4.10",
  11: "4.11",
  12: "4.12",
  13: "4.12",
  14: "4.14",
  15: "4.14",
  16: "4.15",
  17: "4.18",
  18: "4.18",
  19: "4.19",
  20: "4.19",
  21: "4.20",
  22: "4.20",
  23: "4.20",
  24: "5.2",
  25: "5.4",
  26: "5.6",
  27: "5.8",
  28: "5.10",
  29: "5.11",
  30: "5.16",
  31: "6.1",
  32: "6.2",
  33: "6.9",
};

const UAPI_MAP_NAMES: Readonly<Record<MapType, string>> = {
  0: "UNSPEC",
  1: "HASH",
  2: "ARRAY",
  3: "PROG_ARRAY",
  4: "PERF_EVENT_ARRAY",
  5: "PERCPU_HASH",
  6: "PERCPU_ARRAY",
  7: "STACK_TRACE",
  8: "CGROUP_ARRAY",
  9: "LRU_HASH",
  10: "LRU_PERCPU_HASH",
  11: "LPM_TRIE",
  12: "ARRAY_OF_MAPS",
  13: "HASH_OF_MAPS",
  14: "DEVMAP",
  15: "SOCKMAP",
  16: "CPUMAP",
  17: "XSKMAP",
  18: "SOCKHASH",
  19: "CGROUP_STORAGE",
  20: "REUSEPORT_SOCKARRAY",
  21: "PERCPU_CGROUP_STORAGE",
  22: "QUEUE",
  23: "STACK",
  24: "SK_STORAGE",
  25: "DEVMAP_HASH",
  26: "STRUCT_OPS",
  27: "RINGBUF",
  28: "INODE_STORAGE",
  29: "TASK_STORAGE",
  30: "BLOOM_FILTER",
  31: "USER_RINGBUF",
  32: "CGRP_STORAGE",
  33: "ARENA",
};

/** Map types whose values are stored once per possible CPU, each padded to 8 bytes. */
const PER_CPU_TYPES: ReadonlySet<number> = new Set([
  MapType.PerCPUHash,
  MapType.PerCPUArray,
  MapType.LRUCPUHash,
  MapType.PerCPUCgroupStorage,
]);

/** Whether a map of `type` holds one value per possible CPU (a per-CPU hash or array). */
export function isPerCPU(type: number): boolean {
  return PER_CPU_TYPES.has(type);
}

/** The uapi name of a map type, such as `"BPF_MAP_TYPE_HASH"`. */
export function mapTypeName(type: number): string {
  const name = (UAPI_MAP_NAMES as Record<number, string | undefined>)[type];
  return name === undefined ? `map type ${type}` : `BPF_MAP_TYPE_${name}`;
}
