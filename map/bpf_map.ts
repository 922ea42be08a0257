/**
 * BpfMap: a map in the kernel, owned through its file descriptor.
 *
 * @module
 */

import {
  allocBuffer,
  Attr,
  bpf,
  BpfCmd,
  bpfErrno,
  bpfError,
  type Mapping,
  mmap,
  munmap,
  pageSize,
  possibleCpus,
} from "../ffi.ts";
import { FD } from "../_internal/fd.ts";
import { fdById } from "../_internal/object_ids.ts";
import { fdInfoNumber, readFdInfo } from "../_internal/fdinfo.ts";
import { withNamedType } from "../_internal/named_type.ts";
import { type LoadPinOptions, openPinnedFd, pinFd, unpinPath } from "../_internal/pin.ts";
import { copyBytes } from "../_internal/byte_pool.ts";
import { Errno, KeyNotExistError, SyscallError } from "../errors.ts";
import { BtfHandle } from "../btf/handle.ts";
import { Int, type Type } from "../btf/types.ts";
import { sizeof, underlyingType } from "../btf/helpers.ts";
import { HOST_BYTE_ORDER } from "../asm/mod.ts";
import type { MapSpec } from "./map_spec.ts";
import { enumOption } from "../_internal/enum_option.ts";
import { handOverHint, refuseStructuredClone } from "../_internal/clone_guard.ts";
import {
  type Codec,
  codecFor,
  hasKernelManagedFields,
  hasValueRepresentation,
  isBtfType,
} from "./codec.ts";
import { isPerCPU, MapType, mapTypeName } from "./map_type.ts";
import {
  BPF_F_ALL_CPUS,
  BPF_F_CPU,
  perCpuElemFlags,
  requireMapFeatures,
} from "./map_type_probe.ts";
import { structOpsTarget } from "./_struct_ops.ts";
import { runCloseHooks } from "./_close_hooks.ts";
import { BatchCursor, type EntryBatch, readBatchAt } from "./batch_cursor.ts";
import {
  BPF_F_MMAPABLE,
  type CreateFields,
  type FixedMapSpec,
  fixupMapSpec,
  type HostFacts,
  sizeIsFixed,
} from "./_create_fixups.ts";

/** Flags of map updates (`BPF_ANY`, `BPF_NOEXIST`, `BPF_EXIST`, `BPF_F_LOCK`). */
export const UpdateFlags = {
  Any: 0n,
  NoExist: 1n,
  Exist: 2n,
  Lock: 4n,
} as const;

/**
 * A key or value: raw bytes, or a number or bigint encoded in host order by size; with BTF
 * types, also whatever the type's codec encodes (objects for structs, arrays, strings for
 * char arrays, enumerator names).
 */
export type MapData =
  | Uint8Array
  | number
  | bigint
  | string
  | boolean
  | readonly unknown[]
  | { readonly [member: string]: unknown };

const BPF_F_NUMA_NODE = 1 << 2;
/** `BPF_F_VTYPE_BTF_OBJ_FD`: `value_type_btf_obj_fd` holds the module BTF of a struct_ops. */
const BPF_F_VTYPE_BTF_OBJ_FD = 1 << 15;
const PROT_READ = 1;
const PROT_WRITE = 2;
const MAP_SHARED = 1;
/** `MAP_FIXED_NOREPLACE`: at the address asked for, or fail (EEXIST) rather than replace. */
const MAP_FIXED_NOREPLACE = 0x100000;
/** What EPERM from an update means once the process has CAP_BPF. */
const FROZEN =
  "the map is frozen, or read-only for user space or through this fd (opened with readOnly)";
/** What EPERM from a lookup means once the process has CAP_BPF. */
const WRITE_ONLY =
  "the map is write-only for user space or through this fd (opened with writeOnly)";
const BPF_OBJ_NAME_LEN = 16;
/** `offsetofend(union bpf_attr, flags)` of the element commands. */
const ELEM_ATTR_SIZE = 32;
/** `sizeof(struct bpf_map_info)` up to `map_extra` (5.16); older kernels fill less. */
const MAP_INFO_SIZE = 88;

/**
 * Map types whose `entries()` use BPF_MAP_LOOKUP_BATCH (hash tables and arrays; Linux 5.6).
 * Others, and these on kernels that refuse a batch for the type, walk with nextkey+lookup.
 */
const BATCH_LOOKUP_TYPES: ReadonlySet<number> = new Set([
  MapType.Hash,
  MapType.PerCPUHash,
  MapType.LRUHash,
  MapType.LRUCPUHash,
  MapType.Array,
  MapType.PerCPUArray,
]);
/** What a kernel without batch lookup for a map type answers: EINVAL, ENOTSUPP, EOPNOTSUPP. */
const BATCH_REFUSED_ERRNOS: ReadonlySet<number> = new Set([
  Errno.EINVAL,
  Errno.ENOTSUPP,
  Errno.EOPNOTSUPP,
]);
/** Map types whose batch lookup this kernel refused: asked once per type and process. */
const batchLookupRefused = new Set<number>();
/** Entries per batch of `entries()`: few syscalls, and a bounded buffer held at a time. */
const ENTRIES_BATCH = 1024;
/** At most this many bytes of keys (or of values) per batch of `entries()`. */
const BATCH_BYTES = 1 << 20;
/** `lookupBatch` makes room for this many bytes of entries at first, at most. */
const BATCH_RESULT_BYTES = 16 << 20;

/** Map types that hold other maps. */
const MAP_IN_MAP_TYPES: ReadonlySet<number> = new Set([MapType.ArrayOfMaps, MapType.HashOfMaps]);

/** What the kernel reports about a map (`struct bpf_map_info`). */
export interface MapInfo {
  /** The map type. */
  type: MapType;
  /** The kernel-wide id of the map. */
  id: number;
  /** Key size in bytes. */
  keySize: number;
  /** Value size in bytes (per CPU for per-CPU maps). */
  valueSize: number;
  /** Capacity. */
  maxEntries: number;
  /** `BPF_F_*` creation flags. */
  flags: number;
  /** The name as the kernel keeps it (at most 15 characters). */
  name: string;
  /** The id of the map's BTF object, 0 without BTF. */
  btfId: number;
  /** The BTF type id of the key. */
  btfKeyTypeId: number;
  /** The BTF type id of the value. */
  btfValueTypeId: number;
  /** struct_ops maps: the id of the value type (`bpf_struct_ops_<name>`) in kernel BTF. */
  btfVmlinuxValueTypeId: number;
  /** `map_extra` (bloom filter hashes, arena address). */
  mapExtra: bigint;
  /** struct_ops maps: the id of the kernel BTF object (vmlinux or a module) holding the value type (6.9). */
  btfVmlinuxId: number;
  /** The device a map offloaded to a NIC is bound to, 0 otherwise. */
  ifindex: number;
  /** Device number of the offload device's network namespace (offloaded maps). */
  netnsDev: bigint;
  /** Inode of the offload device's network namespace (offloaded maps). */
  netnsIno: bigint;
  /**
   * Whether the map is frozen ({@linkcode BpfMap.freeze}): user space can no longer write
   * it. Read from `/proc/self/fdinfo`, as bpftool does; undefined when that cannot be read
   * (no `--allow-read`).
   */
  frozen: boolean | undefined;
  /**
   * Bytes of memory the map is charged for, as bpftool's `bytes_memlock` (from
   * `/proc/self/fdinfo`); undefined when that cannot be read.
   */
  memlock: number | undefined;
}

/** Options of {@linkcode BpfMap.create}. */
export interface MapCreateOptions {
  /** An existing map to use as the inner map template, instead of `spec.innerMap`. */
  innerMap?: BpfMap;
  /**
   * The fd of loaded BTF and the type ids of key and value in it. For struct_ops maps,
   * `vmlinuxValueTypeId` is the id of `bpf_struct_ops_<name>` in kernel BTF (found in
   * vmlinux from `spec.value` when not given) and `valueTypeBtfObjFd` the fd of the
   * module BTF that holds it, for a struct_ops a module registers.
   */
  btf?: {
    fd: number;
    keyTypeId: number;
    valueTypeId: number;
    vmlinuxValueTypeId?: number;
    valueTypeBtfObjFd?: number;
  };
  /**
   * Keep keys and values as raw bytes even when the spec has BTF types (the BTF is still
   * given to the kernel).
   */
  raw?: boolean;
  /**
   * Write `spec.contents` into the new map and, when `spec.freeze` is set, freeze it
   * (default true), as cilium/ebpf's `NewMap` does. Collections pass false: they write the
   * contents themselves once the programs and maps that entries name exist.
   */
  contents?: boolean;
}

/** The key and value codecs of a map with BTF types. */
interface Codecs {
  key: Codec | undefined;
  value: Codec | undefined;
}

