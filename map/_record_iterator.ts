/**
 * The async iterator of the ring and perf readers: records are drained a bounded batch at a
 * time into a fixed array and handed out by index, so each record costs O(1) and at most
 * one batch sits in JavaScript while the rest stays in the ring (where the kernel counts
 * what a slow consumer makes it drop). When the batch is used up it drains again, and waits
 * on epoll only when the ring is empty.
 *
 * A close of the reader (or of its map) ends the iteration once the records already drained
 * are handed out; an abort of the signal throws its reason out of the next `next()`. It is
 * an object rather than an `async function*`: a generator's `yield` costs a few extra
 * promise reactions per record, which is most of the time a full ring takes.
 *
 * @module
 */

import { ClosedError } from "../errors.ts";
import type { WaitOptions } from "./_epoll_waiter.ts";

/** Records drained per batch: enough to amortise a drain, small enough to stay bounded. */
export const ITERATOR_BATCH = 1024;

/** What a reader gives the iterator. */
export interface RecordSource<R> {
  readonly closed: boolean;
  /** Hands at most `max` available records to `onRecord`, without waiting. */
  drain(onRecord: (record: R) => void, max: number): number;
  /** Resolves when records are there; rejects with ClosedError on close. */
  wait(options?: WaitOptions): Promise<boolean>;
}

/** The iterator; `map` turns each record into what is handed out (identity when absent). */
export class RecordIterator<R, T = R> implements AsyncGenerator<T, undefined, undefined> {
  readonly #source: RecordSource<R>;
  readonly #signal: AbortSignal | undefined;
  readonly #waitOptions: WaitOptions;
  readonly #batch: (T | undefined)[] = new Array(ITERATOR_BATCH).fill(undefined);
  #count = 0;
  #at = 0;
  #done = false;
  /** The refill in progress: `next()` calls made meanwhile queue behind it, in order. */
  #refilling: Promise<IteratorResult<T, undefined>> | undefined;
  readonly #push: (record: R) => void;

  constructor(source: RecordSource<R>, signal?: AbortSignal, map?: (record: R) => T) {
    this.#source = source;
    this.#signal = signal;
    this.#waitOptions = { signal };
    const batch = this.#batch;
    this.#push = map
      ? (record) => void (batch[this.#count++] = map(record))
      : (record) => void (batch[this.#count++] = record as unknown as T);
  }

  /** The next record: at once from the batch, else after a drain (and a wait if empty). */
  next(): Promise<IteratorResult<T, undefined>> {
    if (this.#refilling) {
      // As a generator's queued calls: after a refill that threw, the iteration is over.
      const next = () => this.next();
      return this.#refilling.then(next, next);
    }
    if (this.#at < this.#count) {
      const signal = this.#signal;
      if (signal !== undefined && signal.aborted) return this.#fail(signal.reason);
      const value = this.#batch[this.#at] as T;
      this.#batch[this.#at++] = undefined;
      return Promise.resolve({ done: false, value });
    }
    const refill = this.#refill();
    this.#refilling = refill;
    const clear = () => {
      if (this.#refilling === refill) this.#refilling = undefined;
    };
    refill.then(clear, clear);
    return refill;
  }

  async #refill(): Promise<IteratorResult<T, undefined>> {
    this.#count = 0;
    this.#at = 0;
    const source = this.#source;
    const signal = this.#signal;
    try {
      while (!this.#done && !source.closed) {
        signal?.throwIfAborted();
        source.drain(this.#push, ITERATOR_BATCH);
        if (this.#count > 0) {
          const value = this.#batch[0] as T;
          this.#batch[0] = undefined;
          this.#at = 1;
          return { done: false, value };
        }
        try {
          await source.wait(this.#waitOptions);
        } catch (e) {
          if (e instanceof ClosedError) break;
          throw e;
        }
      }
    } catch (e) {
      this.#finish();
      throw e;
    }
    this.#finish();
    return { done: true, value: undefined };
  }

  #fail(error: unknown): Promise<never> {
    this.#finish();
    return Promise.reject(error);
  }

  /** Ends the iteration and lets go of the records still in the batch. */
  #finish(): void {
    this.#done = true;
    this.#batch.fill(undefined, this.#at, this.#count);
    this.#count = this.#at = 0;
  }

  /** Ends the iteration (a `break` out of `for await` calls it). */
  return(): Promise<IteratorResult<T, undefined>> {
    // As a generator would: after the drain or wait in progress, not across it.
    if (this.#refilling) {
      const after = () => this.return();
      return this.#refilling.then(after, after);
    }
    this.#finish();
    return Promise.resolve({ done: true, value: undefined });
  }

  /** Ends the iteration and rethrows `error`. */
  throw(error: unknown): Promise<IteratorResult<T, undefined>> {
    return this.#fail(error);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** Ends the iteration at the end of an `await using` scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.return().then(() => {});
  }
}
