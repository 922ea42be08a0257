// XDP: counts packets per IP protocol on an interface (default: lo) and lets them pass.
// Run: sudo deno run -A examples/xdp.ts [--duration 10] [--interface eth0]
import { attachXDP, XDPMode } from "../mod.ts";
import { durationArg, everySecond } from "./_run.ts";
import { loadXdp } from "./xdp_bpf.ts";

const i = Deno.args.indexOf("--interface");
const iface = i >= 0 ? Deno.args[i + 1] : "lo";
const PROTOCOLS: Record<number, string> = { 1: "ICMP", 6: "TCP", 17: "UDP" };

using objs = loadXdp();
// Generic (skb) mode works on every interface, loopback included.
using _link = attachXDP(objs.programs.count_packets, { interface: iface, mode: XDPMode.Generic });
await everySecond(durationArg(5), () => {
  const counts: string[] = [];
  for (const [proto, perCpu] of objs.maps.packets_by_proto.entries()) {
    const total = perCpu.reduce((a, b) => a + b, 0n);
    if (total > 0n) counts.push(`${PROTOCOLS[proto] ?? `proto ${proto}`}: ${total}`);
  }
  console.log(`${iface} packets: ${counts.join(", ") || "none yet"}`);
});
