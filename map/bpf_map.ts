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
  cString,
  possibleCpus,
} from "../ffi.ts";
import { FD } from "../_internal/fd.ts";
import { copyBytes } from "../_internal/byte_pool.ts";
import { Errno, KeyNotExistError, SyscallError } from "../errors.ts";
import type { MapSpec } from "./map_spec.ts";
import { MapType, mapTypeName } from "./map_type.ts";
import { requireMapType } from "./map_type_probe.ts";

/** Flags of map updates (`BPF_ANY`, `BPF_NOEXIST`, `BPF_EXIST`, `BPF_F_LOCK`). */
export const UpdateFlags = {
  Any: 0n,
  NoExist: 1n,
  Exist: 2n,
  Lock: 4n,
} as const;

/** A key or value: raw bytes, or a number or bigint encoded little-endian by size. */
export type MapData = Uint8Array | number | bigint;

const BPF_F_NUMA_NODE = 1 << 2;
/** What EPERM from an update means once the process has CAP_BPF. */
const FROZEN = "the map is frozen or read-only for user space";
const BPF_OBJ_NAME_LEN = 16;
const MAP_INFO_SIZE = 88;

/** Map types whose values are stored once per possible CPU, each padded to 8 bytes. */
const PER_CPU_TYPES: ReadonlySet<number> = new Set([
  MapType.PerCPUHash,
  MapType.PerCPUArray,
  MapType.LRUCPUHash,
  MapType.PerCPUCgroupStorage,
]);

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
  /** `map_extra` (bloom filter hashes, arena address). */
  mapExtra: bigint;
}

/** Options of {@linkcode BpfMap.create}. */
export interface MapCreateOptions {
  /** An existing map to use as the inner map template, instead of `spec.innerMap`. */
  innerMap?: BpfMap;
  /** The fd of loaded BTF and the type ids of key and value in it. */
  btf?: { fd: number; keyTypeId: number; valueTypeId: number; vmlinuxValueTypeId?: number };
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
  /** The name the map was created with (as the kernel keeps it). */
  readonly name: string;
  /** Bytes of a whole value as user space sees it: per-CPU maps hold one per possible CPU. */
  readonly fullValueSize: number;

  /** Scratch attr for the less frequent commands. */
  readonly #attr = new Attr();
  /** The element-command attr: fd, key and value pointers written once, at construction. */
  readonly #elem = new Attr();
  #elemFlags = 0n;
  /** The delete attr: the kernel wants the value field zero for BPF_MAP_DELETE_ELEM. */
  readonly #del = new Attr();
  readonly #key: Uint8Array;
  readonly #value: Uint8Array;
  readonly #nextKey: Uint8Array;
  readonly #keyView: DataView;
  readonly #valueView: DataView;

  private constructor(
    fd: FD,
    info: Pick<MapInfo, "type" | "keySize" | "valueSize" | "maxEntries" | "flags" | "name">,
  ) {
    this.#fd = fd;
    this.type = info.type;
    this.keySize = info.keySize;
    this.valueSize = info.valueSize;
    this.maxEntries = info.maxEntries;
    this.flags = info.flags;
    this.name = info.name;
    this.fullValueSize = PER_CPU_TYPES.has(info.type)
      ? roundUp8(info.valueSize) * possibleCpus()
      : info.valueSize;
    // Off-heap buffers (stable addresses), written into the attr once.
    this.#key = allocBuffer(Math.max(this.keySize, 1));
    this.#nextKey = allocBuffer(Math.max(this.keySize, 1));
    this.#value = allocBuffer(Math.max(this.fullValueSize, 1));
    this.#keyView = new DataView(this.#key.buffer);
    this.#valueView = new DataView(this.#value.buffer);
    this.#elem.u32(0, fd.raw).pointer(8, this.keySize ? this.#key : null).pointer(16, this.#value);
    this.#del.u32(0, fd.raw).pointer(8, this.keySize ? this.#key : null);
  }

