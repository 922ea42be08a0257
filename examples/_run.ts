// Shared by the examples: the --duration flag, and a loop that ticks every second until the
// duration is over or Ctrl-C.

/** `--duration <seconds>` from the command line, or `fallback`. */
export function durationArg(fallback: number): number {
  const i = Deno.args.indexOf("--duration");
  if (i < 0) return fallback;
  const n = Number(Deno.args[i + 1]);
  if (!Number.isFinite(n) || n < 0) throw new RangeError("Option '--duration' needs seconds");
  return n;
}

/** Calls `tick` every second for `seconds` or until Ctrl-C, then once more. */
export async function everySecond(seconds: number, tick: () => void | Promise<void>) {
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  Deno.addSignalListener("SIGINT", onSignal);
  try {
    const end = Date.now() + seconds * 1000;
    while (!stop.signal.aborted && Date.now() < end) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(1000, end - Date.now()));
        stop.signal.addEventListener("abort", () => {
          clearTimeout(t);
          resolve();
        }, { once: true });
      });
      await tick();
    }
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
  }
}
