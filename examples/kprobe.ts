// kprobe: counts calls of the kernel's do_sys_openat2. Kernels built without kprobes
// (CONFIG_KPROBES=n, as on this project's test machine) refuse the attach: the example then
// says so and names the hooks that work without kprobes.
// Run: sudo deno run -A examples/kprobe.ts [--duration 10]
import { attachKprobe, NotSupportedError } from "../mod.ts";
import { durationArg, everySecond } from "./_run.ts";
import { loadKprobe } from "./kprobe_bpf.ts";

using objs = loadKprobe();
let link;
try {
  link = attachKprobe(objs.programs.count_openat2, "do_sys_openat2");
} catch (e) {
  if (!(e instanceof NotSupportedError)) throw e;
  console.log(
    `This kernel has no kprobes: ${e.message}\n` +
      "It was built without CONFIG_KPROBES, so no program can attach to an arbitrary kernel " +
      "function here. Use a hook that does not need kprobes instead:\n" +
      "  - a tracepoint (examples/tracepoint.ts: syscalls:sys_enter_openat counts the same calls),\n" +
      "  - a raw tracepoint (attachRawTracepoint), or fentry/fexit (attachFentry) where the " +
      "kernel allows BPF trampolines.",
  );
  Deno.exit(0);
}
using _link = link;
await everySecond(durationArg(5), () => {
  console.log(`do_sys_openat2 calls: ${objs.maps.hits.lookup(0) ?? 0n}`);
});
