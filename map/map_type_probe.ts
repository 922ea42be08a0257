/**
 * Probing whether the running kernel can create a map type.
 *
 * @module
 */

import { Attr, bpfErrno, bpfError, closeFd } from "../ffi.ts";
import { BpfCmd } from "../_internal/bpf_cmd.ts";
import { feature, type FeatureProbe } from "../_internal/feature.ts";
import { Errno } from "../errors.ts";
import { MAP_TYPE_MIN_KERNEL, MapType, mapTypeName } from "./map_type.ts";
import { BPF_F_MMAPABLE, BPF_F_NO_PREALLOC } from "./_create_fixups.ts";
const PAGE_SIZE = 4096;

/** The smallest `BPF_MAP_CREATE` attr the kernel accepts for each map type. */
function probeAttr(type: MapType, attr: Attr): void {
  // map_type, key_size, value_size, max_entries, map_flags at offsets 0..16
  attr.u32(0, type).u32(4, 4).u32(8, 4).u32(12, 1);
  switch (type) {
    case MapType.StackTrace:
      attr.u32(8, 8);
      break;
    case MapType.LPMTrie:
      attr.u32(4, 8).u32(16, BPF_F_NO_PREALLOC);
      break;
    case MapType.CgroupStorage:
    case MapType.PerCPUCgroupStorage:
      attr.u32(4, 16).u32(12, 0); // struct bpf_cgroup_storage_key; max_entries must be 0
      break;
    case MapType.Queue:
    case MapType.Stack:
    case MapType.BloomFilter:
      attr.u32(4, 0);
      break;
    case MapType.RingBuf:
    case MapType.UserRingbuf:
      attr.u32(4, 0).u32(8, 0).u32(12, PAGE_SIZE);
      break;
    case MapType.Arena:
      attr.u32(4, 0).u32(8, 0).u32(16, BPF_F_MMAPABLE);
      break;
    case MapType.SkStorage:
    case MapType.InodeStorage:
    case MapType.TaskStorage:
    case MapType.CgroupStorageNew:
      // Storage maps need BTF: an invalid btf_fd gets EBADF only from kernels that know
      // the type and have checked everything before it.
      attr.u32(12, 0).u32(16, BPF_F_NO_PREALLOC).u32(48, 0xffffffff).u32(52, 1).u32(56, 1);
      break;
    case MapType.StructOpsMap:
      // A made-up vmlinux value type id: ENOTSUPP means the kernel looked it up.
      attr.u32(60, 1);
      break;
  }
}

/** Creates (and closes) the smallest map of `type`, with `flags` added to the ones it needs. */
function probeMapType(type: MapType, flags = 0): boolean {
  const attr = new Attr();
  let innerFd = -1;
  try {
    probeAttr(type, attr);
    attr.u32(16, attr.getU32(16) | flags);
    if (type === MapType.ArrayOfMaps || type === MapType.HashOfMaps) {
      const inner = new Attr().u32(0, MapType.Array).u32(4, 4).u32(8, 4).u32(12, 1);
      innerFd = bpfErrno(BpfCmd.MAP_CREATE, inner);
      if (innerFd < 0) throw bpfError(BpfCmd.MAP_CREATE, -innerFd);
      attr.u32(20, innerFd);
    }
    const r = bpfErrno(BpfCmd.MAP_CREATE, attr);
    if (r >= 0) {
      closeFd(r);
      return true;
    }
    const errno = -r;
    if (errno === Errno.EBADF && attr.getU32(48) === 0xffffffff) return true;
    if (errno === Errno.ENOTSUPP && type === MapType.StructOpsMap) return true;
    if (errno === Errno.EINVAL || errno === Errno.E2BIG || errno === Errno.ENOTSUPP) return false;
    throw bpfError(BpfCmd.MAP_CREATE, errno);
  } finally {
    if (innerFd >= 0) closeFd(innerFd);
  }
}

const probes = new Map<number, FeatureProbe>();

function probeFor(type: MapType): FeatureProbe {
  let probe = probes.get(type);
  if (!probe) {
    probe = feature(mapTypeName(type), MAP_TYPE_MIN_KERNEL[type], () => probeMapType(type));
    probes.set(type, probe);
  }
  return probe;
}

/**
 * Whether the running kernel can create maps of `type`. The answer is probed once per
 * process by creating (and closing) the smallest such map. Needs `--allow-ffi` and CAP_BPF;
 * without them it throws {@linkcode PermissionError}.
 *
 * @example
 * ```ts ignore
 * import { haveMapType, MapType } from "@ebpf/ebpf";
 * if (!haveMapType(MapType.RingBuf)) console.log("no ring buffers on this kernel");
 * ```
 */
export function haveMapType(type: MapType): boolean {
  if (!Object.hasOwn(MAP_TYPE_MIN_KERNEL, type)) {
    throw new RangeError(`Unknown map type: ${type}`);
  }
  return probeFor(type).supported();
}

/** A map flag {@linkcode haveMapFlag} can probe, by its uapi name. */
export type MapFlag =
  | "BPF_F_NO_PREALLOC"
  | "BPF_F_RDONLY_PROG"
  | "BPF_F_WRONLY_PROG"
  | "BPF_F_MMAPABLE"
  | "BPF_F_INNER_MAP"
  | "BPF_F_LINK"
  | "BPF_F_SEGV_ON_FAULT"
  | "BPF_F_NO_USER_CONV";

