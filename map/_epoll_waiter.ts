/**
 * The waiting half of the ring and perf readers: an epoll set with an eventfd that wakes the
 * wait in flight (FFI_NOTES rule 11), waits that keep the event loop free, and fds that
 * outlive the wait still in flight (rule 15).
 *
 * Any number of callers may wait at once; they share one `epoll_wait` in flight (a second
 * call on the same set would race the first for the wake-up). Close and abort take a
 * caller out at once and wake the call in flight when nobody else needs it; the caller's
 * promise settles when that call has returned (tens of µs), so that once it has settled no
 * call is pending and, after close, the fds are closed.
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

/** One caller's wait. */
interface Waiter {
  ready: () => boolean;
  deadline: number;
  resolve: (ready: boolean) => void;
  reject: (error: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/** An epoll set over some fds plus a wake-up eventfd. */
export class EpollWaiter {
  readonly #epfd: number;
  readonly #wakeFd: number;
  readonly #events: Uint8Array;
  readonly #scratch = allocBuffer(8);
  readonly #one = allocBuffer(8);
  #what: string;
  readonly #waiters = new Set<Waiter>();
  /** Whether the poll loop runs, and whether its epoll_wait is in flight now. */
  #polling = false;
  #inFlight = false;
  /** Settlements held back until the call in flight returns. */
  readonly #afterCall: (() => void)[] = [];
  #closed = false;
  #fdsClosed = false;

  /** Makes the set; `what` names the owner in {@linkcode ClosedError}s. */
  constructor(what: string, maxEvents = 64) {
    this.#what = what;
    this.#events = allocBuffer(16 * maxEvents);
    this.#one[0] = 1;
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
  wait(ready: () => boolean, options: WaitOptions = {}): Promise<boolean> {
    const { timeoutMs, signal } = options;
    if (timeoutMs !== undefined && !(timeoutMs >= 0)) {
      return Promise.reject(new RangeError(`timeoutMs must be 0 or more, got ${timeoutMs}`));
    }
    if (this.#closed) return Promise.reject(new ClosedError(this.#what));
    if (signal?.aborted) return Promise.reject(signal.reason);
    try {
      if (ready()) return Promise.resolve(true);
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise<boolean>((resolve, reject) => {
      const waiter: Waiter = {
        ready,
        deadline: timeoutMs === undefined ? Infinity : Date.now() + timeoutMs,
        resolve,
        reject,
        signal,
        onAbort: undefined,
      };
      if (signal) {
        waiter.onAbort = () => this.#settle(waiter, false, signal.reason, true);
        signal.addEventListener("abort", waiter.onAbort, { once: true });
      }
      this.#waiters.add(waiter);
      if (!this.#polling) this.#poll();
    });
  }

  /**
   * Resolves (no error) or rejects one waiter, once. The last one out while a call is in
   * flight wakes that call (it would keep the process alive) and settles when it returns.
   */
  #settle(waiter: Waiter, ready: boolean, error?: unknown, failed = error !== undefined): void {
    if (!this.#waiters.delete(waiter)) return;
    if (waiter.onAbort) waiter.signal!.removeEventListener("abort", waiter.onAbort);
    const settle = failed ? () => waiter.reject(error) : () => waiter.resolve(ready);
    if (this.#waiters.size === 0 && this.#inFlight) {
      this.#afterCall.push(settle);
      this.wake();
    } else {
      settle();
    }
  }

  /** The one loop that calls epoll_wait while anybody waits. Never rejects. */
  async #poll(): Promise<void> {
    this.#polling = true;
    try {
      while (this.#waiters.size > 0 && !this.#closed) {
        let slice = SLICE_MS;
        const now = Date.now();
        for (const w of this.#waiters) slice = Math.min(slice, w.deadline - now);
        let failure: { error: unknown } | undefined;
        this.#inFlight = true;
        try {
          await epollWait(
            this.#epfd,
            this.#events,
            this.#events.length / 16,
            Math.max(0, Math.ceil(slice)),
          );
          if (!this.#closed) readFd(this.#wakeFd, this.#scratch); // consume a wake-up
        } catch (error) {
          failure = { error };
        } finally {
          this.#inFlight = false;
        }
        if (this.#closed) this.#closeFds();
        for (const settle of this.#afterCall.splice(0)) settle();
        if (failure) {
          for (const w of [...this.#waiters]) this.#settle(w, false, failure.error, true);
          break;
        }
        const after = Date.now();
        for (const w of [...this.#waiters]) {
          try {
            if (w.ready()) this.#settle(w, true);
            else if (after >= w.deadline) this.#settle(w, false);
          } catch (e) {
            this.#settle(w, false, e, true);
          }
        }
      }
    } finally {
      this.#polling = false;
      if (this.#closed) this.#closeFds();
      for (const settle of this.#afterCall.splice(0)) settle();
    }
  }

  /** Makes the epoll_wait in flight, if any, return at once. */
  wake(): void {
    if (!this.#fdsClosed) writeFd(this.#wakeFd, this.#one);
  }

  /**
   * Rejects every pending wait with {@linkcode ClosedError} (naming `what`, when given,
   * instead of the owner given at construction) and ends the epoll_wait in flight; the fds
   * are closed once no call uses them.
   */
  close(what?: string): void {
    if (this.#closed) return;
    this.#closed = true;
    if (what !== undefined) this.#what = what;
    const error = new ClosedError(this.#what);
    for (const w of [...this.#waiters]) this.#settle(w, false, error, true);
    if (!this.#polling) this.#closeFds();
  }

  #closeFds(): void {
    if (this.#fdsClosed) return;
    this.#fdsClosed = true;
    closeFd(this.#epfd);
    closeFd(this.#wakeFd);
  }
}
