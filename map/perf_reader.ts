/**
 * Reading a perf event array (`BPF_MAP_TYPE_PERF_EVENT_ARRAY`): one perf ring per CPU,
 * filled by `bpf_perf_event_output`.
 *
 * @module
 */

import {
  allocBuffer,
  closeFd,
  ioctl,
  type Mapping,
  mmap,
  munmap,
  pageSize,
  perfEventOpen,
  possibleCpus,
  readFd,
} from "../ffi.ts";
import { ClosedError, Errno, SyscallError } from "../errors.ts";
import type { BpfMap } from "./bpf_map.ts";
import { EpollWaiter, type WaitOptions } from "./_epoll_waiter.ts";
import { RecordIterator } from "./_record_iterator.ts";
import { ByteArena } from "../_internal/byte_arena.ts";
import { onClose } from "./_close_hooks.ts";
import { claimMap, releaseMap } from "./_reader_claims.ts";
import { MapType, mapTypeName } from "./map_type.ts";

const PERF_TYPE_SOFTWARE = 1;
const PERF_COUNT_SW_BPF_OUTPUT = 10n;
const PERF_SAMPLE_RAW = 1n << 10n;
/** read() then returns the event's lost-sample count after its value (Linux 6.0). */
const PERF_FORMAT_LOST = 1n << 4n;
const PERF_FLAG_FD_CLOEXEC = 8n;
const PERF_EVENT_IOC_ENABLE = 0x2400n;
const PERF_EVENT_IOC_DISABLE = 0x2401n;
const PERF_RECORD_LOST = 2;
const PERF_RECORD_SAMPLE = 9;
const ATTR_SIZE = 128;
const WATERMARK_BIT = 1n << 14n;
const PROT_READ = 1;
const PROT_WRITE = 2;
const MAP_SHARED = 1;
/** `struct perf_event_mmap_page`: data_head and data_tail, as u64 word indexes. */
const DATA_HEAD = 1024 / 8;
const DATA_TAIL = 1032 / 8;
/**
 * The chunks {@linkcode PerfReader.drain} copies records into, as the ring reader's: a perf
 * record is at most 64 KiB - 8 (its size is a u16), so any one fits a fresh chunk.
 */
const DRAIN_CHUNK_BYTES = 64 * 1024;

/** One sample from the perf event array. */
export interface PerfRecord {
  /** The CPU whose ring held the sample. */
  cpu: number;
  /**
   * The bytes the program passed to bpf_perf_event_output (padded to 8 bytes by perf): a
   * copy, as a view into a shared buffer that nothing writes again (read it through its
   * `byteOffset`), as ring records are.
   */
  data: Uint8Array;
}

/** Options of {@linkcode PerfReader}. */
export interface PerfReaderOptions {
  /** Data pages per CPU ring: a power of two (default 8). */
  pagesPerCpu?: number;
  /** Wake readers only after this many bytes are written (default: every sample). */
  watermarkBytes?: number;
}

interface Ring {
  cpu: number;
  fd: number;
  /** Samples lost as the LOST records read so far report them. */
  lostInRecords: number;
  mapping: Mapping;
  /** The control page as u64 words: data_head (read with Atomics) and data_tail. */
  control: BigUint64Array;
  /** The data area, a power of two in size. */
  data: Uint8Array;
  /** The data area as 32-bit words, to read record headers. */
  words: Int32Array;
  /** The data area's size minus one: positions are masked into it. */
  mask: number;
  /** data_tail as last stored: this reader is its only writer. */
  tail: number;
}

/**
 * Reads samples from every CPU's ring of a perf event array. It opens a software
 * `BPF_OUTPUT` event per CPU, stores its fd in the map, and maps its ring. `drain()`
 * reads what is there now; `read()`, `wait()` and `for await` wait on epoll. Lost samples
 * (the ring was full) are counted in {@linkcode PerfReader.lost}.
 *
 * One reader per map: a second reader of the same kernel map (by map id, through any handle,
 * in this JavaScript realm) throws {@linkcode InUseError} until the first is closed, as it
 * would replace the first one's rings in the map.
 *
 * The reader keeps its own handle of the map (a dup of its fd) to take its rings out of it
 * at close. Closing the reader, or the map handle it was made from, ends pending `read()`
 * and `wait()` calls with {@linkcode ClosedError} and ends `for await` loops; an aborted
 * signal rejects them with its reason.
 */
