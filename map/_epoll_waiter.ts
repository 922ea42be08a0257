/**
 * The waiting half of the ring and perf readers: an epoll set with an eventfd that wakes a
 * pending wait (for close and abort), waits that keep the event loop free, and fds that
 * outlive any wait still in flight.
 *
 * @module
 */

import {
  allocBuffer,
  closeFd,
  epollCreate,
  EpollCtl,
  epollCtl,
  epollWait,
  eventFd,
  readFd,
  writeFd,
} from "../ffi.ts";
import { ClosedError } from "../errors.ts";

const EPOLLIN = 0x001;
const WAKE_EVENT = 0xffff_ffff_ffff_ffffn;
/** Bounded slices keep a forgotten wait from pinning the process for long. */
const SLICE_MS = 1000;

/** Options of a wait for data. */
export interface WaitOptions {
  /** Give up after this many milliseconds: the wait resolves false. */
  timeoutMs?: number;
  /** Abort the wait: it rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** An epoll set over some fds plus a wake-up eventfd. */
export class EpollWaiter {
  readonly #epfd: number;
  readonly #wakeFd: number;
  readonly #events: Uint8Array;
  readonly #scratch = allocBuffer(8);
  readonly #what: string;
  #pending: Promise<number> | undefined;
  #closed = false;
  #fdsClosed = false;

  /** Makes the set; `what` names the owner in {@linkcode ClosedError}s. */
  constructor(what: string, maxEvents = 64) {
    this.#what = what;
    this.#events = allocBuffer(16 * maxEvents);
    this.#epfd = epollCreate();
    try {
      this.#wakeFd = eventFd();
    } catch (e) {
      closeFd(this.#epfd);
      throw e;
    }
    try {
      epollCtl(this.#epfd, EpollCtl.ADD, this.#wakeFd, EPOLLIN, WAKE_EVENT);
    } catch (e) {
      this.#closeFds();
      throw e;
    }
  }

  /** Watches `fd` for readability. */
  add(fd: number, data: bigint): void {
    epollCtl(this.#epfd, EpollCtl.ADD, fd, EPOLLIN, data);
  }

  /**
   * Waits until `ready()` is true (resolves true), the timeout passes (false), the signal
   * aborts (rejects with its reason) or the waiter is closed (rejects with ClosedError).
   */
  async wait(ready: () => boolean, options: WaitOptions = {}): Promise<boolean> {
    if (this.#closed) throw new ClosedError(this.#what);
    options.signal?.throwIfAborted();
    if (ready()) return true;
    const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
    const onAbort = () => this.wake();
    options.signal?.addEventListener("abort", onAbort, { once: true });
    try {
      for (;;) {
        const slice = Math.max(0, Math.min(SLICE_MS, deadline - Date.now()));
        const pending = epollWait(this.#epfd, this.#events, this.#events.length / 16, slice);
        this.#pending = pending;
        try {
          await pending;
        } finally {
          this.#pending = undefined;
          if (this.#closed) this.#closeFds();
        }
        if (this.#closed) throw new ClosedError(this.#what);
        readFd(this.#wakeFd, this.#scratch); // consume a wake-up so later waits block again
        options.signal?.throwIfAborted();
        if (ready()) return true;
        if (Date.now() >= deadline) return false;
      }
    } finally {
      options.signal?.removeEventListener("abort", onAbort);
    }
  }

  /** Makes a pending wait return at once. */
  wake(): void {
    const one = allocBuffer(8);
    one[0] = 1;
    writeFd(this.#wakeFd, one);
  }

  /** Ends pending waits; the fds are closed once no wait uses them (FFI_NOTES rule 15). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#pending) this.wake();
    else this.#closeFds();
  }

  #closeFds(): void {
    if (this.#fdsClosed) return;
    this.#fdsClosed = true;
    closeFd(this.#epfd);
    closeFd(this.#wakeFd);
  }
}

/**
 * The records of a reader as they arrive, until it is closed: drain what is there, then wait.
 * A close during the wait ends the stream; any other error propagates.
 */
export async function* recordStream<T>(reader: {
  readonly closed: boolean;
  drain(onRecord: (record: T) => void): unknown;
  wait(): Promise<boolean>;
}): AsyncGenerator<T> {
  const batch: T[] = [];
  while (!reader.closed) {
    reader.drain((r) => batch.push(r));
    while (batch.length > 0) yield batch.shift()!;
    try {
      await reader.wait();
    } catch (e) {
      if (e instanceof ClosedError) return;
      throw e;
    }
  }
}
