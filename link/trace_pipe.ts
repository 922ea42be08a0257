/**
 * trace_pipe: what programs print with `bpf_printk` (`bpf_trace_printk`), read from tracefs
 * the way `cat /sys/kernel/tracing/trace_pipe` and `bpftool prog tracelog` do, each line
 * parsed into its task, pid, CPU, flags, timestamp, event and message.
 *
 * Reading trace_pipe consumes: lines one reader took, another (a second process, a second
 * `TracePipe`) does not see. The file is opened non-blocking and waited on with epoll, so
 * that closing the pipe or aborting its signal ends a pending wait at once instead of
 * leaving a blocked read behind.
 *
 * @module
 */

import { allocBuffer, closeFd, openFd, OpenFlags, readFd } from "../ffi.ts";
import { ClosedError, Errno } from "../errors.ts";
import { EpollWaiter, type WaitOptions } from "../map/_epoll_waiter.ts";
import { RecordIterator, type RecordSource } from "../map/_record_iterator.ts";
import { tracefsRoot } from "./_tracefs.ts";

/** One line of trace_pipe, parsed. */
export interface TraceLine {
  /**
   * The task's name (`comm`, at most 15 characters; may hold spaces and dashes), or `<...>`
   * when the kernel's cache of names (`saved_cmdlines`) no longer holds the pid.
   */
  task: string;
  /** The id of the thread that wrote the line (the kernel's `pid`, a thread id). */
  pid: number;
  /** The thread group (process) id, when the `record-tgid` option shows it. */
  tgid?: number;
  /** The CPU it ran on. */
  cpu: number;
  /**
   * The latency flags (irqs-off, need-resched, hardirq/softirq, preempt depth, and on
   * newer kernels migrate-disable, such as `"d..2."`), when the `irq-info` option shows them.
   */
  flags?: string;
  /** The timestamp in seconds of the trace clock (`local` by default: since boot). */
  timestamp: number;
  /** The trace event: `bpf_trace_printk` for `bpf_printk`. */
  event: string;
  /** What was printed, without the trailing newline. */
  message: string;
}

// TASK-PID [(TGID)] [CPU] [FLAGS] SECONDS.MICROS: EVENT: MESSAGE. The task comes first and
// may hold spaces and dashes: the pid is the last `-digits` before the CPU column.
const LINE =
  /^\s*(.*)-(\d+)\s+(?:\(\s*(\d+|-+)\)\s+)?\[(\d+)\]\s+(?:(\S+)\s+)?(\d+(?:\.\d+)?):\s+([^\s:]+):\s?(.*)$/;

/**
 * Parses one trace_pipe line (without its newline); undefined for a line that is not an
 * event, such as `CPU:1 [LOST 3 EVENTS]` or the continuation of a multi-line message.
 *
 * @example
 * ```ts
 * import { parseTraceLine } from "@ebpf/ebpf/link";
 * const line = parseTraceLine("  curl-4242  [001] d..31  1234.500000: bpf_trace_printk: hi");
 * console.log(line?.pid, line?.message); // 4242 hi
 * ```
 */
export function parseTraceLine(line: string): TraceLine | undefined {
  const m = LINE.exec(line);
  if (!m) return undefined;
  const [, task, pid, tgid, cpu, flags, timestamp, event, message] = m;
  const parsed: TraceLine = {
    task,
    pid: Number(pid),
    cpu: Number(cpu),
    timestamp: Number(timestamp),
    event,
    message,
  };
  if (tgid !== undefined && !tgid.startsWith("-")) parsed.tgid = Number(tgid);
  if (flags !== undefined) parsed.flags = flags;
  return parsed;
}

/** Options of {@linkcode TracePipe.open}. */
export interface TracePipeOptions {
  /** Only lines written by this thread id (the `pid` of {@linkcode TraceLine}). */
  pid?: number;
  /** Only lines whose message contains this text. */
  contains?: string;
  /**
   * Every trace event of the top-level tracefs instance (trace_marker writes, enabled
   * events), not only `bpf_trace_printk` lines. Default false.
   */
  allEvents?: boolean;
  /** Closes the pipe when it aborts: its iterations end. */
  signal?: AbortSignal;
}

/** Bytes per read: trace_pipe hands out whole lines, as many as fit. */
const READ_SIZE = 64 * 1024;
/** Reads per fill: a busy pipe cannot keep one drain going for ever. */
const MAX_READS = 16;
const EBPF_EVENT = "bpf_trace_printk";

