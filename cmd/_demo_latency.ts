/**
 * `deno task demo --hist`: system call latency timed while the demo runs, printed at the end
 * as a log2 histogram the way libbpf-tools print theirs. The BPF side is the
 * syscall_latency example's (examples/syscall_latency.c, through its bpf2ts bindings).
 *
 * @module
 */

import { attachTracepoint } from "../link/tracepoint.ts";
import { formatLog2Histogram, readHistogram } from "../map/histogram.ts";
import { loadSyscallLatency } from "../examples/syscall_latency_bpf.ts";

/** Latency timing in progress; dispose of it to detach. */
export interface LatencyTiming extends Disposable {
  /** The histogram of the calls timed so far, with a title line. */
  report(): string;
}

/** Starts timing the system calls of `pid` (0: every process). */
export function timeSyscalls(pid: number): LatencyTiming {
  using stack = new DisposableStack();
  const objs = stack.use(loadSyscallLatency({ constants: { targ_pid: pid } }));
  stack.use(attachTracepoint(objs.programs.sys_enter, "raw_syscalls", "sys_enter"));
  stack.use(attachTracepoint(objs.programs.sys_exit, "raw_syscalls", "sys_exit"));
  const owned = stack.move();
  return {
    report() {
      const slots = readHistogram(objs.maps.hists);
      const calls = slots.reduce((a, b) => a + b, 0);
      const whose = pid === 0 ? "every process" : `process ${pid}`;
      return `\nSystem call latency of ${whose}, ${calls} calls timed:\n` +
        formatLog2Histogram(slots, "usecs");
    },
    [Symbol.dispose]: () => owned.dispose(),
  };
}