/** Keeps the characters the kernel accepts in object names (alphanumerics, `_` and `.`). */
export function sanitizeName(name: string): string {
  return name.replace(/[^A-Za-z0-9_.]/g, "").slice(0, BPF_OBJ_NAME_LEN - 1);
}

/**
 * A map in the kernel. Calls are synchronous bpf() syscalls; each map keeps one attr and
 * key/value scratch buffers of its own so that lookups and updates allocate nothing but
 * their result.
 *
 * @example
 * ```ts ignore
 * using counts = BpfMap.create(new MapSpec({ type: MapType.Array, keySize: 4, valueSize: 8, maxEntries: 4 }));
 * counts.update(1, 42n);
 * console.log(counts.lookup(1)); // Uint8Array of 8 bytes
 * ```
 */
export class BpfMap {
  readonly #fd: FD;
  /** The map's type. */
  readonly type: MapType;
  /** Size of a key in bytes. */
  readonly keySize: number;
  /** Size of one value in bytes (per CPU, for per-CPU maps). */
  readonly valueSize: number;
  /** Capacity of the map. */
  readonly maxEntries: number;
  /** Creation flags. */
  readonly flags: number;
  /** `map_extra`: a bloom filter's hash count, an arena's user-space address (0: any). */
  readonly mapExtra: bigint;
  /** The name the map was created with (as the kernel keeps it). */
  readonly name: string;
  /** Bytes of a whole value as user space sees it: per-CPU maps hold one per possible CPU. */
  readonly fullValueSize: number;

  /** Scratch attr for the less frequent commands. */
  readonly #attr = new Attr();
  /**
   * The element-command attr: fd, key and value pointers written once, at construction.
   * Only the 32 bytes up to `flags` are passed, as libbpf does: the kernel zeroes the rest
   * and skips checking a tail of zeros, which saves ~8% of a lookup.
   */
  readonly #elem = new Attr(ELEM_ATTR_SIZE);
  /** The flags the element attr holds, and whether they are other than 0. */
  #elemFlags = 0n;
  #elemFlagsSet = false;
  /** The delete attr: the kernel wants the value field zero for BPF_MAP_DELETE_ELEM. */
  readonly #del = new Attr(ELEM_ATTR_SIZE);
  readonly #key: Uint8Array;
  readonly #value: Uint8Array;
  readonly #nextKey: Uint8Array;
  readonly #keyView: DataView;
  /** A u32 view of 4-byte keys, for the number fast path. */
  readonly #keyU32: Uint32Array | undefined;
  readonly #valueView: DataView;
  /** A u64 view of 8-byte values, for the bigint fast path. */
  readonly #valueU64: BigUint64Array | undefined;

  /**
   * The codecs, or how to make them on first use: a map opened from the kernel would
   * otherwise fetch and parse its BTF before anyone asks for more than bytes.
   */
  #codecs: Codecs | (() => Codecs);

  /** The codec of keys, when the map has a BTF key type (see `codec.ts`). */
  get keyCodec(): Codec | undefined {
    return this.#resolveCodecs().key;
  }

  /** The codec of values, when the map has a BTF value type. */
  get valueCodec(): Codec | undefined {
    return this.#resolveCodecs().value;
  }

  #resolveCodecs(): Codecs {
    const c = this.#codecs;
    return typeof c === "function" ? (this.#codecs = c()) : c;
  }

  private constructor(
    fd: FD,
    info: Pick<
      MapInfo,
      "type" | "keySize" | "valueSize" | "maxEntries" | "flags" | "name" | "mapExtra"
    >,
    codecs: Codecs | (() => Codecs) = { key: undefined, value: undefined },
  ) {
    this.#fd = fd;
    refuseStructuredClone(
      this,
      "BpfMap",
      handOverHint("map.clone().releaseFd()", "BpfMap.fromFd"),
    );
    this.type = info.type;
    this.keySize = info.keySize;
    this.valueSize = info.valueSize;
    this.maxEntries = info.maxEntries;
    this.flags = info.flags;
    this.mapExtra = info.mapExtra;
    this.name = info.name;
    this.#codecs = codecs;
    this.fullValueSize = isPerCPU(info.type)
      ? roundUp8(info.valueSize) * possibleCpus()
      : info.valueSize;
    // Off-heap buffers (stable addresses), written into the attr once.
    this.#key = allocBuffer(Math.max(this.keySize, 1));
    this.#nextKey = allocBuffer(Math.max(this.keySize, 1));
    this.#value = allocBuffer(Math.max(this.fullValueSize, 1));
    this.#keyView = new DataView(this.#key.buffer);
    // Host order, which is the kernel's; the DataView path writes little-endian, the same on
    // every host this library runs on today.
    this.#keyU32 = this.keySize === 4 && LITTLE_ENDIAN
      ? new Uint32Array(this.#key.buffer)
      : undefined;
    this.#valueView = new DataView(this.#value.buffer);
    this.#valueU64 = this.fullValueSize === 8 && LITTLE_ENDIAN
      ? new BigUint64Array(this.#value.buffer)
      : undefined;
    this.#elem.u32(0, fd.raw).pointer(8, this.keySize ? this.#key : null).pointer(16, this.#value);
    this.#del.u32(0, fd.raw).pointer(8, this.keySize ? this.#key : null);
  }

  /**
   * Creates a map from `spec`. Throws {@linkcode NotSupportedError} when the kernel lacks
   * the map type, and a {@linkcode SyscallError} (with the kernel's errno) otherwise.
   *
   * The spec is fixed up as libbpf and cilium/ebpf fix map definitions at load, the spec
   * itself left unchanged: sizes the map type fixes are filled in (a perf event array's 4
   * and 4, whatever `__type()` said); a perf event array or cpumap of 0 entries gets one per
   * possible CPU; a ring buffer's size is rounded up to a power-of-2 number of pages; flags
   * the type requires are added (an arena's `BPF_F_MMAPABLE`); BTF type ids are given only
   * to types that take them. The map's fields report what was created. What cannot be fixed
   * (a perf event array of 8-byte values, a storage map with max_entries) is a RangeError.
   *
   * When `spec.value` (and `spec.key`) are BTF types and `options.btf` is not given, the
   * types are written as BTF, loaded, and named in the map: the kernel then knows the
   * layout (spin locks and timers need it; `bpftool map dump` shows fields), and keys and
   * values go through codecs. A kernel that refuses the BTF gets the map without it, unless
   * the value holds kernel-managed fields such as a `struct bpf_spin_lock`.
   *
   * `spec.contents` are written and `spec.freeze` applied unless `options.contents` is
   * false; a failure there closes the map and throws.
   *
   * A struct_ops map (`MapType.StructOpsMap`) takes its value type from the kernel: the
   * spec's value is a BTF struct named like the kernel's (`tcp_congestion_ops`), and the
   * map is created with `bpf_struct_ops_<name>` from vmlinux BTF and that type's size.
   */
  static create(spec: MapSpec, options: MapCreateOptions = {}): BpfMap {
    enumOption(spec.type, `type of map "${spec.name}"`, MapType, "MapType");
    if (spec.type === MapType.StructOpsMap) return BpfMap.#createStructOps(spec, options);
    if (!options.raw) checkTypeSizes(spec);
    const fixed = fixupMapSpec(spec, HOST);
    const fields = fixed.fields;
    const codecs = options.raw ? () => NO_CODECS : lazyCodecs(fixed);
    let inner: BpfMap | undefined;
    let ownInner = false;
    if (MAP_IN_MAP_TYPES.has(spec.type)) {
      inner = options.innerMap;
      if (!inner) {
        if (!spec.innerMap) {
          throw new TypeError(
            `Map "${spec.name}" of type ${mapTypeName(spec.type)} needs an inner map`,
          );
        }
        inner = BpfMap.create(spec.innerMap);
        ownInner = true;
      }
    }
    let handle: BtfHandle | undefined;
    try {
      let btf = kernelBtf(options.btf, fixed);
      const needsBtf = fixed.btfValue && hasKernelManagedFields(fixed.value);
      if (!options.btf && fixed.btfValue) {
        try {
          const key = fixed.btfKey ? fixed.key : undefined;
          const value = fixed.value!;
          handle = BtfHandle.load(key ? [key, value] : [value]);
          btf = {
            fd: handle.fd,
            keyTypeId: key ? handle.typeId(key) ?? 0 : 0,
            valueTypeId: handle.typeId(value) ?? 0,
          };
        } catch (e) {
          if (needsBtf) throw e;
          // Without BTF the map still works; only the kernel's view of the layout is lost.
        }
      }
      let r = createMap(fields, inner, btf);
      if (r < 0 && handle && !needsBtf && (r === -Errno.EINVAL || r === -Errno.ENOTSUPP)) {
        // The kernel refused the types for this map (an older kernel, or a key type it
        // does not accept for the map type): try without them before reporting.
        const again = createMap(fields, inner, undefined);
        if (again >= 0) r = again;
      }
      if (r < 0) throw createError(fields, -r);
      const map = new BpfMap(new FD(r, "BpfMap"), {
        ...fields,
        name: sanitizeName(spec.name),
      }, codecs);
      if (options.contents !== false) {
        try {
          map.#populate(spec);
        } catch (e) {
          map.close();
          throw e;
        }
      }
      return map;
    } finally {
      handle?.close();
      if (ownInner) inner?.close();
    }
  }

  /**
   * A struct_ops map: its value is the kernel's `bpf_struct_ops_<name>` wrapper, named by
   * `btf_vmlinux_value_type_id`, and its size is the wrapper's whatever the spec says (the
   * spec's value type is the object's view of the inner struct). The kernel wants a BTF fd
   * of the caller's own but no key or value type ids; without `options.btf` a one-type BTF
   * serves, as the kernel reads nothing from it. Keys are 4 bytes and there is one entry.
   * Values stay raw bytes: the wrapper holds pointers, which no codec represents; the
   * spec's contents are not written (its values are the object's view, and need programs).
   */
  static #createStructOps(spec: MapSpec, options: MapCreateOptions): BpfMap {
    let vmlinuxValueTypeId = options.btf?.vmlinuxValueTypeId;
    let valueSize = spec.valueSize;
    if (!vmlinuxValueTypeId) {
      const target = structOpsTarget(spec.name, spec.value);
      vmlinuxValueTypeId = target.typeId;
      valueSize = target.size;
    }
    const fields: CreateFields = {
      ...spec,
      keySize: spec.keySize || 4,
      valueSize,
      maxEntries: spec.maxEntries || 1,
    };
    using handle = options.btf ? undefined : BtfHandle.load([new Int("int", 4, 1)]);
    const r = createMap(fields, undefined, {
      fd: options.btf?.fd ?? handle!.fd,
      keyTypeId: 0,
      valueTypeId: 0,
      vmlinuxValueTypeId,
      valueTypeBtfObjFd: options.btf?.valueTypeBtfObjFd,
    });
    if (r < 0) throw createError(fields, -r);
    return new BpfMap(new FD(r, "BpfMap"), { ...fields, name: sanitizeName(spec.name) });
  }

  /**
   * Writes a spec's initial entries and freezes the map when the spec says so. Program
   * arrays and maps of maps take objects with an fd (a `Program`, a `BpfMap`); names of
   * programs or maps are a TypeError here, as only a collection knows what they refer to.
   */
  #populate(spec: MapSpec): void {
    const holdsFds = spec.type === MapType.ProgramArray || MAP_IN_MAP_TYPES.has(spec.type);
    for (const { key, value } of spec.contents) {
      let v = value;
      if (holdsFds) {
        if (typeof v === "string") {
          throw new TypeError(
            `Map "${spec.name}": the entry "${v}" names an object: ` +
              "load the spec in a collection, or give the object itself",
          );
        }
        if (typeof v === "object" && v !== null && !(v instanceof Uint8Array) && "fd" in v) {
          v = (v as { fd: unknown }).fd;
        }
      }
      this.update(key as MapData, v as MapData);
    }
    if (spec.freeze) this.freeze();
  }

