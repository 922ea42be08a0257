// Ring buffer: one event per program started (sched:sched_process_exec), read as they come.
// Run: sudo deno run -A examples/ringbuf.ts [--duration 10]
// Bindings: deno task bpf2ts examples/ringbuf.c --import ../mod.ts --type exec_event
import { attachTracepoint, RingReader } from "../mod.ts";
import { durationArg, running } from "./_run.ts";
import { decodeExecEvent, loadRingbuf } from "./ringbuf_bpf.ts";

using objs = loadRingbuf();
using _link = attachTracepoint(objs.programs.on_exec, "sched", "sched_process_exec");
using reader = new RingReader(objs.maps.events);
using run = running(durationArg(5));
for (;;) {
  const record = await reader.read({ signal: run.signal }).catch((e) => {
    if (run.signal.aborted) return undefined;
    throw e;
  });
  if (record === undefined) break;
  // decodeExecEvent() reads `struct exec_event` through its BTF: { pid, ppid_unused, comm }.
  const event = decodeExecEvent(record);
  console.log(`exec: pid ${event.pid} ${event.comm}`);
}
