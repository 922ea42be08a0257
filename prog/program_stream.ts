/**
 * Program streams (Linux 6.17): each loaded program has its own stdout and stderr, which it
 * writes with `bpf_stream_printk` and where the kernel reports the program's runtime errors
 * (a may_goto timeout, an arena page fault, a resilient spin lock deadlock), each with a
 * stack trace. User space reads them with BPF_PROG_STREAM_READ_BY_FD.
 *
 * The kernel keeps up to 100,000 bytes per stream and never blocks a reader: a read returns
 * what is buffered now. So the async iterators here poll, with a backoff: the first wait
 * after an empty read is 1 ms, each further empty read doubles it up to `maxPollMs`
 * (default 100 ms), and data resets it.
 *
 * @module
 */

import { allocBuffer, Attr, BpfCmd, bpfErrno, bpfError } from "../ffi.ts";
import { ClosedError } from "../errors.ts";
import { RecordIterator, type RecordSource } from "../map/_record_iterator.ts";
import type { WaitOptions } from "../map/_epoll_waiter.ts";
import { programStreams } from "./_prog_features.ts";

/** The streams of a program (`BPF_STDOUT`, `BPF_STDERR` in the kernel). */
export const StreamId = {
  /** What the program writes with `bpf_stream_printk(BPF_STDOUT, …)`. */
  Stdout: 1,
  /** The program's `BPF_STDERR` writes and the kernel's reports of its runtime errors. */
  Stderr: 2,
} as const;

/** A program stream id: {@linkcode StreamId.Stdout} or {@linkcode StreamId.Stderr}. */
export type StreamId = typeof StreamId[keyof typeof StreamId];

/** Options of the async iterators of a {@linkcode ProgramStream}. */
export interface StreamIterateOptions {
  /** Ends the iteration: the pending `next()` rejects with the signal's reason. */
  signal?: AbortSignal;
  /** The longest wait between two reads of an empty stream, in ms (default 100). */
  maxPollMs?: number;
}

/** What a stream needs of its program: a `Program`, without importing it. */
export interface StreamOwner {
  /** The program's file descriptor. */
  readonly fd: number;
  /** Whether the handle was closed: its streams' iterators end. */
  readonly closed: boolean;
}

/**
 * Bytes asked for per read: the kernel keeps less than `BPF_STREAM_MAX_CAPACITY` (100,000)
 * bytes per stream, so one read takes all a stream holds.
 */
const READ_SIZE = 100_000;
const MIN_POLL_MS = 1;
const DEFAULT_MAX_POLL_MS = 100;

/**
 * One stream of a program: {@linkcode Program.stdout}, {@linkcode Program.stderr} or
 * `program.stream(id)`. Reading consumes: what one reader (or another process) took,
 * another does not see. A stream lives as long as its program handle is open; closing the
 * handle ends its iterators.
 *
 * @example
 * ```ts ignore
 * using prog = Program.fromId(id);
 * for await (const line of prog.stdout.lines({ signal: AbortSignal.timeout(5000) })) {
 *   console.log(line);
 * }
 * ```
 */
export class ProgramStream {
  readonly #owner: StreamOwner;
  /** Which stream. */
  readonly id: StreamId;
  // The kernel writes into it during the syscall: held by the stream (FFI_NOTES rule 5).
  // Made on the first read: most streams are never read.
  #buffer: Uint8Array | undefined;
  readonly #attr = new Attr();

  /**
   * The stream `id` of `owner`. Throws {@linkcode NotSupportedError} on kernels before
   * 6.17 and a RangeError for an id that is not a {@linkcode StreamId}.
   */
  constructor(owner: StreamOwner, id: StreamId) {
    if (id !== StreamId.Stdout && id !== StreamId.Stderr) {
      throw new RangeError(`Invalid program stream id ${id}: must be 1 (stdout) or 2 (stderr)`);
    }
    if (owner.closed) throw new ClosedError("program");
    programStreams();
    this.#owner = owner;
    this.id = id;
  }

  /** Whether the program handle was closed (reads then throw {@linkcode ClosedError}). */
  get closed(): boolean {
    return this.#owner.closed;
  }