  /** Takes ownership of an fd that refers to a map. */
  static fromFd(fd: number): BpfMap {
    const owner = new FD(fd, "BpfMap");
    try {
      const info = mapInfo(owner.raw);
      return new BpfMap(owner, info, () => kernelCodecs(info));
    } catch (e) {
      owner.close();
      throw e;
    }
  }

  /** Opens the map with kernel id `id` (BPF_MAP_GET_FD_BY_ID). */
  static fromId(id: number): BpfMap {
    return BpfMap.fromFd(fdById(BpfCmd.MAP_GET_FD_BY_ID, id, "map"));
  }

  /**
   * Opens a map pinned in bpffs at `path`; `options` can open it read-only or write-only.
   *
   * @example
   * ```ts ignore
   * using counts = BpfMap.loadPinned("/sys/fs/bpf/counts", { readOnly: true });
   * ```
   */
  static loadPinned(path: string, options?: LoadPinOptions): BpfMap {
    return BpfMap.fromFd(openPinnedFd(path, "map", options));
  }

  /** The raw fd. Throws {@linkcode ClosedError} after `close()`. */
  get fd(): number {
    return this.#fd.raw;
  }

  /** Whether the map's fd has been closed. */
  get closed(): boolean {
    return this.#fd.closed;
  }

  /**
   * Closes this handle; the map lives on while programs, pins or other fds hold it. A view
   * from {@linkcode BpfMap.mmap} is unmapped (its buffer detached) first.
   */
  close(): void {
    this.#retire();
    this.#fd.close();
    runCloseHooks(this); // readers of this handle end their pending waits
  }

  /**
   * Gives up this handle's fd without closing it and returns its number, for a new owner:
   * a Worker (which shares the process's descriptors) that opens it with
   * {@linkcode BpfMap.fromFd}, the same way it would take any fd. This handle is closed
   * afterwards, as after `close()`. A BpfMap itself cannot be posted to a Worker: posting
   * one throws a TypeError.
   *
   * @example
   * ```ts ignore
   * worker.postMessage(map.clone().releaseFd()); // the worker: BpfMap.fromFd(event.data)
   * ```
   */
  releaseFd(): number {
    this.#fd.raw; // throws ClosedError after close()
    this.#retire();
    const fd = this.#fd.release();
    runCloseHooks(this); // as after close(): readers of this handle end their waits
    return fd;
  }

  /** What closing does besides closing the fd. */
  #retire(): void {
    if (this.#mapping) {
      munmap(this.#mapping);
      this.#mapping = undefined;
    }
    // The element attrs then name fd -1, which the kernel refuses with EBADF before doing
    // anything, so hot paths need not check for close on every call: a failure does, and
    // reports ClosedError (see #fail).
    this.#elem.u32(0, CLOSED_FD);
    this.#del.u32(0, CLOSED_FD);
  }

  #mapping: Mapping | undefined;

