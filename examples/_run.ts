// Shared by the examples: the --duration flag, and how long an example runs: until the
// duration is over or Ctrl-C, ticking every second for those that print a table.

/** `--duration <seconds>` from the command line, or `fallback`. */
export function durationArg(fallback: number): number {
  const i = Deno.args.indexOf("--duration");
  if (i < 0) return fallback;
  const n = Number(Deno.args[i + 1]);
  if (!Number.isFinite(n) || n < 0) throw new RangeError("Option '--duration' needs seconds");
  return n;
}

/** An example's run: its signal aborts when the duration is over or on Ctrl-C. */
export interface Running extends Disposable {
  readonly signal: AbortSignal;
}

/**
 * Starts the run of an attached example: prints that it is attached (the line its tests
 * wait for before making events) and returns a signal that aborts after `seconds` or on
 * Ctrl-C (SIGINT). Dispose of it to drop the timer and the signal handler.
 */
export function running(seconds: number): Running {
  const stop = new AbortController();
  const onStop = () => stop.abort();
  Deno.addSignalListener("SIGINT", onStop);
  const timer = setTimeout(onStop, seconds * 1000);
  console.log(`Attached; running for ${seconds} s (Ctrl-C stops).`);
  return {
    signal: stop.signal,
    [Symbol.dispose]() {
      clearTimeout(timer);
      Deno.removeSignalListener("SIGINT", onStop);
    },
  };
}

/** Calls `tick` every second for `seconds` or until Ctrl-C, then once more. */
export async function everySecond(seconds: number, tick: () => void | Promise<void>) {
  using run = running(seconds);
  while (!run.signal.aborted) {
    await new Promise<void>((resolve) => {
      const t = setTimeout(done, 1000);
      run.signal.addEventListener("abort", done, { once: true });
      function done() {
        clearTimeout(t);
        run.signal.removeEventListener("abort", done);
        resolve();
      }
    });
    await tick();
  }
}
