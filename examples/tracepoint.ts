// Tracepoint: counts openat(2) calls per process on syscalls:sys_enter_openat.
// Run: sudo deno run -A examples/tracepoint.ts [--duration 10]
import { attachTracepoint } from "../mod.ts";
import { durationArg, everySecond } from "./_run.ts";
import { loadTracepoint } from "./tracepoint_bpf.ts";

using objs = loadTracepoint();
using _link = attachTracepoint(objs.programs.count_openat, "syscalls", "sys_enter_openat");
await everySecond(durationArg(5), () => {
  const rows = [...objs.maps.opens_by_pid.entries()]
    .sort(([, a], [, b]) => Number(b.count - a.count))
    .slice(0, 5)
    .map(([pid, o]) => `${pid} ${o.comm}: ${o.count}`);
  console.log(`openat calls: ${rows.join(", ")}`);
});
