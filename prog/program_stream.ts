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
 * What the kernel handed over but no one consumed yet (the lines after the one a `break`
 * stopped at, a line still without its newline) stays with the stream object, so the next
 * read or iterator of the same handle goes on from there: nothing read is lost.
 *
 * @module
 */

import { allocBuffer, Attr, BpfCmd, bpfErrno, bpfError } from "../ffi.ts";
import { ClosedError } from "../errors.ts";
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
 * `program.stream(id)`. Reading consumes: what one handle (or another process) took from the
 * kernel, another does not see. Bytes this handle took but did not hand out yet (lines after a
 * `break`, a line without its newline) wait in the stream for its next read or iterator.
 * A stream lives as long as its program handle is open; closing the handle ends its iterators.
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
  /** Bytes taken from the kernel and not handed out yet. */
  #held: Uint8Array = new Uint8Array(0);

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

  /** One BPF_PROG_STREAM_READ_BY_FD, appended to what the stream holds; the byte count. */
  #take(): number {
    if (this.#owner.closed) throw new ClosedError("program stream");
    this.#buffer ??= allocBuffer(READ_SIZE);
    const attr = this.#attr.reset()
      .pointer(0, this.#buffer)
      .u32(8, READ_SIZE)
      .u32(12, this.id)
      .u32(16, this.#owner.fd);
    const r = bpfErrno(BpfCmd.PROG_STREAM_READ_BY_FD, attr);
    if (r < 0) throw bpfError(BpfCmd.PROG_STREAM_READ_BY_FD, -r, undefined, this.#what());
    if (r > 0) {
      const held = new Uint8Array(this.#held.length + r);
      held.set(this.#held);
      held.set(this.#buffer.subarray(0, r), this.#held.length);
      this.#held = held;
    }
    return r;
  }

  #what(): string {
    return this.id === StreamId.Stdout ? "stdout" : "stderr";
  }

  /** Hands out the first `n` held bytes. */
  #handOut(n: number): Uint8Array {
    const out = this.#held.subarray(0, n);
    this.#held = this.#held.subarray(n);
    return out;
  }

  /**
   * Everything the stream holds now, without waiting (empty when it holds nothing): what
   * this handle kept from earlier reads, then one read as large as the kernel lets a stream
   * grow. The bytes are the program's text as the kernel formatted it.
   */
  read(): Uint8Array {
    this.#take();
    return this.#handOut(this.#held.length);
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
    return this.#poll(options, () => {
      if (this.#held.length === 0) this.#take();
      return this.#held.length > 0 ? this.#handOut(this.#held.length) : undefined;
    });
  }

  /**
   * The stream's text lines (UTF-8, without the newline) as they come, until the signal
   * aborts or the program handle closes. A line is handed out when its newline arrives; the
   * rest stays in the stream, so a later iterator goes on where a `break` stopped. Polls with
   * a backoff (see the module doc).
   */
  lines(options: StreamIterateOptions = {}): AsyncGenerator<string, undefined> {
    const decoder = new TextDecoder();
    return this.#poll(options, () => {
      let end = this.#held.indexOf(NEWLINE);
      if (end < 0 && this.#take() > 0) end = this.#held.indexOf(NEWLINE);
      if (end < 0) return undefined;
      // A newline byte never occurs inside a UTF-8 sequence: each line decodes on its own.
      return decoder.decode(this.#handOut(end + 1).subarray(0, end));
    });
  }

  /** The stream's lines: `for await (const line of prog.stdout)`. */
  [Symbol.asyncIterator](): AsyncGenerator<string, undefined> {
    return this.lines();
  }

  /**
   * Hands out what `next` finds, waiting with the backoff while it finds nothing. Checks the
   * options at once (a generator's body would check them only at the first `next()`).
   */
  #poll<T>(options: StreamIterateOptions, next: () => T | undefined): AsyncGenerator<T, undefined> {
    const maxPollMs = options.maxPollMs ?? DEFAULT_MAX_POLL_MS;
    if (!(maxPollMs >= MIN_POLL_MS) || !Number.isFinite(maxPollMs)) {
      throw new RangeError(
        `Invalid maxPollMs ${options.maxPollMs}: must be a number of ms, 1 or more`,
      );
    }
    return this.#polling(options.signal, maxPollMs, next);
  }

  async *#polling<T>(
    signal: AbortSignal | undefined,
    maxPollMs: number,
    next: () => T | undefined,
  ): AsyncGenerator<T, undefined> {
    let delay = MIN_POLL_MS;
    while (!this.closed) {
      signal?.throwIfAborted();
      const value = next();
      if (value !== undefined) {
        delay = MIN_POLL_MS;
        yield value;
        continue;
      }
      await sleep(delay, signal);
      delay = Math.min(maxPollMs, delay * 2);
    }
    return undefined;
  }
}

const NEWLINE = 0x0a;

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
