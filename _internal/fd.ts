/**
 * The owner of one file descriptor: every object the kernel hands back as an fd (maps,
 * programs, links, BTF, perf events) holds one of these.
 *
 * @module
 */

import { closeFd, dupFd } from "../ffi.ts";
import { ClosedError } from "../errors.ts";

/** Closes fds whose owners were garbage-collected without `close()`: a safety net only. */
const finalizer = new FinalizationRegistry<number>((raw) => closeFd(raw));

/**
 * A file descriptor with one owner. `close()` is idempotent, `raw` throws a
 * {@linkcode ClosedError} after close, and `using` closes it at the end of a scope.
 */
export class FD {
  #raw: number;
  readonly #what: string;

  /**
   * Takes ownership of `raw`. fd 0 is moved to a higher number first: many bpf_attr fields
   * treat 0 as "no fd", so an object must never live at 0.
   */
  constructor(raw: number, what = "file descriptor") {
    if (!Number.isInteger(raw) || raw < 0) {
      throw new RangeError(`Invalid file descriptor: ${raw}`);
    }
    if (raw === 0) {
      const moved = dupFd(0, 1);
      closeFd(0);
      raw = moved;
    }
    this.#raw = raw;
    this.#what = what;
    finalizer.register(this, raw, this);
  }

  /** The fd number. Throws {@linkcode ClosedError} once closed. */
  get raw(): number {
    if (this.#raw < 0) throw new ClosedError(this.#what);
    return this.#raw;
  }

  /** Whether `close()` has been called. */
  get closed(): boolean {
    return this.#raw < 0;
  }

  /** Closes the fd; a second call does nothing. */
  close(): void {
    if (this.#raw < 0) return;
    finalizer.unregister(this);
    closeFd(this.#raw);
    this.#raw = -1;
  }

  /**
   * Gives up ownership without closing: returns the fd number for a new owner (such as a
   * Worker) and leaves this object closed. The safety-net finalizer forgets the fd too.
   */
  release(): number {
    const raw = this.raw;
    finalizer.unregister(this);
    this.#raw = -1;
    return raw;
  }

  /** A new owner of a duplicate of this fd (close-on-exec, never 0). */
  dup(): FD {
    return new FD(dupFd(this.raw, 1), this.#what);
  }

  /** Closes the fd at the end of a `using` scope. */
  [Symbol.dispose](): void {
    this.close();
  }
}