  /**
   * Creates a map from `spec`. Throws {@linkcode NotSupportedError} when the kernel lacks
   * the map type, and a {@linkcode SyscallError} (with the kernel's errno) otherwise.
   */
  static create(spec: MapSpec, options: MapCreateOptions = {}): BpfMap {
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
    try {
      const name = sanitizeName(spec.name);
      const attr = new Attr()
        .u32(0, spec.type)
        .u32(4, spec.keySize)
        .u32(8, spec.valueSize)
        .u32(12, spec.maxEntries)
        .u32(16, spec.flags | (spec.numaNode ? BPF_F_NUMA_NODE : 0))
        .u32(20, inner ? inner.fd : 0)
        .u32(24, spec.numaNode)
        .u64(64, spec.mapExtra);
      attr.bytes.set(new TextEncoder().encode(name), 28);
      if (options.btf) {
        attr.u32(48, options.btf.fd)
          .u32(52, options.btf.keyTypeId)
          .u32(56, options.btf.valueTypeId)
          .u32(60, options.btf.vmlinuxValueTypeId ?? 0);
      }
      const r = bpfErrno(BpfCmd.MAP_CREATE, attr);
      if (r < 0) {
        const errno = -r;
        if (errno === Errno.EINVAL || errno === Errno.ENOTSUPP) requireMapType(spec.type);
        throw new SyscallError(
          "BPF_MAP_CREATE",
          errno,
          `map "${spec.name}" (${mapTypeName(spec.type)}, key ${spec.keySize} B, ` +
            `value ${spec.valueSize} B, ${spec.maxEntries} entries)`,
        );
      }
      return new BpfMap(new FD(r, "BpfMap"), {
        type: spec.type,
        keySize: spec.keySize,
        valueSize: spec.valueSize,
        maxEntries: spec.maxEntries,
        flags: spec.flags,
        name,
      });
    } finally {
      if (ownInner) inner?.close();
    }
  }

  /** Takes ownership of an fd that refers to a map. */
  static fromFd(fd: number): BpfMap {
    const owner = new FD(fd, "BpfMap");
    try {
      const info = mapInfo(owner.raw);
      return new BpfMap(owner, info);
    } catch (e) {
      owner.close();
      throw e;
    }
  }

  /** Opens the map with kernel id `id` (BPF_MAP_GET_FD_BY_ID). */
  static fromId(id: number): BpfMap {
    return BpfMap.fromFd(bpf(BpfCmd.MAP_GET_FD_BY_ID, new Attr().u32(0, id)));
  }

  /** Opens a map pinned in bpffs at `path`. */
  static loadPinned(path: string): BpfMap {
    return BpfMap.fromFd(bpf(BpfCmd.OBJ_GET, new Attr().pointer(0, cString(path))));
  }

  /** The raw fd. Throws {@linkcode ClosedError} after `close()`. */
  get fd(): number {
    return this.#fd.raw;
  }

  /** Whether the map's fd has been closed. */
  get closed(): boolean {
    return this.#fd.closed;
  }

  /** Closes this handle; the map lives on while programs, pins or other fds hold it. */
  close(): void {
    this.#fd.close();
  }

