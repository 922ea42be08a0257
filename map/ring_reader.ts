/**
 * Reading a BPF ring buffer (`BPF_MAP_TYPE_RINGBUF`) from user space.
 *
 * @module
 */

import { type Mapping, mmap, munmap, pageSize } from "../ffi.ts";
import { ClosedError } from "../errors.ts";
import { ByteArena } from "../_internal/byte_arena.ts";
import type { BpfMap } from "./bpf_map.ts";
import { EpollWaiter, type WaitOptions } from "./_epoll_waiter.ts";
import { RecordIterator } from "./_record_iterator.ts";
import { onClose } from "./_close_hooks.ts";
import { claimMap, releaseMap } from "./_reader_claims.ts";
import { MapType, mapTypeName } from "./map_type.ts";

const PROT_READ = 1;
const PROT_WRITE = 2;
const MAP_SHARED = 1;
const BUSY_BIT = 0x80000000;
const DISCARD_BIT = 0x40000000;
const HEADER_SIZE = 8;
/**
 * The chunks {@linkcode RingReader.drain} copies into; one copy fills at most the rest of a
 * chunk, so a long drain gives ring space back to the kernel (a commit) at least every 64 KiB.
 * Measured here, 256 KiB chunks were fresh pages from malloc more often (a page fault, ≈12 µs
 * each): 130–160 faults a drain of 200,000 16-byte records against 15–85 with 64 KiB chunks.
 */
const DRAIN_CHUNK_BYTES = 64 * 1024;

/** Options of a wait for records. */
export type RingReadOptions = WaitOptions;

/**
 * Records copied out of a ring by {@linkcode RingReader.drainBatch}: one buffer and the
 * offset and length of each record in it. Reused from drain to drain, so a drain allocates
 * nothing; the records stay valid until the batch is drained into again.
 *
 * @example
 * ```ts ignore
 * const batch = new RecordBatch(1 << 20, 65536);
 * while (reader.drainBatch(batch) > 0) {
 *   for (let i = 0; i < batch.count; i++) handle(batch.bytes, batch.offsets[i], batch.lengths[i]);
 * }
 * ```
 */
export class RecordBatch {
  /** The copied bytes; record `i` is `bytes[offsets[i], offsets[i] + lengths[i])`. */
  readonly bytes: Uint8Array;
  /** Where each record starts in {@linkcode RecordBatch.bytes}. */
  readonly offsets: Uint32Array;
  /** The length of each record. */
  readonly lengths: Uint32Array;
  /** How many records the last drain delivered. */
  count = 0;

  /** A batch of at most `maxBytes` of ring data (headers included) and `maxRecords` records. */
  constructor(maxBytes: number, maxRecords: number = maxBytes >> 3) {
    if (!Number.isInteger(maxBytes) || maxBytes < 16) {
      throw new RangeError(`A batch needs at least 16 bytes, got ${maxBytes}`);
    }
    if (!Number.isInteger(maxRecords) || maxRecords < 1) {
      throw new RangeError(`A batch needs room for a record, got ${maxRecords}`);
    }
    this.bytes = new Uint8Array(maxBytes);
    this.offsets = new Uint32Array(maxRecords);
    this.lengths = new Uint32Array(maxRecords);
  }

  /** Record `i` as a view (valid until the next drain into this batch). */
  record(i: number): Uint8Array {
    if (!(i >= 0 && i < this.count)) throw new RangeError(`No record ${i} of ${this.count}`);
    return this.bytes.subarray(this.offsets[i], this.offsets[i] + this.lengths[i]);
  }
}