/**
 * The map flags a kernel may lack, with the uapi value, the map type a probe creates with
 * the flag, and the first kernel that has the flag (cilium's `HaveMapFlag` list, and
 * `BPF_F_LINK` for struct_ops).
 */
const MAP_FLAGS = {
  BPF_F_NO_PREALLOC: [BPF_F_NO_PREALLOC, MapType.Hash, "4.6"],
  BPF_F_RDONLY_PROG: [1 << 7, MapType.Array, "5.2"],
  BPF_F_WRONLY_PROG: [1 << 8, MapType.Array, "5.2"],
  BPF_F_MMAPABLE: [BPF_F_MMAPABLE, MapType.Array, "5.5"],
  BPF_F_INNER_MAP: [1 << 12, MapType.Array, "5.10"],
  BPF_F_LINK: [1 << 13, MapType.StructOpsMap, "6.4"],
  BPF_F_SEGV_ON_FAULT: [1 << 17, MapType.Arena, "6.9"],
  BPF_F_NO_USER_CONV: [1 << 18, MapType.Arena, "6.9"],
} as const satisfies Record<MapFlag, readonly [number, MapType, string]>;

/** Every {@linkcode MapFlag}, in uapi order. */
export const MAP_FLAG_NAMES: readonly MapFlag[] = Object.freeze(
  Object.keys(MAP_FLAGS) as MapFlag[],
);

const flagProbes = new Map<MapFlag, FeatureProbe>();

function flagProbe(flag: MapFlag): FeatureProbe {
  if (!Object.hasOwn(MAP_FLAGS, flag)) {
    throw new RangeError(`Unknown map flag "${flag}": one of ${MAP_FLAG_NAMES.join(", ")}`);
  }
  let probe = flagProbes.get(flag);
  if (!probe) {
    const [value, type, minKernel] = MAP_FLAGS[flag];
    probe = feature(flag, minKernel, () => haveMapType(type) && probeMapType(type, value));
    flagProbes.set(flag, probe);
  }
  return probe;
}

/**
 * Whether the running kernel creates maps with `flag` (such as `"BPF_F_MMAPABLE"`), probed
 * once per process by creating the smallest map of a type that takes it.
 */
export function haveMapFlag(flag: MapFlag): boolean {
  return flagProbe(flag).supported();
}

/** The first kernel that has `flag`. */
export function mapFlagMinKernel(flag: MapFlag): string {
  return flagProbe(flag).minKernel;
}

/** Throws {@linkcode NotSupportedError} naming `flag` and its first kernel when it is missing. */
export function requireMapFlag(flag: MapFlag): void {
  flagProbe(flag)();
}

/**
 * Whether the running kernel creates array maps with `BPF_F_MMAPABLE`, whose values user
 * space can mmap (Linux 5.5). Probed once per process, like {@linkcode haveMapType}.
 */
export function haveMmapableArrays(): boolean {
  return haveMapFlag("BPF_F_MMAPABLE");
}

/** `BPF_F_CPU`: one CPU's value of a per-CPU map, its number in the flags' upper half. */
export const BPF_F_CPU = 8n;
/** `BPF_F_ALL_CPUS`: one value written to every CPU of a per-CPU map. */
export const BPF_F_ALL_CPUS = 16n;

/**
 * `BPF_F_CPU`/`BPF_F_ALL_CPUS` element flags of per-CPU maps (7.0): a lookup of CPU 0's
 * value in a one-entry per-CPU array. Kernels without them refuse the flag (EINVAL).
 */
export const perCpuElemFlags: FeatureProbe = feature("BPF_F_CPU and BPF_F_ALL_CPUS", "7.0", () => {
  const create = new Attr().u32(0, MapType.PerCPUArray).u32(4, 4).u32(8, 8).u32(12, 1);
  const fd = bpfErrno(BpfCmd.MAP_CREATE, create);
  if (fd < 0) throw bpfError(BpfCmd.MAP_CREATE, -fd);
  try {
    const key = new Uint8Array(new ArrayBuffer(4));
    const value = new Uint8Array(new ArrayBuffer(8));
    const lookup = new Attr().u32(0, fd).pointer(8, key).pointer(16, value).u64(24, BPF_F_CPU);
    const r = bpfErrno(BpfCmd.MAP_LOOKUP_ELEM, lookup);
    if (r === 0) return true;
    if (r === -Errno.EINVAL) return false;
    throw bpfError(BpfCmd.MAP_LOOKUP_ELEM, -r);
  } finally {
    closeFd(fd);
  }
});

/**
 * Throws {@linkcode NotSupportedError}, naming the map type and the first kernel that has
 * it, when the running kernel cannot create maps of `type`.
 */
export function requireMapType(type: MapType): void {
  if (!haveMapType(type)) probeFor(type)();
}

/**
 * `BPF_F_LINK` on struct_ops maps (6.4), which a link registers: such a kernel accepts the
 * flag and goes on to look up the (made-up) vmlinux value type, ENOTSUPP; older kernels
 * refuse the flag, EINVAL.
 */
export const structOpsLinkMaps: FeatureProbe = flagProbe("BPF_F_LINK");

/**
 * After BPF_MAP_CREATE failed with EINVAL: throws {@linkcode NotSupportedError} when the map
 * type, or a flag the kernel may lack for it, is missing on the running kernel.
 */
export function requireMapFeatures(type: MapType, flags: number): void {
  requireMapType(type);
  if (type === MapType.StructOpsMap && (flags & MAP_FLAGS.BPF_F_LINK[0]) !== 0) structOpsLinkMaps();
}