  /**
   * A live, writable view of the map's memory, shared with programs without syscalls: their
   * writes show through at once and writes to the view are seen by them.
   *
   * - An array map created with `BPF_F_MMAPABLE` (flag `1 << 10`): its values, element `i`
   *   at byte `i * roundUp8(valueSize)`.
   * - An arena (`MapType.Arena`): its `maxEntries` pages, mapped at `mapExtra` when that is
   *   not 0 (as libbpf maps it; the kernel requires that address) and anywhere otherwise.
   *   Pointers programs store in the arena are addresses in this mapping (see
   *   {@linkcode BpfMap.mappedAddress}). Pages are allocated on first touch.
   *
   * The same view is returned on each call; `close()` unmaps it (the buffer is detached, so
   * a stray view cannot touch unmapped memory).
   */
  mmap(): Uint8Array {
    this.#fd.raw; // throws ClosedError after close()
    const isArena = this.type === MapType.Arena;
    if (!isArena && (this.type !== MapType.Array || (this.flags & BPF_F_MMAPABLE) === 0)) {
      throw new TypeError(
        `Map "${this.name}" is neither an arena nor an array map created with BPF_F_MMAPABLE`,
      );
    }
    const page = pageSize();
    const bytes = isArena ? this.maxEntries * page : roundUp8(this.valueSize) * this.maxEntries;
    if (!this.#mapping) {
      const length = Math.ceil(bytes / page) * page;
      // A fixed address must not replace whatever the process already has there.
      const at = isArena ? this.mapExtra : 0n;
      const flags = MAP_SHARED | (at !== 0n ? MAP_FIXED_NOREPLACE : 0);
      this.#mapping = mmap(length, PROT_READ | PROT_WRITE, flags, this.fd, 0n, at);
    }
    return new Uint8Array(this.#mapping.buffer, 0, bytes);
  }

  /** The user-space address of the view {@linkcode BpfMap.mmap} made; undefined before. */
  get mappedAddress(): bigint | undefined {
    return this.#mapping ? BigInt(Deno.UnsafePointer.value(this.#mapping.pointer)) : undefined;
  }

  /** Closes the map at the end of a `using` scope. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** A new, independent handle to the same map. */
  clone(): BpfMap {
    return new BpfMap(this.#fd.dup(), this, () => this.#resolveCodecs());
  }

  /** What the kernel reports about the map. */
  info(): MapInfo {
    return mapInfo(this.fd, true);
  }

  /** Pins the map at `path` in bpffs. */
  pin(path: string): void {
    pinFd(this.fd, path, "map");
  }

  /**
   * Removes the pin of a map at `path`. Only a pinned map on a bpffs is removed: a path
   * elsewhere, a directory, a symbolic link or a pinned program is a TypeError and stays.
   */
  static unpin(path: string): void {
    unpinPath(path, "map");
  }

  /** Makes the map read-only for user space (BPF_MAP_FREEZE). */
  freeze(): void {
    bpf(BpfCmd.MAP_FREEZE, new Attr().u32(0, this.fd));
  }

  #encode(
    data: MapData,
    into: Uint8Array,
    view: DataView,
    size: number,
    what: string,
    isKey: boolean,
  ): void {
    if (data instanceof Uint8Array) {
      if (data.byteLength !== size) {
        throw new RangeError(
          `${what} of map "${this.name}" must be ${size} bytes, got ${data.byteLength}`,
        );
      }
      copySmall(data, into, size);
      return;
    }
    if (isKey && (typeof data === "number" || typeof data === "bigint")) this.#checkIntKey(data);
    if (typeof data === "number") {
      if (!Number.isInteger(data)) throw new TypeError(`${what} must be an integer, got ${data}`);
      switch (size) {
        case 1:
          view.setUint8(0, data);
          return;
        case 2:
          view.setUint16(0, data, true);
          return;
        case 4:
          if (data < -(2 ** 31) || data > 2 ** 32 - 1) {
            throw new RangeError(`${what} ${data} does not fit in 4 bytes`);
          }
          view.setUint32(0, data >>> 0, true);
          return;
        case 8:
          if (Number.isSafeInteger(data)) {
            // Two 32-bit halves, two's complement for negatives: no BigInt to allocate.
            const hi = Math.floor(data / 2 ** 32);
            view.setUint32(0, data - hi * 2 ** 32, true);
            view.setUint32(4, hi >>> 0, true);
            return;
          }
          view.setBigUint64(0, BigInt.asUintN(64, BigInt(data)), true);
          return;
      }
    } else if (typeof data === "bigint" && size === 8) {
      view.setBigUint64(0, BigInt.asUintN(64, data), true);
      return;
    }
    // Only now: bytes and integers need no codec, and codecs are made on first use.
    const codec = isKey ? this.keyCodec : this.valueCodec;
    if (codec) {
      codec.encode(data, view, into, 0, what);
      return;
    }
    throw new TypeError(
      `${what} of map "${this.name}" is ${size} bytes without BTF types: pass a Uint8Array` +
        (size <= 8 ? " or an integer" : "") + `, got ${typeof data}`,
    );
  }

  /**
   * Refuses, before any syscall, integer keys that would be stored as another key: a
   * negative one for unsigned keys (two's complement turns -1 into 4294967295), a bigint for
   * keys narrower than 8 bytes.
   */
  #checkIntKey(key: number | bigint): void {
    if (typeof key === "bigint" && this.keySize < 8) {
      throw new TypeError(
        `Key ${key}n of map "${this.name}" is a bigint: its ${this.keySize}-byte keys take a number`,
      );
    }
    if (key < 0) {
      const t = this.keyCodec === undefined
        ? undefined
        : underlyingType(this.keyCodec.type as Type);
      if (!(t instanceof Int && t.signed)) {
        throw new TypeError(`Key ${key} of map "${this.name}" is negative: its keys are unsigned`);
      }
    }
  }