/**
 * Reads records from a ring buffer map. `drain()` consumes everything available
 * synchronously (the fast path); `read()` and `for await` wait on epoll without blocking the
 * event loop. Records are copied out of the kernel's read-only mapping before user code sees
 * them.
 *
 * One reader per ring: a ring has a single consumer position, shared by everyone who maps
 * it, so two readers would each skip or repeat the other's records. A second reader of the
 * same kernel map (by map id, through any handle) throws {@linkcode InUseError} until the
 * first is closed; share records between consumers in JavaScript instead. This is checked
 * within one JavaScript realm (the main thread or one Worker): the kernel keeps no record
 * of who consumes a ring, so readers in other Workers or processes cannot be detected.
 *
 * Closing the reader, or the map handle it was made from, ends pending `read()`/`wait()`
 * calls with {@linkcode ClosedError} and ends `for await` loops; an aborted signal rejects
 * them with its reason.
 *
 * @example
 * ```ts ignore
 * using reader = new RingReader(events);
 * for await (const record of reader) console.log(record.length);
 * ```
 */
export class RingReader {
  readonly #consumer: Mapping;
  readonly #producer: Mapping;
  /** Low and high 32-bit halves of consumer_pos (RW page). */
  readonly #consumerWords: Uint32Array;
  readonly #consumerPos: BigUint64Array;
  /** producer_pos, read with Atomics. */
  readonly #producerWords: Uint32Array;
  /** The data area, mapped twice in a row so that a record never wraps. */
  readonly #data: Uint8Array;
  readonly #dataWords: Int32Array;
  readonly #mask: number;
  readonly #waiter: EpollWaiter;
  #consumed: number;
  #closed = false;
  /** Names the reader (and its map) in ClosedErrors. */
  #what: string;
  /** Held so the map's fd stays open while its ring is mapped and watched. */
  readonly #map: BpfMap;
  readonly #mapId: number;
  readonly #unhook: () => void;
  /** Where drain() copies records to; its first chunk is made by the first drain. */
  readonly #arena = new ByteArena(DRAIN_CHUNK_BYTES);

