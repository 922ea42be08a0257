// Peak memory of one parse and walk of vmlinux, measured in a fresh process:
//   deno run -A tests/bench/btf_mem.ts [none|raw|objects] [path]
// Prints the checksum (raw mode) and VmHWM from /proc/self/status.
import { loadSpec } from "../../btf/mod.ts";
import { walkObjects, walkRaw } from "./btf_walk.ts";

const mode = Deno.args[0] ?? "raw";
const path = Deno.args[1] ?? "/sys/kernel/btf/vmlinux";
let result = 0;
if (mode !== "none") {
  const spec = loadSpec(path);
  result = mode === "objects" ? walkObjects(spec) : walkRaw(spec);
}
const status = Deno.readTextFileSync("/proc/self/status");
console.log(`checksum ${result}`);
console.log(status.split("\n").find((l) => l.startsWith("VmHWM:")));
