// tcx: counts the packets and bytes arriving on an interface (default: lo) with a tcx
// ingress program, passing them on to the next program. tcx links came in Linux 6.6; on an
// older kernel the same program goes in as a cls_bpf filter on the clsact qdisc (attachTC).
// Run: sudo deno run -A examples/tcx.ts [--duration 10] [--interface eth0]
import { attachTC, attachTCX, haveLinkFeature } from "../mod.ts";
import { durationArg, everySecond } from "./_run.ts";
import { loadTcx } from "./tcx_bpf.ts";

const i = Deno.args.indexOf("--interface");
const iface = i >= 0 ? Deno.args[i + 1] : "lo";

using objs = loadTcx();
const prog = objs.programs.count_ingress;
using _link = haveLinkFeature("tcx")
  ? attachTCX(prog, { interface: iface, direction: "ingress" })
  : attachTC(prog, { interface: iface, direction: "ingress", priority: 1 });
await everySecond(durationArg(5), () => {
  const t = objs.maps.ingress.lookup(0);
  console.log(`${iface} received ${t?.packets ?? 0n} packets, ${t?.bytes ?? 0n} bytes`);
});
