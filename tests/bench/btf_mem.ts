// Memory of one parse and walk of vmlinux, measured in a fresh process:
//   deno run -A tests/bench/btf_mem.ts [none|raw|objects|floor] [read|map]
//   deno run -A tests/bench/btf_mem.ts floor-alone INFO_FILE
// Prints the checksum and, from /proc/self/status, the peak resident set (VmHWM) and the
// private and file-backed parts of the current one, while the spec is still held; then the
// V8 heap (committed and used) and the memory outside it, from Deno.memoryUsage(). "read"
// reads the file (loadSpec), "map" maps it (mapKernelBtf, Linux 6.16+). "floor" keeps, with
// the spec, as many objects as "objects" does but with the fewest fields (btf_floor.ts);
// "floor-alone" the same objects in a process that loads no BTF, counted from INFO_FILE
// (the `info` word of every type, host order, as btf_bench.ts writes it).
import { loadSpec, parseSpec, type Spec } from "../../btf/mod.ts";
import { mapKernelBtf } from "../../btf/handle.ts";
import { walkObjects, walkRaw } from "./btf_walk.ts";
import { allocateFloor, infoWords } from "./btf_floor.ts";

const VMLINUX = "/sys/kernel/btf/vmlinux";
const mode = Deno.args[0] ?? "raw";
const source = Deno.args[1] ?? "read";
let spec: Spec | undefined;
let result = 0;
let kept: unknown[] | undefined;
if (mode === "floor-alone") {
  const floor = allocateFloor(new Uint32Array(Deno.readFileSync(source).buffer));
  kept = floor.objects;
  result = floor.sum;
} else if (mode !== "none") {
  if (source === "map") {
    const bytes = mapKernelBtf();
    if (!bytes) throw new Error(`${VMLINUX} cannot be mapped on this kernel`);
    spec = parseSpec(bytes);
  } else {
    spec = loadSpec(VMLINUX);
  }
  if (mode === "floor") {
    const floor = allocateFloor(infoWords(spec));
    kept = floor.objects;
    result = floor.sum;
  } else {
    result = mode === "objects" ? walkObjects(spec) : walkRaw(spec);
  }
}
console.log(`checksum ${result}`);
for (const line of Deno.readTextFileSync("/proc/self/status").split("\n")) {
  if (/^(VmHWM|RssAnon|RssFile):/.test(line)) console.log(line);
}
// Where the resident set goes: the V8 heap as committed (young generation included) and
// as used by live objects, and buffers outside it (the BTF bytes, the offset table).
const heap = Deno.memoryUsage();
const kB = (n: number) => `${Math.round(n / 1024)} kB`;
console.log(`HeapTotal:\t${kB(heap.heapTotal)}\nHeapUsed:\t${kB(heap.heapUsed)}`);
console.log(`External:\t${kB(heap.external)}`);
// Held until here, so that the figures above include it.
if (spec !== undefined && spec.typeCount === 0) console.log("empty");
if (kept !== undefined && kept.length === 0) console.log("nothing kept");