  #setKey(key: MapData): void {
    // The hot case of hot loops: a u32 index or key, written without a DataView call.
    const u32 = this.#keyU32;
    if (u32 !== undefined && typeof key === "number" && key >>> 0 === key) {
      u32[0] = key;
      return;
    }
    this.#encode(key, this.#key, this.#keyView, this.keySize, "Key", true);
  }

  /**
   * The element-command attr with `flags` (undefined for none). The flags field is written
   * only when it changes: hot loops pass none and pay one comparison.
   */
  #elemAttr(flags: bigint | undefined): Attr {
    if (flags === undefined ? this.#elemFlagsSet : flags !== this.#elemFlags) {
      const f = flags ?? 0n;
      this.#elem.u64(24, f);
      this.#elemFlags = f;
      this.#elemFlagsSet = f !== 0n;
    }
    return this.#elem;
  }

  /**
   * The error for element command `cmd` failing with `-r`: ClosedError once the map is
   * closed (its attrs then name fd -1 and the kernel said EBADF), else as the kernel said.
   */
  #fail(cmd: number, r: number, reason?: string): Error {
    this.#fd.raw; // throws ClosedError after close()
    if (cmd === BpfCmd.MAP_UPDATE_ELEM && -r === Errno.E2BIG) {
      // E2BIG: an index past the end of an array-like map, or a full hash map.
      const detail = INDEXED_MAPS.has(this.type)
        ? `key ${new DataView(this.#key.buffer).getUint32(0, LITTLE_ENDIAN)} is past the ` +
          `array's max_entries ${this.maxEntries} (keys are 0 to ${this.maxEntries - 1})`
        : `map "${this.name}" is full at max_entries ${this.maxEntries}: delete entries or ` +
          "create it with a larger maxEntries";
      return new SyscallError("BPF_MAP_UPDATE_ELEM", Errno.E2BIG, detail);
    }
    return bpfError(cmd, -r, reason);
  }

  /**
   * The value stored under `key`, or `undefined` when the map has no such key. Without a
   * BTF value type it is a copy of the bytes (a view into a shared buffer: mind its
   * `byteOffset`); for per-CPU maps it holds every CPU's value at an 8-byte stride. With a
   * BTF value type it is decoded (see {@linkcode BpfMap.valueCodec}); per-CPU maps then give
   * an array of one decoded value per possible CPU. `V` is the type the caller expects: it
   * is not checked. `flags`: `UpdateFlags.Lock` (`BPF_F_LOCK`) copies a value that holds a
   * `bpf_spin_lock` out under its lock; for one CPU of a per-CPU map see
   * {@linkcode BpfMap.lookupOnCPU}.
   */
  lookup<V = Uint8Array>(key: MapData, flags?: bigint): V | undefined {
    this.#setKey(key);
    const r = bpfErrno(BpfCmd.MAP_LOOKUP_ELEM, this.#elemAttr(flags));
    if (r < 0) {
      if (r === NEG_ENOENT) return undefined;
      throw this.#fail(BpfCmd.MAP_LOOKUP_ELEM, r, WRITE_ONLY);
    }
    return this.#valueOut() as V;
  }

  /** The bytes of the value under `key` (never decoded), or `undefined` when absent. */
  lookupBytes(key: MapData, flags?: bigint): Uint8Array | undefined {
    this.#setKey(key);
    const r = bpfErrno(BpfCmd.MAP_LOOKUP_ELEM, this.#elemAttr(flags));
    if (r < 0) {
      if (r === NEG_ENOENT) return undefined;
      throw this.#fail(BpfCmd.MAP_LOOKUP_ELEM, r, WRITE_ONLY);
    }
    return copyBytes(this.#value, 0, this.fullValueSize);
  }

  /** The value in the scratch buffer, decoded when the map has a codec, else copied. */
  #valueOut(): unknown {
    const codec = this.valueCodec;
    if (!codec) return copyBytes(this.#value, 0, this.fullValueSize);
    if (this.fullValueSize === this.valueSize) {
      return codec.decode(this.#valueView, this.#value, 0);
    }
    const stride = roundUp8(this.valueSize);
    return Array.from(
      { length: this.fullValueSize / stride },
      (_, cpu) => codec.decode(this.#valueView, this.#value, cpu * stride),
    );
  }

  #keyOut(bytes: Uint8Array): unknown {
    const codec = this.keyCodec;
    if (!codec) return copyBytes(bytes, 0, this.keySize);
    return codec.decode(new DataView(bytes.buffer, bytes.byteOffset), bytes, 0);
  }

  /**
   * Looks up `key` and copies the value into `out` (zero-copy for hot loops). Returns false
   * when the key is absent.
   */
  lookupInto(key: MapData, out: Uint8Array, flags?: bigint): boolean {
    const n = this.fullValueSize;
    if (out.byteLength < n) throw new RangeError(`Output buffer must hold ${n} bytes`);
    this.#setKey(key);
    const r = bpfErrno(BpfCmd.MAP_LOOKUP_ELEM, this.#elemAttr(flags));
    if (r < 0) {
      if (r === NEG_ENOENT) return false;
      throw this.#fail(BpfCmd.MAP_LOOKUP_ELEM, r, WRITE_ONLY);
    }
    copySmall(this.#value, out, n);
    return true;
  }

  /** Per-CPU maps: the value of `key` on each possible CPU, or `undefined` when absent. */
  lookupPerCPU(key: MapData): Uint8Array[] | undefined {
    if (!isPerCPU(this.type)) {
      throw new TypeError(`Map "${this.name}" (${mapTypeName(this.type)}) is not per-CPU`);
    }
    const all = this.lookupBytes(key);
    if (!all) return undefined;
    const stride = roundUp8(this.valueSize);
    return Array.from(
      { length: all.length / stride },
      (_, cpu) => all.slice(cpu * stride, cpu * stride + this.valueSize),
    );
  }

  /**
   * Per-CPU maps: the value of `key` on `cpu` alone (`BPF_F_CPU`, Linux 7.0), as one
   * CPU's value (decoded through the map's BTF where it has one); `undefined` when absent.
   * Kernels without the flag give {@linkcode NotSupportedError}.
   */
  lookupOnCPU<V = Uint8Array>(key: MapData, cpu: number): V | undefined {
    const value = allocBuffer(this.valueSize);
    const r = this.#perCpuElem(BpfCmd.MAP_LOOKUP_ELEM, key, value, BPF_F_CPU, cpu);
    if (r === NEG_ENOENT) return undefined;
    if (r < 0) throw this.#fail(BpfCmd.MAP_LOOKUP_ELEM, r, WRITE_ONLY);
    const codec = this.valueCodec;
    return (codec ? codec.decode(new DataView(value.buffer), value, 0) : value) as V;
  }

  /**
   * Per-CPU maps: stores one CPU's `value` under `key` on `cpu` alone (`BPF_F_CPU`, Linux
   * 7.0), leaving the other CPUs' values as they are. `flags`: {@linkcode UpdateFlags}.
   */
  updateOnCPU(key: MapData, value: MapData, cpu: number, flags: bigint = UpdateFlags.Any): void {
    const r = this.#perCpuElem(
      BpfCmd.MAP_UPDATE_ELEM,
      key,
      this.#oneCpuValue(value),
      flags | BPF_F_CPU,
      cpu,
    );
    if (r < 0) throw this.#fail(BpfCmd.MAP_UPDATE_ELEM, r, FROZEN);
  }

  /**
   * Per-CPU maps: stores the one `value` under `key` on every CPU (`BPF_F_ALL_CPUS`, Linux
   * 7.0), without building a value per CPU. `flags`: {@linkcode UpdateFlags}.
   */
  updateAllCPUs(key: MapData, value: MapData, flags: bigint = UpdateFlags.Any): void {
    const r = this.#perCpuElem(
      BpfCmd.MAP_UPDATE_ELEM,
      key,
      this.#oneCpuValue(value),
      flags | BPF_F_ALL_CPUS,
    );
    if (r < 0) throw this.#fail(BpfCmd.MAP_UPDATE_ELEM, r, FROZEN);
  }

  /** One CPU's value of a per-CPU map, encoded into a buffer of its own. */
  #oneCpuValue(value: MapData): Uint8Array {
    const bytes = allocBuffer(this.valueSize);
    this.#encode(value, bytes, new DataView(bytes.buffer), this.valueSize, "Value", false);
    return bytes;
  }

  /**
   * An element command with `BPF_F_CPU` (and `cpu` in the flags' upper half) or
   * `BPF_F_ALL_CPUS`, on a value buffer that holds one CPU's value; the negated errno.
   */
  #perCpuElem(cmd: number, key: MapData, value: Uint8Array, flags: bigint, cpu?: number): number {
    if (!isPerCPU(this.type)) {
      throw new TypeError(`Map "${this.name}" (${mapTypeName(this.type)}) is not per-CPU`);
    }
    if (cpu !== undefined && (!Number.isInteger(cpu) || cpu < 0 || cpu >= possibleCpus())) {
      throw new RangeError(`Invalid CPU ${cpu}: possible CPUs are 0 to ${possibleCpus() - 1}`);
    }
    perCpuElemFlags();
    this.#setKey(key);
    const attr = new Attr()
      .u32(0, this.fd)
      .pointer(8, this.#key)
      .pointer(16, value)
      .u64(24, cpu === undefined ? flags : flags | (BigInt(cpu) << 32n));
    return bpfErrno(cmd, attr);
  }

  /**
   * Stores `value` under `key`. `flags`: {@linkcode UpdateFlags}. With `NoExist`, an existing
   * key throws {@linkcode KeyExistError}; with `Exist`, an absent one {@linkcode KeyNotExistError}.
   * For per-CPU maps pass every CPU's value (8-byte stride), or an array of per-CPU values.
   */
  update(key: MapData, value: MapData | readonly unknown[], flags?: bigint): void {
    this.#setKey(key);
    this.#setValue(value);
    const r = bpfErrno(BpfCmd.MAP_UPDATE_ELEM, this.#elemAttr(flags));
    if (r < 0) throw this.#fail(BpfCmd.MAP_UPDATE_ELEM, r, FROZEN);
  }

  #setValue(value: MapData | readonly unknown[]): void {
    // The hot cases first: bytes of the exact size, and a u64 as a bigint.
    const n = this.fullValueSize;
    if (value instanceof Uint8Array && value.byteLength === n) {
      copySmall(value, this.#value, n);
      return;
    }
    const u64 = this.#valueU64;
    if (u64 !== undefined && typeof value === "bigint") {
      u64[0] = value; // stored modulo 2^64, as BigInt.asUintN(64, value) would be
      return;
    }
    // An object for a BTF value (a struct's): straight to the codec, whose encode checks its
    // shape and gives the errors; bytes of a wrong size and per-CPU arrays go on below.
    if (
      typeof value === "object" && value !== null && n === this.valueSize &&
      !(value instanceof Uint8Array)
    ) {
      const codec = this.valueCodec;
      if (codec !== undefined) {
        codec.encode(value, this.#valueView, this.#value, 0, "Value");
        return;
      }
    }
    if (Array.isArray(value) && this.fullValueSize !== this.valueSize) {
      const stride = roundUp8(this.valueSize);
      if (value.length * stride !== this.fullValueSize) {
        throw new RangeError(
          `Map "${this.name}" needs ${
            this.fullValueSize / stride
          } per-CPU values, got ${value.length}`,
        );
      }
      this.#value.fill(0);
      const codec = this.valueCodec;
      value.forEach((v: unknown, cpu: number) => {
        if (v instanceof Uint8Array) {
          if (v.byteLength !== this.valueSize) {
            throw new RangeError(
              `Per-CPU value must be ${this.valueSize} bytes, got ${v.byteLength}`,
            );
          }
          this.#value.set(v, cpu * stride);
        } else if (codec) {
          codec.encode(v, this.#valueView, this.#value, cpu * stride, `Value[${cpu}]`);
        } else {
          throw new TypeError(`Per-CPU value ${cpu} must be a Uint8Array`);
        }
      });
      return;
    }
    this.#encode(value, this.#value, this.#valueView, this.fullValueSize, "Value", false);
  }

  /** Deletes `key`. Returns false when it was absent. */
  delete(key: MapData): boolean {
    this.#setKey(key);
    const r = bpfErrno(BpfCmd.MAP_DELETE_ELEM, this.#del);
    if (r < 0) {
      if (r === NEG_ENOENT) return false;
      throw this.#fail(BpfCmd.MAP_DELETE_ELEM, r, FROZEN);
    }
    return true;
  }

  /** Looks up `key`, deletes it, and returns its value; `undefined` when absent. */
  lookupAndDelete<V = Uint8Array>(key: MapData): V | undefined {
    this.#setKey(key);
    const r = bpfErrno(BpfCmd.MAP_LOOKUP_AND_DELETE_ELEM, this.#elemAttr(undefined));
    if (r < 0) {
      if (r === NEG_ENOENT) return undefined;
      throw this.#fail(BpfCmd.MAP_LOOKUP_AND_DELETE_ELEM, r);
    }
    return this.#valueOut() as V;
  }

  /**
   * The key after `key` in the kernel's order, or the first key when `key` is undefined;
   * `undefined` at the end.
   */
  nextKey<K = Uint8Array>(key?: MapData): K | undefined {
    const next = this.#nextKeyRaw(key);
    return next === undefined ? undefined : this.#keyOut(next) as K;
  }

  #nextKeyRaw(key?: MapData): Uint8Array | undefined {
    const attr = this.#attr.u32(0, this.fd).pointer(16, this.#nextKey).u64(24, 0n);
    if (key === undefined) {
      attr.pointer(8, null);
    } else {
      this.#setKey(key);
      attr.pointer(8, this.#key);
    }
    const r = bpfErrno(BpfCmd.MAP_GET_NEXT_KEY, attr);
    if (r === -Errno.ENOENT) return undefined;
    if (r < 0) throw bpfError(BpfCmd.MAP_GET_NEXT_KEY, -r);
    return copyBytes(this.#nextKey, 0, this.keySize);
  }

  /**
   * Every key, in the kernel's order. Deleting entries while walking is safe: when the
   * current key disappears the kernel restarts from the first key, and keys already seen
   * are skipped, so each live key is visited once.
   */
  *keys<K = Uint8Array>(): Generator<K> {
    for (const key of this.#rawKeys()) yield this.#keyOut(key) as K;
  }

  /**
   * Every key as its bytes, never decoded (as {@linkcode BpfMap.lookupBytes} gives values),
   * in the kernel's order, with the guarantees of {@linkcode BpfMap.keys}: a dump shows a
   * key's padding as the kernel holds it, which decoding and encoding again would lose.
   */
  keyBytes(): Generator<Uint8Array> {
    return this.#rawKeys();
  }

  *#rawKeys(): Generator<Uint8Array> {
    const seen = new Set<string>();
    let key = this.#nextKeyRaw();
    let restarts = 0;
    while (key !== undefined) {
      const id = hex(key);
      if (seen.has(id)) {
        // A restart after a deletion: keep going past what was seen, but never forever.
        if (++restarts > this.maxEntries + 1) {
          throw new Error(`Iteration of map "${this.name}" did not finish: entries keep changing`);
        }
      } else {
        seen.add(id);
        yield key;
      }
      key = this.#nextKeyRaw(key);
    }
  }

  /**
   * Every entry as `[key, value]`, decoded as {@linkcode BpfMap.lookup} decodes. Lazy: hash
   * and array maps are read a batch at a time (BPF_MAP_LOOKUP_BATCH, up to 1024 entries per
   * syscall), other maps, and kernels without batches for the type, by a nextkey+lookup
   * walk. The map may change during the walk: an entry deleted before its batch is read (or
   * its lookup, in a walk) is skipped, and no entry is given twice unless it is deleted and
   * stored again.
   */
  entries<K = Uint8Array, V = Uint8Array>(): Generator<[K, V]> {
    // One generator per entry handed out: a yield* between two costs more than the syscall.
    return BATCH_LOOKUP_TYPES.has(this.type) && !batchLookupRefused.has(this.type)
      ? this.#batchEntries<K, V>()
      : this.#walkEntries<K, V>();
  }

  /** The entries by a nextkey+lookup walk, two syscalls each. */
  *#walkEntries<K, V>(): Generator<[K, V]> {
    for (const key of this.#rawKeys()) {
      const value = this.lookup<V>(key);
      if (value !== undefined) yield [this.#keyOut(key) as K, value];
    }
  }

  /**
   * The entries by BPF_MAP_LOOKUP_BATCH, a batch of up to {@linkcode ENTRIES_BATCH} per
   * syscall where a nextkey+lookup walk makes two per entry. Each batch gets fresh buffers,
   * so keys and values handed out are views that nothing writes again. When the kernel
   * refuses batches for this map type (remembered for the type) it walks instead.
   */
  #batchEntries<K, V>(): Generator<[K, V]> {
    const keySize = this.keySize;
    const valueSize = this.fullValueSize;
    let size = Math.min(
      Math.max(this.maxEntries, 1),
      Math.max(16, Math.min(ENTRIES_BATCH, Math.floor(BATCH_BYTES / Math.max(keySize, valueSize)))),
    );
    const cursor = new BatchCursor(this);
    let first = true;
    const fetch = (): WalkBatch | undefined => {
      for (;;) {
        try {
          const batch = cursor.read(size);
          first = false;
          return { ...batch, last: cursor.done };
        } catch (e) {
          if (!(e instanceof SyscallError)) throw e;
          if (first && BATCH_REFUSED_ERRNOS.has(e.errno)) {
            batchLookupRefused.add(this.type);
            return undefined;
          }
          // A hash bucket holds more entries than the batch: retry it with room for them.
          if (e.errno === Errno.ENOSPC && size < this.maxEntries) {
            size = Math.min(size * 2, this.maxEntries);
            continue;
          }
          throw e;
        }
      }
    };
    // A raw key or value is a view made inline by the iterator; a decoded one goes through
    // its codec. Codecs are resolved once per walk, not once per entry.
    const keyCodec = this.keyCodec;
    const valueCodec = this.valueCodec;
    const perCpuCodec = valueCodec !== undefined && valueSize !== this.valueSize;
    return new BatchEntries<K, V>(
      fetch,
      keySize,
      valueSize,
      keyCodec,
      perCpuCodec ? undefined : valueCodec,
      perCpuCodec
        ? (view, bytes, offset) => this.#perCpuValues(valueCodec, view, bytes, offset)
        : undefined,
      () => this.#walkEntries<K, V>(),
    );
  }

  /** Every CPU's value at `offset` of `bytes`, decoded, as {@linkcode BpfMap.lookup} gives them. */
  #perCpuValues(codec: Codec, view: DataView, bytes: Uint8Array, offset: number): unknown[] {
    const stride = roundUp8(this.valueSize);
    return Array.from(
      { length: this.fullValueSize / stride },
      (_, cpu) => codec.decode(view, bytes, offset + cpu * stride),
    );
  }

  /** Same as {@linkcode BpfMap.entries}. */
  [Symbol.iterator](): Generator<[Uint8Array, Uint8Array]> {
    return this.entries();
  }

  /**
   * Queue and stack maps: adds `value` (BPF_EXIST overwrites the oldest when full). Bloom
   * filters: adds `value` to the set.
   */
  push(value: MapData, flags: bigint = UpdateFlags.Any): void {
    this.#setValue(value);
    const attr = this.#attr.u32(0, this.fd).pointer(8, null).pointer(16, this.#value).u64(
      24,
      flags,
    );
    const r = bpfErrno(BpfCmd.MAP_UPDATE_ELEM, attr);
    if (r < 0) throw bpfError(BpfCmd.MAP_UPDATE_ELEM, -r);
  }

  /** Queue and stack maps: removes and returns the next value, `undefined` when empty. */
  pop<V = Uint8Array>(): V | undefined {
    return this.#keyless(BpfCmd.MAP_LOOKUP_AND_DELETE_ELEM) as V | undefined;
  }

  /** Queue and stack maps: the next value without removing it, `undefined` when empty. */
  peek<V = Uint8Array>(): V | undefined {
    return this.#keyless(BpfCmd.MAP_LOOKUP_ELEM) as V | undefined;
  }

  /**
   * Bloom filter maps: whether `value` may be in the set (`push` adds to it). A false answer
   * is certain; a true one is wrong with the filter's false-positive rate.
   */
  has(value: MapData): boolean {
    if (this.type !== MapType.BloomFilter) {
      throw new TypeError(`Map "${this.name}" (${mapTypeName(this.type)}) is not a bloom filter`);
    }
    this.#setValue(value);
    // The kernel reads the value to test from the value pointer of BPF_MAP_LOOKUP_ELEM.
    return this.#keylessCall(BpfCmd.MAP_LOOKUP_ELEM);
  }

  #keyless(cmd: number): unknown {
    return this.#keylessCall(cmd) ? this.#valueOut() : undefined;
  }

  /** A keyless element command on the value buffer; false when the kernel says ENOENT. */
  #keylessCall(cmd: number): boolean {
    const attr = this.#attr.u32(0, this.fd).pointer(8, null).pointer(16, this.#value).u64(24, 0n);
    const r = bpfErrno(cmd, attr);
    if (r === NEG_ENOENT) return false;
    if (r < 0) throw bpfError(cmd, -r);
    return true;
  }

  /**
   * Batch lookup (BPF_MAP_LOOKUP_BATCH): every entry in chunks of `batchSize`, with one
   * syscall per chunk (a chunk grows when a hash bucket holds more). Returns keys and
   * values as contiguous arrays of `count` entries each: views at offset 0 of buffers that
   * may be longer (the room the kernel was given), so read them through the views, not
   * their `buffer`. {@linkcode BatchCursor} walks in steps the caller controls.
   */
  lookupBatch(
    batchSize = 4096,
    deleteToo = false,
  ): { keys: Uint8Array; values: Uint8Array; count: number } {
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new RangeError(`Invalid batch size of map "${this.name}": ${batchSize}`);
    }
    const cursor = new BatchCursor(this);
    const ks = this.keySize;
    const vs = this.fullValueSize;
    // The kernel writes each chunk straight into the result, which has room for a full map
    // at once (capped): a buffer per chunk and a concatenation at the end were two more
    // passes over fresh memory, ≈69 of the ≈72 ns per entry the library itself took. Room
    // for a full chunk past the last entry too: the kernel may fill one.
    let capacity = batchSize +
      Math.min(this.maxEntries, Math.floor(BATCH_RESULT_BYTES / Math.max(ks + vs, 1)));
    let keys = allocBuffer(capacity * ks);
    let values = allocBuffer(capacity * vs);
    let total = 0;
    let size = batchSize;
    while (!cursor.done) {
      if (capacity - total < size) {
        // Grow for a full chunk: entries added during the walk, or a map past the cap.
        capacity = Math.max(capacity * 2, total + size);
        keys = grown(keys, capacity * ks, total * ks);
        values = grown(values, capacity * vs, total * vs);
      }
      try {
        total += readBatchAt(cursor, keys, values, total, size, { delete: deleteToo });
      } catch (e) {
        if (e instanceof SyscallError && e.errno === Errno.ENOSPC && size < this.maxEntries) {
          size = Math.min(size * 2, this.maxEntries);
          continue;
        }
        throw e;
      }
    }
    if (total * 2 < capacity) {
      // Mostly empty: keep only what holds entries.
      return { keys: keys.slice(0, total * ks), values: values.slice(0, total * vs), count: total };
    }
    return {
      keys: keys.subarray(0, total * ks),
      values: values.subarray(0, total * vs),
      count: total,
    };
  }

  /** Batch update (BPF_MAP_UPDATE_BATCH) of `count` entries from contiguous arrays. */
  updateBatch(keys: Uint8Array, values: Uint8Array, flags: bigint = UpdateFlags.Any): number {
    const count = keys.byteLength / this.keySize;
    if (!Number.isInteger(count) || values.byteLength !== count * this.fullValueSize) {
      throw new RangeError(
        `Batch of map "${this.name}" needs keys of ${this.keySize} B and values of ${this.fullValueSize} B each`,
      );
    }
    const k = allocBuffer(keys.byteLength);
    k.set(keys);
    const v = allocBuffer(values.byteLength);
    v.set(values);
    const attr = new Attr().pointer(16, k).pointer(24, v).u32(32, count).u32(36, this.fd)
      .u64(40, flags);
    bpf(BpfCmd.MAP_UPDATE_BATCH, attr);
    return attr.getU32(32);
  }

  /** Batch delete (BPF_MAP_DELETE_BATCH) of the keys in a contiguous array. */
  deleteBatch(keys: Uint8Array): number {
    const count = keys.byteLength / this.keySize;
    if (!Number.isInteger(count)) throw new RangeError(`Keys must be ${this.keySize} B each`);
    const k = allocBuffer(keys.byteLength);
    k.set(keys);
    const attr = new Attr().pointer(16, k).u32(32, count).u32(36, this.fd);
    const r = bpfErrno(BpfCmd.MAP_DELETE_BATCH, attr);
    if (r === -Errno.ENOENT) throw new KeyNotExistError("BPF_MAP_DELETE_BATCH");
    if (r < 0) throw bpfError(BpfCmd.MAP_DELETE_BATCH, -r);
    return attr.getU32(32);
  }
}

/** One batch of entries, and whether the map ended with it. */
interface WalkBatch extends EntryBatch {
  last: boolean;
}

/**
 * `entries()` over batches: one batch fetched per syscall, one entry handed out per
 * `next()`. An object rather than a generator: a generator's resume costs a good part of
 * what an entry does, and entries are what a batch makes cheap.
 */
class BatchEntries<K, V> extends Iterator<[K, V], undefined, undefined>
  implements Generator<[K, V], undefined, undefined> {
  readonly #fetch: () => WalkBatch | undefined;
  readonly #keySize: number;
  readonly #valueSize: number;
  /** Decodes keys; undefined: keys are views of the batch's bytes. */
  readonly #keyCodec: Codec | undefined;
  /** Decodes values; undefined: values are views, unless #decodeValue decodes them. */
  readonly #valueCodec: Codec | undefined;
  /** Decodes the values of per-CPU maps (one value per CPU). */
  readonly #decodeValue:
    | ((view: DataView, bytes: Uint8Array, offset: number) => unknown)
    | undefined;
  readonly #walk: () => Generator<[K, V]>;
  #keys: Uint8Array = EMPTY;
  #values: Uint8Array = EMPTY;
  /** The batch's buffers themselves: `.buffer` is a getter call per read. */
  #keyBuffer: ArrayBufferLike = EMPTY.buffer;
  #valueBuffer: ArrayBufferLike = EMPTY.buffer;
  #keyView: DataView = new DataView(EMPTY.buffer);
  #valueView: DataView = new DataView(EMPTY.buffer);
  #at = 0;
  #count = 0;
  #last = false;
  /** The nextkey+lookup walk, once the kernel refused a batch. */
  #fallback: Generator<[K, V]> | undefined;

  constructor(
    fetch: () => WalkBatch | undefined,
    keySize: number,
    valueSize: number,
    keyCodec: Codec | undefined,
    valueCodec: Codec | undefined,
    decodeValue: ((view: DataView, bytes: Uint8Array, offset: number) => unknown) | undefined,
    walk: () => Generator<[K, V]>,
  ) {
    super();
    this.#fetch = fetch;
    this.#keySize = keySize;
    this.#valueSize = valueSize;
    this.#keyCodec = keyCodec;
    this.#valueCodec = valueCodec;
    this.#decodeValue = decodeValue;
    this.#walk = walk;
  }

  next(): IteratorResult<[K, V], undefined> {
    // One result literal for every outcome: V8 then elides the result where `for … of`
    // inlines next(), where two (an entry's, and the end's or the walk's) made it allocate
    // one per entry, ≈12% of what a walk allocated (and so of its garbage collections).
    let entry: [K, V] | undefined;
    if (this.#at < this.#count || this.#nextBatch()) {
      const i = this.#at++;
      // Each batch has buffers of its own that nothing writes again: views of them are the
      // caller's to keep (their byteOffset is i × size, the buffers' own is 0).
      const ks = this.#keySize;
      const vs = this.#valueSize;
      const kc = this.#keyCodec;
      const vc = this.#valueCodec;
      const key = kc === undefined
        ? new Uint8Array(this.#keyBuffer, i * ks, ks)
        : kc.decode(this.#keyView, this.#keys, i * ks);
      const value = vc !== undefined
        ? vc.decode(this.#valueView, this.#values, i * vs)
        : this.#decodeValue === undefined
        ? new Uint8Array(this.#valueBuffer, i * vs, vs)
        : this.#decodeValue(this.#valueView, this.#values, i * vs);
      entry = [key as K, value as V];
    } else if (this.#fallback !== undefined) {
      const step = this.#fallback.next();
      if (!step.done) entry = step.value;
    }
    return { done: entry === undefined, value: entry } as IteratorResult<[K, V], undefined>;
  }

  /**
   * Fetches batches until one holds entries: true when it does, false at the end of the map
   * or once the kernel refused a batch (the walk then gives the rest).
   */
  #nextBatch(): boolean {
    for (;;) {
      if (this.#fallback !== undefined) return false;
      if (this.#last) {
        this.return();
        return false;
      }
      const batch = this.#fetch();
      if (batch === undefined) {
        this.#fallback = this.#walk();
        return false;
      }
      this.#keys = batch.keys;
      this.#values = batch.values;
      this.#keyBuffer = batch.keys.buffer;
      this.#valueBuffer = batch.values.buffer;
      this.#keyView = new DataView(this.#keyBuffer);
      this.#valueView = new DataView(this.#valueBuffer);
      this.#at = 0;
      this.#count = batch.count;
      this.#last = batch.last;
      if (this.#count > 0) return true;
    }
  }

  /** Ends the walk (a `break` out of `for … of` calls it). */
  override return(): IteratorResult<[K, V], undefined> {
    this.#fallback?.return(undefined);
    this.#last = true;
    this.#at = this.#count = 0;
    this.#keys = this.#values = EMPTY;
    this.#keyBuffer = this.#valueBuffer = EMPTY.buffer;
    return { done: true, value: undefined };
  }

  /** Ends the walk and rethrows `error`. */
  override throw(error: unknown): IteratorResult<[K, V], undefined> {
    this.return();
    throw error;
  }

  override [Symbol.iterator](): this {
    return this;
  }

  /** Ends the walk at the end of a `using` scope. */
  override [Symbol.dispose](): void {
    this.return();
  }
}

const EMPTY = new Uint8Array(0);

/** Writes the attr of BPF_MAP_CREATE and calls it; returns the fd or a negated errno. */
function createMap(
  spec: CreateFields,
  inner: BpfMap | undefined,
  btf: MapCreateOptions["btf"],
): number {
  const attr = new Attr()
    .u32(0, spec.type)
    .u32(4, spec.keySize)
    .u32(8, spec.valueSize)
    .u32(12, spec.maxEntries)
    .u32(16, spec.flags | (spec.numaNode ? BPF_F_NUMA_NODE : 0))
    .u32(20, inner ? inner.fd : 0)
    .u32(24, spec.numaNode)
    .u64(64, spec.mapExtra);
  attr.bytes.set(new TextEncoder().encode(sanitizeName(spec.name)), 28);
  if (btf) {
    attr.u32(48, btf.fd)
      .u32(52, btf.keyTypeId)
      .u32(56, btf.valueTypeId)
      .u32(60, btf.vmlinuxValueTypeId ?? 0);
    if (btf.valueTypeBtfObjFd !== undefined) {
      attr.u32(16, attr.getU32(16) | BPF_F_VTYPE_BTF_OBJ_FD).i32(72, btf.valueTypeBtfObjFd);
    }
  }
  return bpfErrno(BpfCmd.MAP_CREATE, attr);
}

/** The error for a failed BPF_MAP_CREATE: NotSupportedError when the type is missing. */
function createError(spec: CreateFields, errno: number): Error {
  if (errno === Errno.EINVAL || errno === Errno.ENOTSUPP) requireMapFeatures(spec.type, spec.flags);
  return bpfError(
    BpfCmd.MAP_CREATE,
    errno,
    undefined,
    `map "${spec.name}" (${mapTypeName(spec.type)}, key ${spec.keySize} B, ` +
      `value ${spec.valueSize} B, ${spec.maxEntries} entries)`,
  );
}

/**
 * A spec whose BTF type is not the size of its key or value is a RangeError at once, even
 * when the codec would be made later; unless the map type fixes that size, and the type
 * describes what the map carries rather than its slots.
 */
function checkTypeSizes(spec: MapSpec): void {
  if (!sizeIsFixed(spec.type, "key")) checkTypeSize(spec, spec.key, spec.keySize, "key");
  if (!sizeIsFixed(spec.type, "value")) {
    checkTypeSize(spec, spec.value, spec.valueSize, "value");
  }
}

const NO_CODECS: Codecs = { key: undefined, value: undefined };

/**
 * The codecs of the types that still describe the created map's keys and values, made on
 * first use: a map whose keys and values stay bytes never pays for them.
 */
function lazyCodecs(fixed: FixedMapSpec): () => Codecs {
  const { key, value, fields } = fixed;
  return () => ({ key: specCodec(key, fields.keySize), value: specCodec(value, fields.valueSize) });
}

/**
 * The BTF a caller gave, with the type ids the map type does not take zeroed; none at all
 * when no id is left (the kernel then needs no BTF fd either).
 */
function kernelBtf(
  btf: MapCreateOptions["btf"],
  fixed: FixedMapSpec,
): MapCreateOptions["btf"] {
  if (!btf) return undefined;
  const keyTypeId = fixed.btfKey ? btf.keyTypeId : 0;
  const valueTypeId = fixed.btfValue ? btf.valueTypeId : 0;
  if (keyTypeId === 0 && valueTypeId === 0) return undefined;
  return { ...btf, keyTypeId, valueTypeId };
}

/** The host facts the fix-ups ask for. */
const HOST: HostFacts = { possibleCpus, pageSize };

/**
 * A spec as `BpfMap.create` gives it to the kernel (sizes, entries and flags fixed up as the
 * map type requires): what a map reused from a pin must match.
 */
export function createFieldsOf(spec: MapSpec): CreateFields {
  return spec.type === MapType.StructOpsMap ? spec : fixupMapSpec(spec, HOST).fields;
}

/** Types a codec can be made for: sized scalars, pointers, arrays and structs or unions. */
function checkTypeSize(spec: MapSpec, type: unknown, size: number, what: string): void {
  if (!isBtfType(type) || size === 0) return;
  if (!hasValueRepresentation(type as Type)) return;
  let n: number;
  try {
    n = sizeof(type as Type);
  } catch {
    return; // No size (an array of functions and the like): no codec either.
  }
  if (n !== size) {
    throw new RangeError(
      `Map "${spec.name}": the ${what} type ${type} is ${n} bytes, but the ${what} size is ${size}`,
    );
  }
}

function specCodec(type: unknown, size: number): Codec | undefined {
  if (!isBtfType(type) || size === 0) return undefined;
  try {
    const codec = codecFor(type);
    return codec.size === size ? codec : undefined;
  } catch {
    // Types without a value representation (function pointers' targets and the like) keep
    // raw bytes.
    return undefined;
  }
}

/** Codecs from the BTF the kernel keeps for an existing map; none when it has none. */
function kernelCodecs(info: MapInfo): Codecs {
  const none = { key: undefined, value: undefined };
  if (info.btfId === 0 || info.btfValueTypeId === 0) return none;
  try {
    using handle = BtfHandle.fromId(info.btfId);
    const types = handle.spec();
    const codec = (id: number, size: number) => {
      if (id === 0 || size === 0) return undefined;
      const c = codecFor(types.typeById(id));
      return c.size === size ? c : undefined;
    };
    return {
      key: codec(info.btfKeyTypeId, info.keySize),
      value: codec(info.btfValueTypeId, info.valueSize),
    };
  } catch {
    // BTF that needs kernel BTF as its base, or types without a codec: raw bytes.
    return none;
  }
}

/**
 * BPF_OBJ_GET_INFO_BY_FD of a map fd, decoded; with `fdinfo`, also what only
 * `/proc/self/fdinfo` reports (frozen, memlock), which opening a map does not need.
 */
function mapInfo(fd: number, fdinfo = false): MapInfo {
  const buf = allocBuffer(MAP_INFO_SIZE);
  const attr = new Attr().u32(0, fd).u32(4, MAP_INFO_SIZE).pointer(8, buf);
  bpf(BpfCmd.OBJ_GET_INFO_BY_FD, attr);
  const v = new DataView(buf.buffer);
  const nameBytes = buf.subarray(24, 40);
  const end = nameBytes.indexOf(0);
  const info: MapInfo = {
    type: v.getUint32(0, true) as MapType,
    id: v.getUint32(4, true),
    keySize: v.getUint32(8, true),
    valueSize: v.getUint32(12, true),
    maxEntries: v.getUint32(16, true),
    flags: v.getUint32(20, true),
    name: new TextDecoder().decode(nameBytes.subarray(0, end < 0 ? 16 : end)),
    btfId: v.getUint32(64, true),
    btfKeyTypeId: v.getUint32(68, true),
    btfValueTypeId: v.getUint32(72, true),
    btfVmlinuxValueTypeId: v.getUint32(44, true),
    mapExtra: v.getBigUint64(80, true),
    btfVmlinuxId: v.getUint32(76, true),
    ifindex: v.getUint32(40, true),
    netnsDev: v.getBigUint64(48, true),
    netnsIno: v.getBigUint64(56, true),
    frozen: undefined,
    memlock: undefined,
  };
  if (fdinfo) {
    const fields = readFdInfo(fd);
    const frozen = fdInfoNumber(fields, "frozen");
    info.frozen = frozen === undefined ? undefined : frozen !== 0;
    info.memlock = fdInfoNumber(fields, "memlock");
  }
  return withNamedType(info, "MapInfo", "MapType", MapType);
}

/** What an element attr names as fd once the map is closed: an fd no process can have. */
const CLOSED_FD = 0xffffffff;
/** `-ENOENT`, as bpfErrno returns it: the answer of hot lookups for an absent key. */
const NEG_ENOENT = -Errno.ENOENT;

const LITTLE_ENDIAN = HOST_BYTE_ORDER === "little";

/** Maps keyed by an index below max_entries: the kernel refuses updates past it with E2BIG. */
const INDEXED_MAPS = new Set<number>([
  MapType.Array,
  MapType.PerCPUArray,
  MapType.ProgramArray,
  MapType.PerfEventArray,
  MapType.CgroupArray,
  MapType.ArrayOfMaps,
  MapType.DevMap,
  MapType.SockMap,
  MapType.CPUMap,
  MapType.XSKMap,
  MapType.ReusePortSockArray,
]);

/**
 * Copies `n` bytes from the start of `from` to the start of `to`. A byte loop beats
 * `TypedArray.prototype.set` for the few bytes of typical keys and values.
 */
function copySmall(from: Uint8Array, to: Uint8Array, n: number): void {
  if (n === 8) {
    // The commonest value size, unrolled: 2 ns against 5–7 ns for the loop.
    to[0] = from[0];
    to[1] = from[1];
    to[2] = from[2];
    to[3] = from[3];
    to[4] = from[4];
    to[5] = from[5];
    to[6] = from[6];
    to[7] = from[7];
    return;
  }
  if (n > 32) {
    to.set(n === from.length ? from : from.subarray(0, n));
    return;
  }
  for (let i = 0; i < n; i++) to[i] = from[i];
}

function roundUp8(n: number): number {
  return (n + 7) & ~7;
}

function hex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

/** A buffer of `size` bytes (off-heap, for the kernel) holding the first `used` of `from`. */
function grown(from: Uint8Array, size: number, used: number): Uint8Array {
  const to = allocBuffer(size);
  to.set(from.subarray(0, used));
  return to;
}