export class PerfReader {
  readonly #rings: Ring[] = [];
  readonly #waiter: EpollWaiter;
  /** The reader's own handle of the map: it must outlive the caller's to clear the rings. */
  readonly #map: BpfMap;
  readonly #unhook: () => void;
  readonly #mapId: number;
  /** Whether the kernel counts lost samples per event (PERF_FORMAT_LOST). */
  #countsLost = true;
  /** Lost samples of rings already released, and samples discarded unread at close. */
  #lostBefore = 0;
  #what: string;
  #closed = false;
  #paused = false;
  /** The ring a drain starts at: the one after where the last drain stopped at `max`. */
  #firstRing = 0;
  /** Where drain() copies records to; its first chunk is made by the first drain. */
  readonly #arena = new ByteArena(DRAIN_CHUNK_BYTES);

  /** Opens one ring per possible CPU and installs their fds in `map`. */
  constructor(map: BpfMap, options: PerfReaderOptions = {}) {
    if (map.type !== MapType.PerfEventArray) {
      throw new TypeError(`Map "${map.name}" is ${mapTypeName(map.type)}, not a perf event array`);
    }
    const pages = options.pagesPerCpu ?? 8;
    if (!Number.isInteger(pages) || pages < 1 || (pages & (pages - 1)) !== 0) {
      throw new RangeError(`pagesPerCpu must be a power of two, got ${pages}`);
    }
    this.#what = `PerfReader of map "${map.name}"`;
    this.#mapId = claimMap(
      map,
      this,
      "PerfReader",
      "a second reader would replace the first one's ring in every CPU's slot",
    );
    try {
      this.#map = map.clone();
    } catch (e) {
      releaseMap(this.#mapId, this);
      throw e;
    }
    try {
      this.#waiter = new EpollWaiter(this.#what);
    } catch (e) {
      this.#map.close();
      releaseMap(this.#mapId, this);
      throw e;
    }
    try {
      const cpus = Math.min(possibleCpus(), map.maxEntries);
      const page = pageSize();
      for (let cpu = 0; cpu < cpus; cpu++) {
        const fd = this.#openOutputEvent(cpu, options.watermarkBytes);
        let mapping: Mapping;
        try {
          mapping = mmap(page * (pages + 1), PROT_READ | PROT_WRITE, MAP_SHARED, fd);
        } catch (e) {
          closeFd(fd);
          throw e;
        }
        const control = new BigUint64Array(mapping.buffer, 0, page / 8);
        this.#rings.push({
          cpu,
          fd,
          lostInRecords: 0,
          mapping,
          control,
          data: new Uint8Array(mapping.buffer, page, page * pages),
          words: new Int32Array(mapping.buffer, page, (page * pages) / 4),
          mask: page * pages - 1,
          tail: Number(control[DATA_TAIL]),
        });
        this.#waiter.add(fd, BigInt(cpu));
        ioctl(fd, PERF_EVENT_IOC_ENABLE);
        this.#map.update(cpu, fd);
      }
    } catch (e) {
      this.#release(this.#what);
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

  /** perf_event_open of a BPF_OUTPUT event that counts its lost samples when it can. */
  #openOutputEvent(cpu: number, watermarkBytes?: number): number {
    if (this.#countsLost) {
      try {
        return openOutputEvent(cpu, watermarkBytes, PERF_FORMAT_LOST);
      } catch (e) {
        if (!(e instanceof SyscallError && e.errno === Errno.EINVAL)) throw e;
        this.#countsLost = false; // before Linux 6.0: only LOST records tell
      }
    }
    return openOutputEvent(cpu, watermarkBytes, 0n);
  }