  /** Closes the map at the end of a `using` scope. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** A new, independent handle to the same map. */
  clone(): BpfMap {
    return new BpfMap(this.#fd.dup(), this);
  }

  /** What the kernel reports about the map. */
  info(): MapInfo {
    return mapInfo(this.fd);
  }

  /** Pins the map at `path` in bpffs. */
  pin(path: string): void {
    bpf(BpfCmd.OBJ_PIN, new Attr().pointer(0, cString(path)).u32(8, this.fd));
  }

  /** Removes a pin (any bpffs path). */
  static unpin(path: string): void {
    Deno.removeSync(path);
  }

  /** Makes the map read-only for user space (BPF_MAP_FREEZE). */
  freeze(): void {
    bpf(BpfCmd.MAP_FREEZE, new Attr().u32(0, this.fd));
  }

  #encode(data: MapData, into: Uint8Array, view: DataView, size: number, what: string): void {
    if (data instanceof Uint8Array) {
      if (data.byteLength !== size) {
        throw new RangeError(
          `${what} of map "${this.name}" must be ${size} bytes, got ${data.byteLength}`,
        );
      }
      into.set(data);
      return;
    }
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
          view.setBigUint64(0, BigInt.asUintN(64, BigInt(data)), true);
          return;
      }
    } else if (typeof data === "bigint" && size === 8) {
      view.setBigUint64(0, BigInt.asUintN(64, data), true);
      return;
    }
    throw new TypeError(
      `${what} of map "${this.name}" is ${size} bytes: pass a Uint8Array` +
        (size <= 8 ? " or an integer" : ""),
    );
  }

  #setKey(key: MapData): void {
    this.#encode(key, this.#key, this.#keyView, this.keySize, "Key");
  }

  /** The element-command attr with `flags`; throws once the map is closed. */
  #elemAttr(flags: bigint): Attr {
    this.#fd.raw; // throws ClosedError after close()
    if (flags !== this.#elemFlags) {
      this.#elem.u64(24, flags);
      this.#elemFlags = flags;
    }
    return this.#elem;
  }

  /**
   * The value stored under `key`, as a copy (a view into a shared buffer: mind its
   * `byteOffset`), or `undefined` when the map has no
   * such key. For per-CPU maps the array holds every CPU's value at an 8-byte stride.
   */
  lookup(key: MapData): Uint8Array | undefined {
    this.#setKey(key);
    const r = bpfErrno(BpfCmd.MAP_LOOKUP_ELEM, this.#elemAttr(0n));
    if (r === -Errno.ENOENT) return undefined;
    if (r < 0) throw bpfError(BpfCmd.MAP_LOOKUP_ELEM, -r);
    return copyBytes(this.#value, 0, this.fullValueSize);
  }

  /**
   * Looks up `key` and copies the value into `out` (zero-copy for hot loops). Returns false
   * when the key is absent.
   */
  lookupInto(key: MapData, out: Uint8Array, flags: bigint = 0n): boolean {
    if (out.byteLength < this.fullValueSize) {
      throw new RangeError(`Output buffer must hold ${this.fullValueSize} bytes`);
    }
    this.#setKey(key);
    const r = bpfErrno(BpfCmd.MAP_LOOKUP_ELEM, this.#elemAttr(flags));
    if (r === -Errno.ENOENT) return false;
    if (r < 0) throw bpfError(BpfCmd.MAP_LOOKUP_ELEM, -r);
    // #value is exactly fullValueSize long (or 1 byte for empty values): no view needed.
    if (this.fullValueSize > 0) out.set(this.#value);
    return true;
  }

  /** Per-CPU maps: the value of `key` on each possible CPU, or `undefined` when absent. */
  lookupPerCPU(key: MapData): Uint8Array[] | undefined {
    if (!PER_CPU_TYPES.has(this.type)) {
      throw new TypeError(`Map "${this.name}" (${mapTypeName(this.type)}) is not per-CPU`);
    }
    const all = this.lookup(key);
    if (!all) return undefined;
    const stride = roundUp8(this.valueSize);
    return Array.from(
      { length: all.length / stride },
      (_, cpu) => all.slice(cpu * stride, cpu * stride + this.valueSize),
    );
  }

  /**
   * Stores `value` under `key`. `flags`: {@linkcode UpdateFlags}. With `NoExist`, an existing
   * key throws {@linkcode KeyExistError}; with `Exist`, an absent one {@linkcode KeyNotExistError}.
   * For per-CPU maps pass every CPU's value (8-byte stride), or an array of per-CPU values.
   */
  update(key: MapData, value: MapData | Uint8Array[], flags: bigint = UpdateFlags.Any): void {
    this.#setKey(key);
    this.#setValue(value);
    const r = bpfErrno(BpfCmd.MAP_UPDATE_ELEM, this.#elemAttr(flags));
    if (r < 0) throw bpfError(BpfCmd.MAP_UPDATE_ELEM, -r, FROZEN);
  }

  #setValue(value: MapData | Uint8Array[]): void {
    if (Array.isArray(value)) {
      const stride = roundUp8(this.valueSize);
      if (value.length * stride !== this.fullValueSize) {
        throw new RangeError(
          `Map "${this.name}" needs ${
            this.fullValueSize / stride
          } per-CPU values, got ${value.length}`,
        );
      }
      this.#value.fill(0);
      value.forEach((v, cpu) => {
        if (v.byteLength !== this.valueSize) {
          throw new RangeError(
            `Per-CPU value must be ${this.valueSize} bytes, got ${v.byteLength}`,
          );
        }
        this.#value.set(v, cpu * stride);
      });
      return;
    }
    this.#encode(value, this.#value, this.#valueView, this.fullValueSize, "Value");
  }

  /** Deletes `key`. Returns false when it was absent. */
  delete(key: MapData): boolean {
    this.#setKey(key);
    this.#fd.raw; // throws ClosedError after close()
    const r = bpfErrno(BpfCmd.MAP_DELETE_ELEM, this.#del);
    if (r === -Errno.ENOENT) return false;
    if (r < 0) throw bpfError(BpfCmd.MAP_DELETE_ELEM, -r);
    return true;
  }

  /** Looks up `key`, deletes it, and returns its value; `undefined` when absent. */
  lookupAndDelete(key: MapData): Uint8Array | undefined {
    this.#setKey(key);
    const r = bpfErrno(BpfCmd.MAP_LOOKUP_AND_DELETE_ELEM, this.#elemAttr(0n));
    if (r === -Errno.ENOENT) return undefined;
    if (r < 0) throw bpfError(BpfCmd.MAP_LOOKUP_AND_DELETE_ELEM, -r);
    return copyBytes(this.#value, 0, this.fullValueSize);
  }

  /**
   * The key after `key` in the kernel's order, or the first key when `key` is undefined;
   * `undefined` at the end.
   */
  nextKey(key?: MapData): Uint8Array | undefined {
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
  *keys(): Generator<Uint8Array> {
    const seen = new Set<string>();
    let key = this.nextKey();
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
      key = this.nextKey(key);
    }
  }

  /** Every entry as `[key, value]`; entries deleted during the walk are skipped. */
  *entries(): Generator<[Uint8Array, Uint8Array]> {
    for (const key of this.keys()) {
      const value = this.lookup(key);
      if (value !== undefined) yield [key, value];
    }
  }

  /** Same as {@linkcode BpfMap.entries}. */
  [Symbol.iterator](): Generator<[Uint8Array, Uint8Array]> {
    return this.entries();
  }

  /** Queue and stack maps: adds `value` (BPF_EXIST overwrites the oldest when full). */
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
  pop(): Uint8Array | undefined {
    return this.#keyless(BpfCmd.MAP_LOOKUP_AND_DELETE_ELEM);
  }

  /** Queue and stack maps: the next value without removing it, `undefined` when empty. */
  peek(): Uint8Array | undefined {
    return this.#keyless(BpfCmd.MAP_LOOKUP_ELEM);
  }

  #keyless(cmd: number): Uint8Array | undefined {
    const attr = this.#attr.u32(0, this.fd).pointer(8, null).pointer(16, this.#value).u64(24, 0n);
    const r = bpfErrno(cmd, attr);
    if (r === -Errno.ENOENT) return undefined;
    if (r < 0) throw bpfError(cmd, -r);
    return copyBytes(this.#value, 0, this.fullValueSize);
  }

  /**
   * Batch lookup (BPF_MAP_LOOKUP_BATCH): every entry in chunks of `batchSize`, with one
   * syscall per chunk. Returns keys and values as contiguous arrays.
   */
  lookupBatch(
    batchSize = 4096,
    deleteToo = false,
  ): { keys: Uint8Array; values: Uint8Array; count: number } {
    const cmd = deleteToo ? BpfCmd.MAP_LOOKUP_AND_DELETE_BATCH : BpfCmd.MAP_LOOKUP_BATCH;
    const keys = allocBuffer(this.keySize * batchSize);
    const values = allocBuffer(this.fullValueSize * batchSize);
    // Hash maps use a bucket cursor the size of a key; arrays a u32 index. Give room for both.
    const cursorSize = Math.max(this.keySize, 8);
    const inBatch = allocBuffer(cursorSize);
    const outBatch = allocBuffer(cursorSize);
    const keyChunks: Uint8Array[] = [];
    const valueChunks: Uint8Array[] = [];
    let total = 0;
    const attr = new Attr();
    let first = true;
    for (;;) {
      attr.reset()
        .pointer(0, first ? null : inBatch)
        .pointer(8, outBatch)
        .pointer(16, keys)
        .pointer(24, values)
        .u32(32, batchSize)
        .u32(36, this.fd);
      const r = bpfErrno(cmd, attr);
      const count = attr.getU32(32);
      if (r < 0 && r !== -Errno.ENOENT) throw bpfError(cmd, -r);
      if (count > 0) {
        keyChunks.push(keys.slice(0, count * this.keySize));
        valueChunks.push(values.slice(0, count * this.fullValueSize));
        total += count;
      }
      if (r === -Errno.ENOENT) break;
      inBatch.set(outBatch);
      first = false;
    }
    return { keys: concat(keyChunks), values: concat(valueChunks), count: total };
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

function mapInfo(fd: number): MapInfo {
  const buf = allocBuffer(MAP_INFO_SIZE);
  const attr = new Attr().u32(0, fd).u32(4, MAP_INFO_SIZE).pointer(8, buf);
  bpf(BpfCmd.OBJ_GET_INFO_BY_FD, attr);
  const v = new DataView(buf.buffer);
  const nameBytes = buf.subarray(24, 40);
  const end = nameBytes.indexOf(0);
  return {
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
    mapExtra: v.getBigUint64(80, true),
  };
}

function roundUp8(n: number): number {
  return (n + 7) & ~7;
}

function hex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
