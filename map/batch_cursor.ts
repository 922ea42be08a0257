/**
 * A resumable walk over a map in batches (BPF_MAP_LOOKUP_BATCH and
 * BPF_MAP_LOOKUP_AND_DELETE_BATCH): each call fills the caller's buffers with the next
 * entries and remembers where the kernel stopped, as cilium/ebpf's `MapBatchCursor`.
 *
 * @module
 */

import { allocBuffer, Attr, BpfCmd, bpfCmdName, bpfErrno, bpfError } from "../ffi.ts";
import { Errno, SyscallError } from "../errors.ts";
import type { BpfMap } from "./bpf_map.ts";

/** Offsets in the `batch` member of `union bpf_attr`. */
const Batch = {
  inBatch: 0,
  outBatch: 8,
  keys: 16,
  values: 24,
  count: 32,
  mapFd: 36,
  elemFlags: 40,
} as const;

/**
 * The next entries of `cursor`'s walk, up to `room` of them, written by the kernel straight
 * into `keys` and `values` from entry `at` on; returns how many. For the library's own buffers
 * only (not exported from the package): they must come from `allocBuffer` (off-heap, so the
 * kernel may write into them) and hold `at + room` entries.
 */
export let readBatchAt: (
  cursor: BatchCursor,
  keys: Uint8Array,
  values: Uint8Array,
  at: number,
  room: number,
  options?: BatchReadOptions,
) => number;

/** Options of {@linkcode BatchCursor.lookup} and {@linkcode BatchCursor.lookupAndDelete}. */
export interface BatchOptions {
  /** Element flags, such as `UpdateFlags.Lock` (`BPF_F_LOCK`) for spin-locked values. */
  flags?: bigint;
}

/** Options of {@linkcode BatchCursor.read}. */
export interface BatchReadOptions extends BatchOptions {
  /** Delete the entries read (BPF_MAP_LOOKUP_AND_DELETE_BATCH). */
  delete?: boolean;
}

/** Entries read by {@linkcode BatchCursor.read}. */
export interface EntryBatch {
  /** `count` keys back to back (the buffer has room for more). */
  keys: Uint8Array;
  /** `count` values back to back. */
  values: Uint8Array;
  /** How many entries were read. */
  count: number;
}

/**
 * Where a batch walk over one map stands. Each {@linkcode BatchCursor.lookup} fills the
 * buffers given with up to as many entries as they hold, in the kernel's order, and the
 * next call goes on from there; {@linkcode BatchCursor.done} turns true once the kernel
 * has handed out the last entry. A call that fails leaves the cursor where it was, so the
 * walk can be resumed (with larger buffers after ENOSPC: a hash bucket holds more entries
 * than they do).
 *
 * Keys are `keySize` bytes each, values `fullValueSize` (per-CPU maps: every CPU's value,
 * 8-byte aligned), back to back.
 *
 * @example
 * ```ts ignore
 * const cursor = new BatchCursor(map);
 * const keys = new Uint8Array(map.keySize * 256);
 * const values = new Uint8Array(map.fullValueSize * 256);
 * while (!cursor.done) {
 *   const n = cursor.lookup(keys, values);
 *   // use the first n keys and values
 * }
 * ```
 */
export class BatchCursor {
  readonly #map: BpfMap;
  /** The kernel's position (a bucket index or a key), and the one it reports next. */
  readonly #in: Uint8Array;
  readonly #out: Uint8Array;
  readonly #attr = new Attr();
  #started = false;
  #done = false;

  /** A cursor at the start of `map`. */
  constructor(map: BpfMap) {
    this.#map = map;
    // Hash maps resume from a u32 bucket index, arrays from the last key.
    const size = Math.max(map.keySize, 4);
    this.#in = allocBuffer(size);
    this.#out = allocBuffer(size);
  }

  /** Whether the walk has reached the end of the map. */
  get done(): boolean {
    return this.#done;
  }