  /**
   * Samples written for this reader that it never delivered, so that samples produced =
   * samples delivered + `lost`:
   *
   * - samples the kernel could not write because a ring was full, read from each event's
   *   own count (`PERF_FORMAT_LOST`, Linux 6.0+), which includes losses that no
   *   `PERF_RECORD_LOST` record reports yet (the kernel writes that record only when the
   *   next sample fits). Before 6.0 only the LOST records read so far are counted, so the
   *   latest losses show after the ring's next sample is drained;
   * - samples still unread in the rings when the reader is closed (they are discarded).
   *
   * Not counted, because the kernel fails the program's `bpf_perf_event_output` call before
   * the ring and keeps no count: output while {@linkcode PerfReader.pause}d
   * (`-EOPNOTSUPP`), to a CPU without a ring in the map (`-ENOENT`, for example after
   * `close()`), and output nested too deep on one CPU (`-EBUSY`). The program sees these
   * in the helper's return value.
   *
   * Costs one read(2) per CPU per call while the reader is open.
   */
  get lost(): number {
    let lost = this.#lostBefore;
    for (const ring of this.#rings) lost += this.#ringLost(ring);
    return lost;
  }

  /** Lost samples of one ring: the kernel's count when it keeps one, else the records'. */
  #ringLost(ring: Ring): number {
    if (!this.#countsLost) return ring.lostInRecords;
    const counts = new BigUint64Array(2); // { value, lost }
    readFd(ring.fd, new Uint8Array(counts.buffer));
    return Number(counts[1]);
  }

  #check(): void {
    if (this.#closed) throw new ClosedError(this.#what);
  }

  /**
   * Reads every sample available now (at most `max`), ring by ring, and hands each to
   * `onRecord`. Returns the number of samples delivered. Never waits. Samples (their `data`)
   * are copies the caller may keep. When `onRecord` throws, the sample it threw on counts as
   * read and the ones after it stay in the ring.
   *
   * Per ring, the run of records to read is found from their headers and copied out with one
   * copy (in two parts when it wraps around the ring's end) into a 64 KiB chunk that nothing
   * writes again; each sample is a view of that copy. A sample kept alive keeps its chunk
   * alive.
   *
   * A drain that stops at `max` makes the next one start at the ring after, so a busy CPU's
   * ring cannot starve the others (the async iterator drains 1,024 at a time).
   */
  drain(onRecord: (record: PerfRecord) => void, max = Infinity): number {
    this.#check();
    let delivered = 0;
    const rings = this.#rings;
    const count = rings.length;
    for (let n = 0; n < count; n++) {
      const index = (this.#firstRing + n) % count;
      if (delivered >= max) {
        this.#firstRing = index;
        break;
      }
      delivered = this.#drainRing(rings[index], onRecord, max, delivered);
      if (this.#closed) break; // closed by the callback: the rings are gone
    }
    return delivered;
  }

  /** Drains one ring, a run of records per chunk; returns `delivered` plus its samples. */
  #drainRing(
    ring: Ring,
    onRecord: (record: PerfRecord) => void,
    max: number,
    delivered: number,
  ): number {
    // data_head is written after the records before it: one acquire load per ring drain.
    const head = Number(Atomics.load(ring.control, DATA_HEAD));
    const words = ring.words;
    const mask = ring.mask;
    const cpu = ring.cpu;
    const arena = this.#arena;
    while (delivered < max) {
      // The run ends at the head, at `max` samples, where the chunk is full, or at a
      // corrupt header (the drain stops there rather than spin).
      const begin = ring.tail;
      const room = arena.room;
      let end = begin;
      let samples = delivered;
      let next = begin;
      while (end < head && samples < max) {
        // Records are 8-byte aligned and the ring a multiple of 8: a header never wraps.
        const at = (end & mask) >> 2;
        const size = words[at + 1] >>> 16;
        if (size < 8 || size > head - end) break;
        next = end + size;
        if (next - begin > room) break;
        if (words[at] === PERF_RECORD_SAMPLE) samples++;
        end = next;
      }
      if (end === begin) {
        if (next === begin || arena.room === arena.chunkSize) break;
        arena.renew(); // the next record does not fit what is left of the chunk
        continue;
      }
      // One copy of the run, in two parts across the end of the ring.
      const buffer = arena.buffer;
      const copy = arena.words;
      const base = arena.used;
      const length = end - begin;
      const start = begin & mask;
      const data = ring.data;
      if (start + length <= data.length) {
        arena.bytes.set(data.subarray(start, start + length), base);
      } else {
        const first = data.length - start;
        arena.bytes.set(data.subarray(start), base);
        arena.bytes.set(data.subarray(0, length - first), base + first);
      }
      arena.used = base + length;
      // The copy is private: its headers are read without Atomics.
      let at = base;
      const stop = base + length;
      try {
        while (at < stop) {
          const word = at >> 2;
          const type = copy[word];
          const size = copy[word + 1] >>> 16;
          const from = at + 12;
          at += size;
          if (type === PERF_RECORD_SAMPLE) {
            // The raw data's length (a u32 after the header), kept within its record.
            const raw = copy[word + 2] >>> 0;
            const rawSize = raw < size - 12 ? raw : size < 12 ? 0 : size - 12;
            delivered++;
            onRecord({ cpu, data: new Uint8Array(buffer, from, rawSize) });
            if (this.#closed) return delivered; // closed by the callback: the ring is gone
          } else if (type === PERF_RECORD_LOST) {
            // { header, u64 id, u64 lost }
            ring.lostInRecords += (copy[word + 4] >>> 0) + (copy[word + 5] >>> 0) * 2 ** 32;
          }
        }
      } finally {
        // Up to and including the record the callback returned from (or threw on).
        if (!this.#closed) {
          ring.tail = begin + (at - base);
          Atomics.store(ring.control, DATA_TAIL, BigInt(ring.tail));
        }
      }
    }
    return delivered;
  }

  /** Whether any ring holds unread records. */
  get hasData(): boolean {
    this.#check();
    return this.#rings.some((r) => Number(Atomics.load(r.control, DATA_HEAD)) > r.tail);
  }

  /** Stops the kernel from writing samples (they are dropped, not counted as lost). */
  pause(): void {
    this.#check();
    for (const r of this.#rings) ioctl(r.fd, PERF_EVENT_IOC_DISABLE);
    this.#paused = true;
  }

  /** Resumes writing after {@linkcode PerfReader.pause}. */
  resume(): void {
    this.#check();
    for (const r of this.#rings) ioctl(r.fd, PERF_EVENT_IOC_ENABLE);
    this.#paused = false;
  }

  /** Whether the reader is paused. */
  get paused(): boolean {
    return this.#paused;
  }

  /**
   * Waits until a ring has data or `timeoutMs` passes, without blocking the event loop.
   * Rejects with the signal's reason on abort and with {@linkcode ClosedError} on close.
   */
  wait(options: WaitOptions = {}): Promise<boolean> {
    return this.#waiter.wait(() => this.hasData, options);
  }

  /**
   * The next sample, copied (the caller may keep it); waits when none is there. Resolves
   * `undefined` on timeout; rejects at once when the signal has aborted, even with samples
   * there. Each call takes one sample out of the kernel's rings, from the CPUs in turn, so a
   * loop of reads stops at an exact sample.
   */
  async read(options: WaitOptions = {}): Promise<PerfRecord | undefined> {
    options.signal?.throwIfAborted();
    for (;;) {
      let record: PerfRecord | undefined;
      this.drain((r) => (record = r), 1);
      if (record) return record;
      if (!await this.wait(options)) return undefined;
    }
  }

  /**
   * Samples as they arrive, until the reader or its map is closed; an abort of `signal`
   * throws its reason out of the loop.
   *
   * Each record costs O(1): they are drained a batch of up to 1024 at a time (the rest stay
   * in the kernel's ring) and handed out one by one. Leaving the loop early (or an abort)
   * drops what is left of the batch in hand; use {@linkcode PerfReader.read} or `drain()` to
   * stop at an exact record.
   */
  records(options: { signal?: AbortSignal } = {}): AsyncGenerator<PerfRecord, undefined> {
    return new RecordIterator<PerfRecord>(this, options.signal);
  }

  /** Samples as they arrive, until the reader or its map is closed. */
  [Symbol.asyncIterator](): AsyncGenerator<PerfRecord, undefined> {
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
    return new RecordIterator<PerfRecord, T>(this, options.signal, (r) => decode(r.data));
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Removes the rings from the map, unmaps and closes them, and ends pending waits. Samples
   * still unread are discarded and counted in {@linkcode PerfReader.lost}.
   */
  close(): void {
    this.#close(this.#what);
  }

  #close(what: string): void {
    if (this.#closed) return;
    // Count what is discarded unread before the rings go.
    this.#lostBefore += this.drain(() => {});
    this.#closed = true;
    this.#unhook();
    this.#release(what);
  }

  /** Releases every ring even when one fails; the first error is rethrown after. */
  #release(what: string): void {
    this.#waiter.close(what);
    let first: { error: unknown } | undefined;
    for (const r of this.#rings) {
      try {
        this.#lostBefore += this.#ringLost(r);
        this.#map.delete(r.cpu); // false (absent) when a failed constructor had not stored it
      } catch (error) {
        first ??= { error };
      } finally {
        munmap(r.mapping);
        closeFd(r.fd);
      }
    }
    this.#rings.length = 0;
    this.#map.close();
    releaseMap(this.#mapId, this);
    if (first) throw first.error;
  }

  /** Closes the reader at the end of a `using` scope. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/** perf_event_open of a software BPF_OUTPUT event on `cpu` for any process. */
function openOutputEvent(
  cpu: number,
  watermarkBytes: number | undefined,
  readFormat: bigint,
): number {
  const attr = allocBuffer(ATTR_SIZE);
  const v = new DataView(attr.buffer);
  v.setUint32(0, PERF_TYPE_SOFTWARE, true);
  v.setUint32(4, ATTR_SIZE, true);
  v.setBigUint64(8, PERF_COUNT_SW_BPF_OUTPUT, true);
  v.setBigUint64(16, 1n, true); // sample_period: every output is a sample
  v.setBigUint64(24, PERF_SAMPLE_RAW, true);
  v.setBigUint64(32, readFormat, true);
  if (watermarkBytes !== undefined) {
    v.setBigUint64(40, WATERMARK_BIT, true);
    v.setUint32(48, watermarkBytes, true); // wakeup_watermark
  } else {
    v.setUint32(48, 1, true); // wakeup_events
  }
  return perfEventOpen(attr, { pid: -1, cpu, flags: PERF_FLAG_FD_CLOEXEC });
}
