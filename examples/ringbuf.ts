// Ring buffer: one event per program started (sched:sched_process_exec), read as they come.
// Run: sudo deno run -A examples/ringbuf.ts [--duration 10]
// Bindings: deno task bpf2ts examples/ringbuf.c --import ../mod.ts --type exec_event
import { attachTracepoint, RingReader } from "../mod.ts";
import { durationArg } from "./_run.ts";
import { decodeExecEvent, loadRingbuf } from "./ringbuf_bpf.ts";

using objs = loadRingbuf();
using _link = attachTracepoint(objs.programs.on_exec, "sched", "sched_process_exec");
using reader = new RingReader(objs.maps.events);
const end = Date.now() + durationArg(5) * 1000;
for (;;) {
  const timeoutMs = end - Date.now();
  if (timeoutMs <= 0) break;
  const record = await reader.read({ timeoutMs });
  if (record === undefined) break;
  // decodeExecEvent() reads `struct exec_event` through its BTF: { pid, ppid_unused, comm }.
  const event = decodeExecEvent(record);
  console.log(`exec: pid ${event.pid} ${event.comm}`);
}
