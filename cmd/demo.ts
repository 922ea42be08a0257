/**
 * `deno task demo`: the top processes by system call count, live. Loads the bundled
 * syscall counter (testdata/demo_syscalls.c, embedded through its bpf2ts bindings),
 * attaches it to the `raw_syscalls:sys_enter` tracepoint, and prints a table every second
 * for `--duration` seconds (default 10) or until Ctrl-C; then detaches.
 *
 * ```sh
 * sudo deno task demo                 # 10 seconds
 * sudo deno task demo --duration 60 --top 20
 * sudo deno task demo --pid 1234      # count one process only (a load-time constant)
 * sudo deno task demo --hist          # and a histogram of system call latency at the end
 * ```
 *
 * Needs root (or CAP_BPF and CAP_PERFMON) and `--allow-all`: Deno lets only `-A` read the
 * files under /sys where tracefs and the CPU list live. Where tracefs is not mounted (a
 * machine booted without systemd), the tracepoint attach mounts it as root, or says the
 * command that does.
 *
 * @module
 */

import { PermissionError } from "../errors.ts";
import { attachTracepoint } from "../link/tracepoint.ts";
import { type DemoSyscallsObjects, loadDemoSyscalls } from "./_demo_syscalls_bpf.ts";
import { timeSyscalls } from "./_demo_latency.ts";

/** Options of {@linkcode runDemo}. */
export interface DemoOptions {
  /** How long to run, in seconds. */
  duration: number;
  /** Rows in the table. */
  top: number;
  /** Count only this process (0: every process). */
  pid: number;
  /** Where the table goes. */
  write: (text: string) => void;
  /** Clear the screen before each table (when writing to a terminal). */
  clear: boolean;
  /** Stops early when aborted (Ctrl-C). */
  signal?: AbortSignal;
  /** Time the system calls too, and print their latency histogram at the end. */
  hist?: boolean;
}

/** One row of the table. */
export interface DemoRow {
  /** Process id (the thread group id). */
  pid: number;
  /** Command name, as the kernel keeps it (15 characters). */
  comm: string;
  /** System calls since the demo started. */
  calls: bigint;
  /** System calls in the last interval. */
  rate: bigint;
}

/** The rows of the table: every process the map holds, busiest in the last interval first. */
export function topRows(
  objs: DemoSyscallsObjects,
  previous: Map<number, bigint>,
  top: number,
): DemoRow[] {
  const rows: DemoRow[] = [];
  for (const [pid, c] of objs.maps.calls_by_pid.entries()) {
    rows.push({ pid, comm: c.comm, calls: c.calls, rate: c.calls - (previous.get(pid) ?? 0n) });
    previous.set(pid, c.calls);
  }
  rows.sort((a, b) => (b.rate > a.rate ? 1 : b.rate < a.rate ? -1 : b.calls > a.calls ? 1 : -1));
  return rows.slice(0, top);
}

/** The table as text. */
export function formatTable(rows: DemoRow[], elapsed: number, processes: number): string {
  const lines = [
    `Top processes by system calls, ${elapsed} s, ${processes} processes seen (Ctrl-C stops)`,
    `${"PID".padStart(8)}  ${"COMMAND".padEnd(16)}${"CALLS/S".padStart(12)}${"TOTAL".padStart(14)}`,
  ];
  for (const r of rows) {
    lines.push(
      `${String(r.pid).padStart(8)}  ${r.comm.padEnd(16)}${String(r.rate).padStart(12)}${
        String(r.calls).padStart(14)
      }`,
    );
  }
  return lines.join("\n") + "\n";
}

/** What stops the demo from running here, or undefined: checked before touching the kernel. */
export function missingPermissions(): string | undefined {
  const missing: string[] = [];
  // Deno reads /sys (tracefs, the CPU list) only with --allow-all; -A grants every one of these.
  for (const name of ["ffi", "read", "write", "run", "env", "net", "sys"] as const) {
    if (Deno.permissions.querySync({ name }).state !== "granted") missing.push(`--allow-${name}`);
  }
  if (missing.length === 0) return undefined;
  return `The demo needs --allow-all (-A; missing here: ${missing.join(", ")}): ` +
    "--allow-ffi for bpf(2), and Deno reads tracefs under /sys only with -A. " +
    "Run it with `deno task demo`, or `deno run -A cmd/demo.ts`";
}

/** Loads, attaches, prints the table every second, detaches. */
export async function runDemo(options: DemoOptions): Promise<void> {
  // Attached first, so that every call the table counts is timed.
  using latency = options.hist ? timeSyscalls(options.pid) : undefined;
  using objs = loadDemoSyscalls({ constants: { only_pid: options.pid } });
  using _link = attachTracepoint(objs.programs.count_syscalls, "raw_syscalls", "sys_enter");
  const previous = new Map<number, bigint>();
  const started = Date.now();
  const end = started + options.duration * 1000;
  while (!options.signal?.aborted) {
    const wait = Math.min(1000, end - Date.now());
    if (wait > 0) await sleep(wait, options.signal);
    const rows = topRows(objs, previous, options.top);
    const elapsed = Math.round((Date.now() - started) / 100) / 10;
    options.write(
      (options.clear ? "\x1b[H\x1b[2J" : "") + formatTable(rows, elapsed, previous.size),
    );
    if (Date.now() >= end) break;
  }
  if (latency) options.write(latency.report());
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

const USAGE = `Usage: deno task demo [--duration seconds] [--top rows] [--pid pid] [--hist]

Shows the processes making the most system calls, live, through a BPF program on the
raw_syscalls:sys_enter tracepoint. Needs root (or CAP_BPF and CAP_PERFMON).
--hist also times the calls (raw_syscalls:sys_exit too) and prints their latency as a
log2 histogram at the end.`;

function positiveNumber(flag: string, value: string | undefined, integer: boolean): number {
  const n = Number(value);
  if (value === undefined || !Number.isFinite(n) || n < 0 || (integer && !Number.isInteger(n))) {
    throw new RangeError(`Option '${flag}' needs a ${integer ? "whole " : ""}number, got ${value}`);
  }
  return n;
}

/** Runs the demo with command line `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  let duration = 10;
  let top = 10;
  let pid = 0;
  let hist = false;
  try {
    for (let i = 0; i < args.length; i++) {
      const a = args[i];
      if (a === "-h" || a === "--help") {
        console.log(USAGE);
        return 0;
      } else if (a === "--duration") duration = positiveNumber(a, args[++i], false);
      else if (a === "--top") top = positiveNumber(a, args[++i], true);
      else if (a === "--pid") pid = positiveNumber(a, args[++i], true);
      else if (a === "--hist") hist = true;
      else throw new RangeError(`Unknown option: '${a}'`);
    }
  } catch (e) {
    console.error(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  const missing = missingPermissions();
  if (missing !== undefined) {
    console.error(missing);
    return 1;
  }
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  const out = new TextEncoder();
  try {
    await runDemo({
      duration,
      top,
      pid,
      hist,
      clear: Deno.stdout.isTerminal(),
      write: (text) => Deno.stdout.writeSync(out.encode(text)),
      signal: stop.signal,
    });
    console.log("Detached.");
    return 0;
  } catch (e) {
    if (e instanceof PermissionError) {
      // Mounting tracefs needs root; its message already gives the command.
      const hint = e.missing === "CAP_SYS_ADMIN"
        ? ""
        : "\nRun it as root (sudo), or give Deno CAP_BPF and CAP_PERFMON.";
      console.error(`The demo cannot run: ${e.message}${hint}`);
      return 1;
    }
    console.error(`The demo failed: ${(e as Error).message}`);
    return 1;
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