/**
 * The trace_pipe of tracefs, read as parsed lines. tracefs is mounted when it is missing
 * and the process may (root, `-A`); otherwise the error gives the mount command.
 *
 * @example
 * ```ts ignore
 * using pipe = TracePipe.open({ contains: "hello", signal: AbortSignal.timeout(10_000) });
 * for await (const line of pipe) console.log(line.task, line.pid, line.message);
 * ```
 */
export class TracePipe implements AsyncIterable<TraceLine>, Disposable {
  readonly #fd: number;
  readonly #waiter: EpollWaiter;
  readonly #buffer = allocBuffer(READ_SIZE);
  readonly #decoder = new TextDecoder();
  readonly #keep: (line: TraceLine) => boolean;
  readonly #queue: TraceLine[] = [];
  readonly #signal: AbortSignal | undefined;
  readonly #onAbort = () => this.close();
  #partial = "";
  #closed = false;
  #ended = false;
  #skipped = 0;

  private constructor(fd: number, waiter: EpollWaiter, options: TracePipeOptions) {
    this.#fd = fd;
    this.#waiter = waiter;
    const { pid, contains, allEvents = false } = options;
    this.#keep = (line) =>
      (allEvents || line.event === EBPF_EVENT) && (pid === undefined || line.pid === pid) &&
      (contains === undefined || line.message.includes(contains));
    this.#signal = options.signal;
    this.#signal?.addEventListener("abort", this.#onAbort, { once: true });
  }

  /** Opens trace_pipe (mounting tracefs when it is missing and the process may). */
  static open(options: TracePipeOptions = {}): TracePipe {
    if (options.pid !== undefined && !(Number.isInteger(options.pid) && options.pid >= 0)) {
      throw new RangeError(`Invalid pid ${options.pid}: must be an integer, 0 or more`);
    }
    options.signal?.throwIfAborted();
    const path = `${tracefsRoot()}/trace_pipe`;
    const fd = openFd(path, OpenFlags.RDONLY | OpenFlags.NONBLOCK);
    let waiter: EpollWaiter;
    try {
      waiter = new EpollWaiter("trace pipe");
      waiter.add(fd, 0n);
    } catch (e) {
      closeFd(fd);
      throw e;
    }
    return new TracePipe(fd, waiter, options);
  }

  /** Whether the pipe was closed (or tracing turned off and the pipe reached its end). */
  get closed(): boolean {
    return this.#closed || this.#ended;
  }

  /** Lines that were not events (lost-event notes, continuation lines), skipped. */
  get skipped(): number {
    return this.#skipped;
  }

  /** Reads what trace_pipe holds now into the queue of kept lines. */
  #fill(): void {
    if (this.#closed) throw new ClosedError("trace pipe");
    for (let i = 0; i < MAX_READS && !this.#ended; i++) {
      const n = readFd(this.#fd, this.#buffer);
      if (n === -Errno.EAGAIN) return;
      if (n === -Errno.EINTR) continue;
      // 0: tracing is off and what was traced has been read.
      if (n === 0) this.#ended = true;
      const text = this.#partial + this.#decoder.decode(this.#buffer.subarray(0, n), {
        stream: n > 0,
      });
      const lines = text.split("\n");
      this.#partial = lines.pop()!;
      for (const raw of lines) {
        const line = parseTraceLine(raw);
        if (line === undefined) this.#skipped++;
        else if (this.#keep(line)) this.#queue.push(line);
      }
    }
  }

  /** The lines as they come, until the pipe closes or `signal` aborts. */
  lines(options: { signal?: AbortSignal } = {}): AsyncGenerator<TraceLine, undefined> {
    // deno-lint-ignore no-this-alias
    const pipe = this;
    const source: RecordSource<TraceLine> = {
      get closed() {
        return pipe.closed;
      },
      drain(onRecord, max) {
        if (pipe.#queue.length === 0 && !pipe.closed) pipe.#fill();
        const taken = pipe.#queue.splice(0, max);
        for (const line of taken) onRecord(line);
        return taken.length;
      },
      wait(wait: WaitOptions = {}) {
        return pipe.#waiter.wait(() => {
          pipe.#fill();
          return pipe.#queue.length > 0 || pipe.#ended;
        }, wait);
      },
    };
    return new RecordIterator<TraceLine>(source, options.signal);
  }

  /** The lines: `for await (const line of pipe)`. */
  [Symbol.asyncIterator](): AsyncGenerator<TraceLine, undefined> {
    return this.lines();
  }

  /** Closes the pipe: pending waits end (iterations finish), the fd is closed. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#signal?.removeEventListener("abort", this.#onAbort);
    this.#waiter.close();
    closeFd(this.#fd);
  }

  /** Same as {@linkcode TracePipe.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}