  /** Maps the ring of `map` (which must be a `BPF_MAP_TYPE_RINGBUF`). */
  constructor(map: BpfMap) {
    if (map.type !== MapType.RingBuf) {
      throw new TypeError(`Map "${map.name}" is ${mapTypeName(map.type)}, not a ring buffer`);
    }
    this.#map = map;
    this.#what = `RingReader of map "${map.name}"`;
    this.#mapId = claimMap(
      map,
      this,
      "RingReader",
      "a ring has one consumer position, so close that reader first or share its records",
    );
    const page = pageSize();
    const size = map.maxEntries;
    this.#mask = size - 1;
    try {
      this.#consumer = mmap(page, PROT_READ | PROT_WRITE, MAP_SHARED, map.fd, 0n);
    } catch (e) {
      releaseMap(this.#mapId, this);
      throw e;
    }
    try {
      this.#producer = mmap(page + 2 * size, PROT_READ, MAP_SHARED, map.fd, BigInt(page));
    } catch (e) {
      munmap(this.#consumer);
      releaseMap(this.#mapId, this);
      throw e;
    }
    this.#consumerWords = new Uint32Array(this.#consumer.buffer, 0, 2);
    this.#consumerPos = new BigUint64Array(this.#consumer.buffer, 0, 1);
    this.#producerWords = new Uint32Array(this.#producer.buffer, 0, 2);
    this.#data = new Uint8Array(this.#producer.buffer, page, 2 * size);
    this.#dataWords = new Int32Array(this.#producer.buffer, page, (2 * size) / 4);
    this.#consumed = Number(this.#consumerPos[0]);
    try {
      this.#waiter = new EpollWaiter(this.#what, 4);
    } catch (e) {
      munmap(this.#consumer);
      munmap(this.#producer);
      releaseMap(this.#mapId, this);
      throw e;
    }
    try {
      this.#waiter.add(map.fd, 0n);
    } catch (e) {
      this.#waiter.close();
      munmap(this.#consumer);
      munmap(this.#producer);
      releaseMap(this.#mapId, this);
      throw e;
    }
    // Weakly: a reader dropped without close() must not be kept alive by its map.
    const self = new WeakRef(this);
    const closedWith = `${this.#what} (the map was closed)`;
    this.#unhook = onClose(map, () => {
      const reader = self.deref();
      if (reader) reader.#close(closedWith);
    });
  }

  /** Bytes of records waiting to be consumed. */
  get available(): number {
    this.#check();
    return (Atomics.load(this.#producerWords, 0) - (this.#consumed >>> 0)) >>> 0;
  }

  #check(): void {
    if (this.#closed) throw new ClosedError(this.#what);
  }

  /**
   * Consumes every record available now (at most `max`) and hands each one, copied, to
   * `onRecord`. Records are views into a shared buffer that no later drain writes: read
   * them through their `byteOffset`, keep them as long as needed. Returns the number of
   * records delivered. Never waits. When `onRecord` throws, the records after the one it
   * threw on stay in the ring.
   *
   * Records are copied a run at a time (the records available, back to back, as many as fit
   * in the rest of a 64 KiB chunk; a larger record gets a buffer of its own) with one copy,
   * and each record is a view of that copy: per record, a drain reads a header and makes a
   * view. A record kept alive keeps its chunk alive.
   */
  drain(onRecord: (record: Uint8Array) => void, max = Infinity): number {
    this.#check();
    const words = this.#dataWords;
    const mask = this.#mask;
    const data = this.#data;
    const arena = this.#arena;
    let delivered = 0;
    // 32-bit arithmetic on positions: differences stay right across wrap-around.
    const producer = Atomics.load(this.#producerWords, 0);
    while (delivered < max && !this.#closed) {
      // The run ends at a busy record, at `max` records, or where the chunk is full.
      const begin = this.#consumed;
      const room = arena.room;
      let end = begin;
      let next = begin;
      let n = delivered;
      while (n < max && ((producer - (end >>> 0)) | 0) > 0) {
        const header = Atomics.load(words, (end & mask) >> 2);
        if (header & BUSY_BIT) break;
        next = end + (((header & ~(BUSY_BIT | DISCARD_BIT)) + HEADER_SIZE + 7) & ~7);
        if (next - begin > room) break;
        if ((header & DISCARD_BIT) === 0) n++;
        end = next;
      }
      const start = begin & mask;
      let buffer: ArrayBuffer;
      let copy: Int32Array;
      let base: number;
      let size = end - begin;
      if (size > 0) {
        // One copy of the run; the chunk is private, so its headers are read without Atomics.
        buffer = arena.buffer;
        copy = arena.words;
        base = arena.used;
        arena.bytes.set(data.subarray(start, start + size), base);
        arena.used = base + size;
      } else if (next === begin) {
        break; // nothing available, a busy record, or `max` delivered
      } else if (next - begin <= arena.chunkSize) {
        arena.renew(); // the next record does not fit what is left of the chunk
        continue;
      } else {
        // A record larger than a chunk gets a buffer of its own.
        size = next - begin;
        const own = data.slice(start, start + size);
        buffer = own.buffer;
        copy = new Int32Array(buffer);
        base = 0;
      }
      let at = base;
      const stop = base + size;
      try {
        while (at < stop) {
          const header = copy[at >> 2];
          const length = header & ~(BUSY_BIT | DISCARD_BIT);
          const from = at + HEADER_SIZE;
          at += (length + HEADER_SIZE + 7) & ~7;
          if ((header & DISCARD_BIT) === 0) {
            delivered++;
            // A view made by the constructor costs less than subarray() does.
            onRecord(new Uint8Array(buffer, from, length));
          }
        }
      } finally {
        // Up to and including the record the callback returned from (or threw on).
        this.#commit(begin + (at - base));
      }
    }
    return delivered;
  }

  /**
   * Consumes every record available now (at most `max`) and hands each one to `onRecord` as
   * a view straight into the ring: no copy, so a 256-byte record costs what a 16-byte one
   * does (as libbpf's callback and cilium's `WithLease`). Returns the number of records
   * delivered. Never waits.
   *
   * The view is valid only until `onRecord` returns: the consumer position advances once
   * the drain is done, and the kernel then writes new records over those bytes. Read what
   * you need inside the callback, or copy it (`record.slice()`); never keep the view. It is
   * read-only memory (hence `Readonly`): writing through it, with `set()` or `fill()` say,
   * kills the process (SIGSEGV), as in C and Go. After the
   * reader is closed (even from within the callback) a view is detached and reads nothing.
   * When `onRecord` throws, the records from the one it threw on stay in the ring.
   */
  drainLeased(onRecord: (record: Readonly<Uint8Array>) => void, max = Infinity): number {
    this.#check();
    const words = this.#dataWords;
    const mask = this.#mask;
    // Views are made on the mapping itself: munmap (close) detaches it, and kept views with it.
    const buffer = this.#producer.buffer;
    const base = this.#data.byteOffset;
    const producer = Atomics.load(this.#producerWords, 0);
    let consumed = this.#consumed;
    let delivered = 0;
    try {
      while (delivered < max && ((producer - (consumed >>> 0)) | 0) > 0 && !this.#closed) {
        const header = Atomics.load(words, (consumed & mask) >> 2) >>> 0;
        if (header & BUSY_BIT) break;
        const length = header & ~(BUSY_BIT | DISCARD_BIT);
        const at = consumed & mask;
        if ((header & DISCARD_BIT) === 0) {
          // The data area is mapped twice in a row: a record across the end stays contiguous.
          onRecord(new Uint8Array(buffer, base + at + HEADER_SIZE, length));
          delivered++;
        }
        consumed += (length + HEADER_SIZE + 7) & ~7;
      }
    } finally {
      // Up to the record the callback returned from (or threw on: it stays in the ring).
      if (consumed !== this.#consumed) this.#commit(consumed);
    }
    return delivered;
  }

  /**
   * Copies the records available now into `batch` with one copy for the whole run of them
   * (records sit back to back in the ring, and its double mapping keeps a run contiguous)
   * and returns how many it holds. Per record, only its header is read. The fast way to
   * drain: no callback, no allocation. Records that do not fit stay for the next drain;
   * a single record larger than the batch is a RangeError.
   */
  drainBatch(batch: RecordBatch): number {
    this.#check();
    const words = this.#dataWords;
    const mask = this.#mask;
    const offsets = batch.offsets;
    const lengths = batch.lengths;
    const maxRecords = offsets.length;
    const room = batch.bytes.length;
    const begin = this.#consumed;
    const start = begin & mask;
    const producer = Atomics.load(this.#producerWords, 0);
    let consumed = begin;
    let count = 0;
    while (count < maxRecords && ((producer - (consumed >>> 0)) | 0) > 0) {
      const header = Atomics.load(words, (consumed & mask) >> 2) >>> 0;
      if (header & BUSY_BIT) break;
      const length = header & ~(BUSY_BIT | DISCARD_BIT);
      const next = consumed + ((length + HEADER_SIZE + 7) & ~7);
      if (next - begin > room) {
        if (count === 0 && next - begin > room) {
          throw new RangeError(`Record of ${length} bytes does not fit in a batch of ${room}`);
        }
        break;
      }
      if ((header & DISCARD_BIT) === 0) {
        offsets[count] = consumed - begin + HEADER_SIZE;
        lengths[count] = length;
        count++;
      }
      consumed = next;
    }
    batch.count = count;
    if (consumed !== begin) {
      batch.bytes.set(this.#data.subarray(start, start + (consumed - begin)));
      this.#commit(consumed);
    }
    return count;
  }

  /** One 64-bit store of consumer_pos per batch, as the kernel reads it. */
  #commit(consumed: number): void {
    if (this.#closed) return; // closed by a record's callback: the ring is unmapped
    this.#consumed = consumed;
    Atomics.store(this.#consumerPos, 0, BigInt(consumed));
  }

  /**
   * Copies the next record into `out` without allocating and returns its length, or -1
   * when no record is available now. Throws `RangeError` when `out` is too small (the
   * record stays in the ring).
   */
  readInto(out: Uint8Array): number {
    this.#check();
    const producer = Atomics.load(this.#producerWords, 0);
    let consumed = this.#consumed;
    while (((producer - (consumed >>> 0)) | 0) > 0) {
      const at = consumed & this.#mask;
      const header = Atomics.load(this.#dataWords, at >> 2) >>> 0;
      if (header & BUSY_BIT) break;
      const length = header & ~(BUSY_BIT | DISCARD_BIT);
      if ((header & DISCARD_BIT) === 0 && length > out.byteLength) {
        throw new RangeError(`Record of ${length} bytes does not fit in ${out.byteLength}`);
      }
      consumed += (length + HEADER_SIZE + 7) & ~7;
      if ((header & DISCARD_BIT) === 0) {
        out.set(this.#data.subarray(at + HEADER_SIZE, at + HEADER_SIZE + length));
        this.#commit(consumed);
        return length;
      }
    }
    if (consumed !== this.#consumed) this.#commit(consumed);
    return -1;
  }

  /**
   * Waits until records are available (or the timeout passes) without blocking the event
   * loop. Resolves true when records are there, false on timeout; rejects when the signal
   * aborts, and with {@linkcode ClosedError} when the reader is closed meanwhile.
   */
  wait(options: RingReadOptions = {}): Promise<boolean> {
    return this.#waiter.wait(() => this.available > 0, options);
  }

  /**
   * The next record, copied; waits when none is available. Resolves `undefined` on timeout;
   * rejects at once when the signal has aborted, even with records there.
   */
  async read(options: RingReadOptions = {}): Promise<Uint8Array | undefined> {
    options.signal?.throwIfAborted();
    for (;;) {
      let record: Uint8Array | undefined;
      this.drain((r) => (record = r), 1);
      if (record) return record;
      if (!await this.wait(options)) return undefined;
    }
  }

  /**
   * Records (copied) as they arrive, until the reader or its map is closed; an abort of
   * `signal` throws its reason out of the loop.
   *
   * Each record costs O(1): they are drained a batch of up to 1024 at a time (the rest stay
   * in the kernel's ring) and handed out one by one. Leaving the loop early (or an abort)
   * drops what is left of the batch in hand; use `read()` or `drain()` to stop at an exact
   * record.
   */
  records(options: { signal?: AbortSignal } = {}): AsyncGenerator<Uint8Array, undefined> {
    return new RecordIterator<Uint8Array>(this, options.signal);
  }

  /** Records as they arrive, until the reader or its map is closed. */
  [Symbol.asyncIterator](): AsyncGenerator<Uint8Array, undefined> {
    return this.records();
  }

  /**
   * Records as they arrive, each decoded by `decode` (such as a `decode<Type>()` that
   * bpf2ts generates with `--type`), until the reader is closed.
   *
   * @example
   * ```ts ignore
   * for await (const event of reader.typed(decodeEvent)) console.log(event.pid);
   * ```
   */
  typed<T>(
    decode: (record: Uint8Array) => T,
    options: { signal?: AbortSignal } = {},
  ): AsyncGenerator<T, undefined> {
    return new RecordIterator<Uint8Array, T>(this, options.signal, decode);
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Unmaps the ring and ends pending waits; the map itself stays open. */
  close(): void {
    this.#close(this.#what);
  }

  #close(what: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#what = what;
    this.#unhook();
    releaseMap(this.#mapId, this);
    this.#waiter.close(what);
    munmap(this.#consumer);
    munmap(this.#producer);
  }

  /** Closes the reader at the end of a `using` scope. */
  [Symbol.dispose](): void {
    this.close();
  }
}
