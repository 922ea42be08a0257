// cgroup_skb: counts the packets and bytes a cgroup sends (default: the root cgroup, that is
// every process), letting everything through.
// Run: sudo deno run --allow-ffi --allow-read examples/cgroup_skb.ts [--duration 10] [--cgroup /sys/fs/cgroup]
import { attachCgroup, AttachType } from "../mod.ts";
import { durationArg, everySecond } from "./_run.ts";
import { loadCgroupSkb } from "./cgroup_skb_bpf.ts";

const i = Deno.args.indexOf("--cgroup");
const cgroup = i >= 0 ? Deno.args[i + 1] : "/sys/fs/cgroup";

using objs = loadCgroupSkb();
using _link = attachCgroup(objs.programs.count_egress, {
  path: cgroup,
  attachType: AttachType.CgroupInetEgress,
});
await everySecond(durationArg(5), () => {
  const t = objs.maps.egress.lookup(0);
  console.log(`${cgroup} sent ${t?.packets ?? 0n} packets, ${t?.bytes ?? 0n} bytes`);
});