  /** One BPF_PROG_STREAM_READ_BY_FD into the scratch buffer; returns the byte count. */
  #readOnce(): number {
    if (this.#owner.closed) throw new ClosedError("program stream");
    this.#buffer ??= allocBuffer(READ_SIZE);
    const attr = this.#attr.reset()
      .pointer(0, this.#buffer)
      .u32(8, READ_SIZE)
      .u32(12, this.id)
      .u32(16, this.#owner.fd);
    const r = bpfErrno(BpfCmd.PROG_STREAM_READ_BY_FD, attr);
    if (r < 0) throw bpfError(BpfCmd.PROG_STREAM_READ_BY_FD, -r, undefined, this.#what());
    return r;
  }

  #what(): string {
    return this.id === StreamId.Stdout ? "stdout" : "stderr";
  }

  /**
   * Everything the stream holds now, without waiting (empty when it holds nothing), in one
   * read as large as the kernel lets a stream grow. The bytes are the program's text as the
   * kernel formatted it.
   */
  read(): Uint8Array {
    const n = this.#readOnce();
    return this.#buffer!.slice(0, n);
  }

  /** {@linkcode ProgramStream.read} as UTF-8 text. */
  readText(): string {
    return new TextDecoder().decode(this.read());
  }

  /**
   * The stream's bytes as they come, one chunk per non-empty read, until the signal aborts
   * or the program handle closes. Polls with a backoff (see the module doc).
   */
  chunks(options: StreamIterateOptions = {}): AsyncGenerator<Uint8Array, undefined> {
    const source = new PolledSource<Uint8Array>(this, options.maxPollMs, (bytes, push) => {
      push(bytes);
    });
    return new RecordIterator<Uint8Array>(source, options.signal);
  }

  /**
   * The stream's text lines (UTF-8, without the newline) as they come, until the signal
   * aborts or the program handle closes. A line is handed out when its newline arrives.
   * Each read takes all the kernel holds, so read one stream through one iterator: lines
   * read but not yet handed out end with the iterator (as on `break`). Polls with a backoff
   * (see the module doc).
   */
  lines(options: StreamIterateOptions = {}): AsyncGenerator<string, undefined> {
    const decoder = new TextDecoder();
    let partial = "";
    const source = new PolledSource<string>(this, options.maxPollMs, (bytes, push) => {
      const parts = (partial + decoder.decode(bytes, { stream: true })).split("\n");
      partial = parts.pop()!;
      for (const line of parts) push(line);
    });
    return new RecordIterator<string>(source, options.signal);
  }

  /** The stream's lines: `for await (const line of prog.stdout)`. */
  [Symbol.asyncIterator](): AsyncGenerator<string, undefined> {
    return this.lines();
  }
}

/**
 * A stream as a record source for {@linkcode RecordIterator}: each drain reads what is
 * buffered and splits it into records; each wait sleeps with the backoff.
 */
class PolledSource<R> implements RecordSource<R> {
  readonly #stream: ProgramStream;
  readonly #maxPollMs: number;
  readonly #split: (bytes: Uint8Array, push: (record: R) => void) => void;
  /** Records split off but not yet handed out (a drain hands out at most `max`). */
  readonly #queue: R[] = [];
  #delay = MIN_POLL_MS;

  constructor(
    stream: ProgramStream,
    maxPollMs: number | undefined,
    split: (bytes: Uint8Array, push: (record: R) => void) => void,
  ) {
    const max = maxPollMs ?? DEFAULT_MAX_POLL_MS;
    if (!(max >= MIN_POLL_MS) || !Number.isFinite(max)) {
      throw new RangeError(`Invalid maxPollMs ${maxPollMs}: must be a number of ms, 1 or more`);
    }
    this.#stream = stream;
    this.#maxPollMs = max;
    this.#split = split;
  }

  get closed(): boolean {
    return this.#stream.closed;
  }

  drain(onRecord: (record: R) => void, max: number): number {
    if (this.#queue.length === 0) {
      const bytes = this.#stream.read();
      if (bytes.length > 0) {
        this.#delay = MIN_POLL_MS;
        this.#split(bytes, (record) => this.#queue.push(record));
      }
    }
    const taken = this.#queue.splice(0, max);
    for (const record of taken) onRecord(record);
    return taken.length;
  }

  wait(options: WaitOptions = {}): Promise<boolean> {
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const delay = this.#delay;
    this.#delay = Math.min(this.#maxPollMs, delay * 2);
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal!.reason);
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve(true);
      }, delay);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }
}
