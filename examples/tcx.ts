// tcx: counts the packets and bytes arriving on an interface (default: lo) with a tcx
// ingress program (kernel 6.6 and later), passing them on to the next program.
// Run: sudo deno run -A examples/tcx.ts [--duration 10] [--interface eth0]
import { attachTCX } from "../mod.ts";
import { durationArg, everySecond } from "./_run.ts";
import { loadTcx } from "./tcx_bpf.ts";

const i = Deno.args.indexOf("--interface");
const iface = i >= 0 ? Deno.args[i + 1] : "lo";

using objs = loadTcx();
using _link = attachTCX(objs.programs.count_ingress, { interface: iface, direction: "ingress" });
await everySecond(durationArg(5), () => {
  const t = objs.maps.ingress.lookup(0);
  console.log(`${iface} received ${t?.packets ?? 0n} packets, ${t?.bytes ?? 0n} bytes`);
});
