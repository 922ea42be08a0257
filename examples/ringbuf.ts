// Ring buffer: one event per program started (sched:sched_process_exec), read as they come.
// Run: sudo deno run -A examples/ringbuf.ts [--duration 10]
import { attachTracepoint, RingReader } from "../mod.ts";
import { durationArg, running } from "./_run.ts";
import { loadRingbuf } from "./ringbuf_bpf.ts";

using objs = loadRingbuf();
using _link = attachTracepoint(objs.programs.on_exec, "sched", "sched_process_exec");
using reader = new RingReader(objs.maps.events);
const decoder = new TextDecoder();
using run = running(durationArg(5));
for (;;) {
  // Each record is a struct exec_event { __u32 pid; __u32 unused; char comm[16]; }.
  const record = await reader.read({ signal: run.signal }).catch((e) => {
    if (run.signal.aborted) return undefined;
    throw e;
  });
  if (record === undefined) break;
  const view = new DataView(record.buffer, record.byteOffset, record.byteLength);
  const comm = decoder.decode(record.subarray(8, 24)).replace(/\0.*$/s, "");
  console.log(`exec: pid ${view.getUint32(0, true)} ${comm}`);
}
