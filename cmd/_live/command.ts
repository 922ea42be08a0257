/**
 * What every command group of the live inspector shares: the parsed options, the result a
 * command hands back (a JSON value for tools and the text people read), and the error for
 * a command line that makes no sense.
 *
 * @module
 */

/** Options given anywhere on the command line. */
export interface Options {
  /** `--json`: print JSON (bpftool's field names) instead of a table. */
  json: boolean;
  /** `--linum`: show the file, line and column of each source line in `prog dump xlated`. */
  linum: boolean;
  /** `--c` or `--raw`: how `btf dump` prints types. */
  format: "c" | "raw" | undefined;
  /** `--cgroup PATH`: the cgroup `net` lists attachments under. */
  cgroup: string | undefined;
}

/** What a command produced: the same data for tools and for people. */
export interface Output {
  /** What `--json` prints. */
  json: unknown;
  /** What is printed without `--json`. */
  text(): string;
}

/** A command line that does not name a command, or lacks an argument: exit code 2. */
export class UsageError extends Error {
  /** Builds the error. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** The object id in `args[0]` (`ID` or `id ID`, as bpftool takes it). */
export function parseId(args: string[], what: string): number {
  const text = args[0] === "id" ? args[1] : args[0];
  if (text === undefined) throw new UsageError(`Give the ${what}'s id`);
  const id = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(id) || id <= 0 || id > 0xffffffff) {
    throw new UsageError(`Invalid ${what} id: '${text}'`);
  }
  return id;
}

/** Seconds since the epoch of a kernel time in nanoseconds since boot (CLOCK_BOOTTIME). */
export function wallClockSeconds(bootNs: bigint): number {
  // /proc/uptime is CLOCK_BOOTTIME in hundredths of a second: bpftool's clock_gettime
  // difference, to the precision a time printed in whole seconds needs.
  const uptime = Number(Deno.readTextFileSync("/proc/uptime").split(" ")[0]);
  return Math.floor(Date.now() / 1000 - uptime + Number(bootNs) / 1e9);
}

/** A wall-clock time in seconds as `2026-12-02T07:51:29` (local time, as bpftool shows it). */
export function formatTime(seconds: number): string {
  const d = new Date(seconds * 1000);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${
    p(d.getMinutes())
  }:${p(d.getSeconds())}`;
}
