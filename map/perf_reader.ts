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
} from "../ffi.ts";
import { ClosedError } from "../errors.ts";
import type { BpfMap } from "./bpf_map.ts";
import { EpollWaiter, recordStream, type WaitOptions } from "./_epoll_waiter.ts";
import { MapType, mapTypeName } from "./map_type.ts";

const PERF_TYPE_SOFTWARE = 1;
const PERF_COUNT_SW_BPF_OUTPUT = 10n;
const PERF_SAMPLE_RAW = 1n << 10n;
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
/** `struct perf_event_mmap_page`: data_head and data_tail. */
const DATA_HEAD = 1024;
const DATA_TAIL = 1032;

/** One sample from the perf event array. */
export interface PerfRecord {
  /** The CPU whose ring held the sample. */
  cpu: number;
  /** The bytes the program passed to bpf_perf_event_output (padded to 8 bytes by perf). */
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
  mapping: Mapping;
  bytes: Uint8Array;
  words: BigUint64Array;
  dataSize: number;
}

/**
 * Reads samples from every CPU's ring of a perf event array. It opens a software
 * `BPF_OUTPUT` event per CPU, stores its fd in the map, and maps its ring. `drain()`
 * reads what is there now; `read()` and `for await` wait on epoll. Lost samples (the ring
 * was full) are counted in {@linkcode PerfReader.lost}.
 */
export class PerfReader {
  readonly #rings: Ring[] = [];
  readonly #waiter: EpollWaiter;
  readonly #map: BpfMap;
  #lost = 0;
  #closed = false;
  #paused = false;

  /** Opens one ring per possible CPU and installs their fds in `map`. */
  constructor(map: BpfMap, options: PerfReaderOptions = {}) {
    if (map.type !== MapType.PerfEventArray) {
      throw new TypeError(`Map "${map.name}" is ${mapTypeName(map.type)}, not a perf event array`);
    }
    const pages = options.pagesPerCpu ?? 8;
    if (!Number.isInteger(pages) || pages < 1 || (pages & (pages - 1)) !== 0) {
      throw new RangeError(`pagesPerCpu must be a power of two, got ${pages}`);
    }
    this.#map = map;
    this.#waiter = new EpollWaiter("PerfReader");
    try {
      const cpus = Math.min(possibleCpus(), map.maxEntries);
      const page = pageSize();
      for (let cpu = 0; cpu < cpus; cpu++) {
        const fd = openOutputEvent(cpu, options.watermarkBytes);
        let mapping: Mapping;
        try {
          mapping = mmap(page * (pages + 1), PROT_READ | PROT_WRITE, MAP_SHARED, fd);
        } catch (e) {
          closeFd(fd);
          throw e;
        }
        this.#rings.push({
          cpu,
          fd,
          mapping,
          bytes: new Uint8Array(mapping.buffer),
          words: new BigUint64Array(mapping.buffer, 0, page / 8),
          dataSize: page * pages,
        });
        this.#waiter.add(fd, BigInt(cpu));
        ioctl(fd, PERF_EVENT_IOC_ENABLE);
        map.update(cpu, fd);
      }
    } catch (e) {
      this.#release();
      throw e;
    }
  }

  /** Samples the kernel dropped because a ring was full, counted from LOST records. */
  get lost(): number {
    return this.#lost;
  }

  #check(): void {
    if (this.#closed) throw new ClosedError("PerfReader");
  }

  /**
   * Reads every sample available now, ring by ring, and hands each to `onRecord`. Returns
   * the number of samples delivered. Never waits.
   */
  drain(onRecord: (record: PerfRecord) => void): number {
    this.#check();
    let delivered = 0;
    const page = pageSize();
    for (const ring of this.#rings) {
      const head = Number(Atomics.load(ring.words, DATA_HEAD / 8));
      let tail = Number(ring.words[DATA_TAIL / 8]);
      while (tail < head) {
        const at = tail % ring.dataSize;
        const header = this.#copy(ring, page, at, 8);
        const hv = new DataView(header.buffer);
        const type = hv.getUint32(0, true);
        const size = hv.getUint16(6, true);
        if (size < 8) break; // corrupt header: stop rather than spin
        if (type === PERF_RECORD_SAMPLE) {
          const rawSize = new DataView(this.#copy(ring, page, (at + 8) % ring.dataSize, 4).buffer)
            .getUint32(0, true);
          const data = this.#copy(ring, page, (at + 12) % ring.dataSize, rawSize);
          onRecord({ cpu: ring.cpu, data });
          delivered++;
        } else if (type === PERF_RECORD_LOST) {
          const lost = new DataView(this.#copy(ring, page, (at + 16) % ring.dataSize, 8).buffer);
          this.#lost += Number(lost.getBigUint64(0, true));
        }
        tail += size;
      }
      Atomics.store(ring.words, DATA_TAIL / 8, BigInt(tail));
    }
    return delivered;
  }

  /** Copies `length` bytes at data offset `at`, across the end of the ring if needed. */
  #copy(ring: Ring, page: number, at: number, length: number): Uint8Array {
    const start = page + at;
    const firstPart = Math.min(length, ring.dataSize - at);
    const out = new Uint8Array(length);
    out.set(ring.bytes.subarray(start, start + firstPart));
    if (firstPart < length) {
      out.set(ring.bytes.subarray(page, page + length - firstPart), firstPart);
    }
    return out;
  }

  /** Whether any ring holds unread records. */
  get hasData(): boolean {
    this.#check();
    return this.#rings.some((r) =>
      Number(Atomics.load(r.words, DATA_HEAD / 8)) > Number(r.words[DATA_TAIL / 8])
    );
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
    this.#check();
    return this.#waiter.wait(() => this.hasData, options);
  }

  /** Samples as they arrive, until the reader is closed. */
  [Symbol.asyncIterator](): AsyncGenerator<PerfRecord> {
    return recordStream<PerfRecord>(this);
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
  async *typed<T>(decode: (record: Uint8Array) => T): AsyncGenerator<T> {
    for await (const record of this) yield decode(record.data);
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Removes the rings from the map, unmaps and closes them, and ends pending waits. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#release();
  }

  #release(): void {
    for (const r of this.#rings) {
      if (!this.#map.closed) this.#map.delete(r.cpu);
      munmap(r.mapping);
      closeFd(r.fd);
    }
    this.#rings.length = 0;
    this.#waiter.close();
  }

  /** Closes the reader at the end of a `using` scope. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/** perf_event_open of a software BPF_OUTPUT event on `cpu` for any process. */
function openOutputEvent(cpu: number, watermarkBytes?: number): number {
  const attr = allocBuffer(ATTR_SIZE);
  const v = new DataView(attr.buffer);
  v.setUint32(0, PERF_TYPE_SOFTWARE, true);
  v.setUint32(4, ATTR_SIZE, true);
  v.setBigUint64(8, PERF_COUNT_SW_BPF_OUTPUT, true);
  v.setBigUint64(16, 1n, true); // sample_period: every output is a sample
  v.setBigUint64(24, PERF_SAMPLE_RAW, true);
  if (watermarkBytes !== undefined) {
    v.setBigUint64(40, WATERMARK_BIT, true);
    v.setUint32(48, watermarkBytes, true); // wakeup_watermark
  } else {
    v.setUint32(48, 1, true); // wakeup_events
  }
  return perfEventOpen(attr, { pid: -1, cpu, flags: PERF_FLAG_FD_CLOEXEC });
}
