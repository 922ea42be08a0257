/**
 * `LogReader`: the typed log of `include/ebpf_log.h` as decoded records, read from its ring
 * buffer with a {@linkcode RingReader}.
 *
 * @module
 */

import type { BpfMap } from "../map/bpf_map.ts";
import { RingReader, type RingReadOptions } from "../map/ring_reader.ts";
import { decodeLogRecord, type LogRecord } from "./log_message.ts";
import type { LogFormats } from "./log_spec.ts";

/**
 * Reads the records that `ebpf_log.h` calls write into `ring` (by default the header's
 * `ebpf_logs` map) and formats them with the call sites of the object the programs came
 * from ({@linkcode parseLogFormats}). One reader per ring, as for {@linkcode RingReader}.
 *
 * @example
 * ```ts ignore
 * const object = await Deno.readFile("prog.o");
 * using coll = newCollection(parseCollectionSpec(object));
 * using logs = new LogReader(coll.maps.ebpf_logs, parseLogFormats(object));
 * for await (const r of logs) console.log(formatLogRecord(r));
 * ```
 */
export class LogReader {
  readonly #ring: RingReader;
  readonly #formats: LogFormats;

  /** Maps `ring` (a `BPF_MAP_TYPE_RINGBUF`) to read the records of `formats`' call sites. */
  constructor(ring: BpfMap, formats: LogFormats) {
    this.#formats = formats;
    this.#ring = new RingReader(ring);
  }

  /** The call sites records are decoded with. */
  get formats(): LogFormats {
    return this.#formats;
  }

  /** Decodes every record available now (at most `max`); returns how many. Never waits. */
  drain(onRecord: (record: LogRecord) => void, max = Infinity): number {
    return this.#ring.drain((r) => onRecord(decodeLogRecord(this.#formats, r)), max);
  }

  /** The next record; waits when none is there. `undefined` on timeout. */
  async read(options: RingReadOptions = {}): Promise<LogRecord | undefined> {
    const r = await this.#ring.read(options);
    return r === undefined ? undefined : decodeLogRecord(this.#formats, r);
  }

  /** Records as they arrive, until the reader is closed; an abort throws its reason. */
  records(options: { signal?: AbortSignal } = {}): AsyncGenerator<LogRecord, undefined> {
    return this.#ring.typed((r) => decodeLogRecord(this.#formats, r), options);
  }

  /** Records as they arrive, until the reader is closed. */
  [Symbol.asyncIterator](): AsyncGenerator<LogRecord, undefined> {
    return this.records();
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#ring.closed;
  }

  /** Unmaps the ring and ends pending waits; the map stays open. */
  close(): void {
    this.#ring.close();
  }

  /** Closes the reader at the end of a `using` scope. */
  [Symbol.dispose](): void {
    this.close();
  }
}
