// Syscall latency: how long system calls take, as log2 histograms of microseconds printed
// the way libbpf-tools print theirs, every second; from raw_syscalls:sys_enter to sys_exit.
// --pid N times one process; --per-syscall or --per-process prints a histogram per key.
// Run: sudo deno run -A examples/syscall_latency.ts [--duration 10] [--pid N] [--per-process]
import { attachTracepoint, formatLog2Histogram, readHistograms } from "../mod.ts";
import { durationArg, everySecond } from "./_run.ts";
import { loadSyscallLatency } from "./syscall_latency_bpf.ts";

/** What the histograms are keyed by: KEY_NONE, KEY_SYSCALL and KEY_PROCESS in the C. */
const keyBy = Deno.args.includes("--per-syscall") ? 1 : Deno.args.includes("--per-process") ? 2 : 0;
const p = Deno.args.indexOf("--pid");
const pid = p >= 0 ? Number(Deno.args[p + 1]) : 0;
if (!Number.isInteger(pid) || pid < 0) throw new RangeError("Option '--pid' needs a process id");

using objs = loadSyscallLatency({ constants: { targ_pid: pid, key_by: keyBy } });
using _enter = attachTracepoint(objs.programs.sys_enter, "raw_syscalls", "sys_enter");
using _exit = attachTracepoint(objs.programs.sys_exit, "raw_syscalls", "sys_exit");
const hists = objs.maps.hists;
await everySecond(durationArg(5), () => {
  // Each second's histograms, then cleared for the next, as `biolatency 1` does.
  for (const { key, slots } of readHistograms<number>(hists).sort((a, b) => a.key - b.key)) {
    const comm = hists.lookup(key)?.comm;
    hists.delete(key);
    const title = keyBy === 1 ? `syscall = ${key}\n` : keyBy === 2 ? `pid = ${key} ${comm}\n` : "";
    console.log(`\n${title}${formatLog2Histogram(slots, "usecs").trimEnd()}`);
  }
});
