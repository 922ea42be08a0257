// cgroup_skb: counts the packets and bytes a cgroup sends (default: the root cgroup, that is
// every process), letting everything through.
// Run: sudo deno run -A examples/cgroup_skb.ts [--duration 10] [--cgroup /sys/fs/cgroup]
import { attachCgroup, AttachType } from "../mod.ts";
import { durationArg, everySecond } from "./_run.ts";
import { loadCgroupSkb } from "./cgroup_skb_bpf.ts";

const i = Deno.args.indexOf("--cgroup");
const cgroup = i >= 0 ? Deno.args[i + 1] : cgroup2Root();

/** Where cgroup v2 is mounted: /sys/fs/cgroup, or /sys/fs/cgroup/unified on hybrid systems. */
function cgroup2Root(): string {
  for (const line of Deno.readTextFileSync("/proc/self/mounts").split("\n")) {
    const [, path, type] = line.split(" ");
    if (type === "cgroup2") return path;
  }
  throw new Error("No cgroup v2 mount found: give --cgroup");
}

using objs = loadCgroupSkb();
using _link = attachCgroup(objs.programs.count_egress, {
  path: cgroup,
  attachType: AttachType.CgroupInetEgress,
});
await everySecond(durationArg(5), () => {
  const t = objs.maps.egress.lookup(0);
  console.log(`${cgroup} sent ${t?.packets ?? 0n} packets, ${t?.bytes ?? 0n} bytes`);
});