  /** Back to the start of the map. */
  reset(): void {
    this.#started = false;
    this.#done = false;
  }

  /**
   * Copies the next entries into `keys` and `values` (BPF_MAP_LOOKUP_BATCH) and returns
   * how many; 0 once {@linkcode BatchCursor.done}.
   */
  lookup(keys: Uint8Array, values: Uint8Array, options: BatchOptions = {}): number {
    return this.#into(keys, values, options);
  }

  /**
   * Copies the next entries into `keys` and `values` and deletes them from the map
   * (BPF_MAP_LOOKUP_AND_DELETE_BATCH); returns how many.
   */
  lookupAndDelete(keys: Uint8Array, values: Uint8Array, options: BatchOptions = {}): number {
    return this.#into(keys, values, { ...options, delete: true });
  }

  /**
   * The next entries, up to `room` of them, in new buffers the kernel wrote (no copy):
   * `count` keys and values back to back at the start of `keys` and `values`.
   */
  read(room: number, options: BatchReadOptions = {}): EntryBatch {
    const map = this.#map;
    if (!Number.isInteger(room) || room < 1) {
      throw new RangeError(`Invalid batch size of map "${map.name}": ${room}`);
    }
    const keys = allocBuffer(room * map.keySize);
    const values = allocBuffer(room * map.fullValueSize);
    return { keys, values, count: this.#readAt(keys, values, 0, room, options) };
  }

  static {
    readBatchAt = (cursor, keys, values, at, room, options) =>
      cursor.#readAt(keys, values, at, room, options);
  }

  #readAt(
    keys: Uint8Array,
    values: Uint8Array,
    at: number,
    room: number,
    options: BatchReadOptions = {},
  ): number {
    const map = this.#map;
    if (this.#done) return 0;
    const cmd = options.delete ? BpfCmd.MAP_LOOKUP_AND_DELETE_BATCH : BpfCmd.MAP_LOOKUP_BATCH;
    const attr = this.#attr.reset()
      .pointer(Batch.inBatch, this.#started ? this.#in : null)
      .pointer(Batch.outBatch, this.#out)
      .pointer(Batch.keys, keys.subarray(at * map.keySize, (at + room) * map.keySize))
      .pointer(
        Batch.values,
        values.subarray(at * map.fullValueSize, (at + room) * map.fullValueSize),
      )
      .u32(Batch.count, room)
      .u32(Batch.mapFd, map.fd)
      .u64(Batch.elemFlags, options.flags ?? 0n);
    const r = bpfErrno(cmd, attr);
    if (r < 0 && r !== -Errno.ENOENT) {
      if (r === -Errno.ENOSPC) {
        throw new SyscallError(
          bpfCmdName(cmd),
          Errno.ENOSPC,
          `the next hash bucket of map "${map.name}" holds more than ${room} entries: ` +
            "call again with larger buffers",
        );
      }
      throw bpfError(cmd, -r);
    }
    if (r === -Errno.ENOENT) this.#done = true;
    else {
      this.#in.set(this.#out);
      this.#started = true;
    }
    return attr.getU32(Batch.count);
  }

  #into(keys: Uint8Array, values: Uint8Array, options: BatchReadOptions): number {
    const map = this.#map;
    const room = Math.min(
      Math.floor(keys.byteLength / Math.max(map.keySize, 1)),
      Math.floor(values.byteLength / Math.max(map.fullValueSize, 1)),
    );
    if (room < 1) {
      throw new RangeError(
        `Batch buffers of map "${map.name}" hold no entry: keys need ${map.keySize} B and ` +
          `values ${map.fullValueSize} B per entry`,
      );
    }
    // The kernel writes only into off-heap buffers whose address is known: read() makes
    // them, and the entries are copied over.
    const batch = this.read(room, options);
    keys.set(batch.keys.subarray(0, batch.count * map.keySize));
    values.set(batch.values.subarray(0, batch.count * map.fullValueSize));
    return batch.count;
  }
}
