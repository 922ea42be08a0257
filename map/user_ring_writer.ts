/**
 * Writing samples into a user ring buffer (`BPF_MAP_TYPE_USER_RINGBUF`) for programs to
 * drain with `bpf_user_ringbuf_drain`.
 *
 * @module
 */

import { type Mapping, mmap, munmap, pageSize } from "../ffi.ts";
import { ClosedError } from "../errors.ts";
import type { BpfMap } from "./bpf_map.ts";
import { MapType, mapTypeName } from "./map_type.ts";

const PROT_READ = 1;
const PROT_WRITE = 2;
const MAP_SHARED = 1;
const BUSY_BIT = 0x80000000;
const DISCARD_BIT = 0x40000000;
const HEADER_SIZE = 8;

/**
 * The user-space producer of a user ring buffer, as libbpf's `user_ring_buffer`: reserve a
 * sample, fill it in place, submit it (or discard it). The kernel's consumer page is mapped
 * read-only and the producer page and data area read-write, as the kernel allows.
 *
 * @example
 * ```ts ignore
 * using writer = new UserRingWriter(map);
 * const sample = writer.reserve(16);
 * if (sample) { sample.fill(1); writer.submit(sample); }
 * ```
 */
export class UserRingWriter {
  readonly #consumer: Mapping;
  readonly #producer: Mapping;
  readonly #consumerPos: BigUint64Array;
  readonly #producerPos: BigUint64Array;
  /** The data area, mapped twice in a row so that a sample never wraps. */
  readonly #data: Uint8Array;
  readonly #dataWords: Int32Array;
  readonly #dataOffset: number;
  readonly #size: number;
  #closed = false;
  /** Held so the map's fd stays open while its ring is mapped. */
  readonly #map: BpfMap;

  /** Maps the ring of `map`, which must be a `BPF_MAP_TYPE_USER_RINGBUF`. */
  constructor(map: BpfMap) {
    if (map.type !== MapType.UserRingbuf) {
      throw new TypeError(
        `Map "${map.name}" is ${mapTypeName(map.type)}, not a user ring buffer`,
      );
    }
    this.#map = map;
    const page = pageSize();
    this.#size = map.maxEntries;
    this.#consumer = mmap(page, PROT_READ, MAP_SHARED, map.fd, 0n);
    try {
      this.#producer = mmap(
        page + 2 * this.#size,
        PROT_READ | PROT_WRITE,
        MAP_SHARED,
        map.fd,
        BigInt(page),
      );
    } catch (e) {
      munmap(this.#consumer);
      throw e;
    }
    this.#consumerPos = new BigUint64Array(this.#consumer.buffer, 0, 1);
    this.#producerPos = new BigUint64Array(this.#producer.buffer, 0, 1);
    this.#dataOffset = page;
    this.#data = new Uint8Array(this.#producer.buffer, page, 2 * this.#size);
    this.#dataWords = new Int32Array(this.#producer.buffer, page, (2 * this.#size) / 4);
  }

  #check(): void {
    if (this.#closed) throw new ClosedError("UserRingWriter");
    this.#map.fd; // throws ClosedError once the map is closed
  }

  /** Bytes free for samples (each takes an 8-byte header and is padded to 8 bytes). */
  get available(): number {
    this.#check();
    const used = Atomics.load(this.#producerPos, 0) - Atomics.load(this.#consumerPos, 0);
    return this.#size - Number(used);
  }

  /**
   * Reserves a sample of `size` bytes and returns a writable view of it, or `undefined`
   * when the ring has no room now. Submit or discard every reserved sample, in any order;
   * the kernel reads samples in reservation order and waits at one not yet submitted.
   */
  reserve(size: number): Uint8Array | undefined {
    this.#check();
    if (!Number.isInteger(size) || size <= 0) {
      throw new RangeError(`Sample size must be a positive integer, got ${size}`);
    }
    const total = (size + HEADER_SIZE + 7) & ~7;
    if (total > this.#size) {
      throw new RangeError(`Sample of ${size} bytes does not fit in a ${this.#size}-byte ring`);
    }
    const consumer = Atomics.load(this.#consumerPos, 0);
    const producer = Atomics.load(this.#producerPos, 0);
    if (this.#size - Number(producer - consumer) < total) return undefined;
    const at = Number(producer & BigInt(this.#size - 1));
    Atomics.store(this.#dataWords, at >> 2, (size | BUSY_BIT) | 0);
    Atomics.store(this.#dataWords, (at >> 2) + 1, 0);
    // The kernel reads producer_pos with acquire semantics: the header is visible first.
    Atomics.store(this.#producerPos, 0, producer + BigInt(total));
    return this.#data.subarray(at + HEADER_SIZE, at + HEADER_SIZE + size);
  }

  /** Hands a reserved sample to the kernel. */
  submit(sample: Uint8Array): void {
    this.#commit(sample, false);
  }

  /** Gives a reserved sample back: the kernel skips it. */
  discard(sample: Uint8Array): void {
    this.#commit(sample, true);
  }

  /** Reserves, copies `data` in and submits; false when the ring has no room now. */
  write(data: Uint8Array): boolean {
    const sample = this.reserve(data.byteLength);
    if (!sample) return false;
    sample.set(data);
    this.submit(sample);
    return true;
  }

  #commit(sample: Uint8Array, discard: boolean): void {
    this.#check();
    const header = sample.byteOffset - this.#dataOffset - HEADER_SIZE;
    if (
      sample.buffer !== this.#producer.buffer || header < 0 || header % 8 !== 0 ||
      header >= 2 * this.#size
    ) {
      throw new TypeError("The sample was not reserved from this ring");
    }
    const index = (header & (this.#size - 1)) >> 2;
    const word = Atomics.load(this.#dataWords, index) >>> 0;
    if ((word & BUSY_BIT) === 0 || (word & ~BUSY_BIT) !== sample.byteLength) {
      throw new TypeError("The sample was already submitted or discarded");
    }
    const length = sample.byteLength | (discard ? DISCARD_BIT : 0);
    Atomics.exchange(this.#dataWords, index, length);
  }

  /** Unmaps the ring; the map itself stays open. Samples reserved and not submitted are lost. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    munmap(this.#consumer);
    munmap(this.#producer);
  }

  /** Closes the writer at the end of a `using` scope. */
  [Symbol.dispose](): void {
    this.close();
  }
}
