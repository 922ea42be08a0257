// Batch lookup of a 100,000-entry hash map: BpfMap.lookupBatch next to libbpf's
// bpf_map_lookup_batch (map_batch.c), same map, same chunk size, same run. And
// `for (const [k, v] of map.entries())` over the same map next to a C batch dump in chunks
// of 1024 (the batch entries() uses) that reads each key and value as the TypeScript loop
// does, and C's get_next_key + lookup walk.
//
// Before the Deno.bench groups it prints paired figures, as elf_bench.ts does: whole walks of
// C and TypeScript alternate in one process, so that the load of a shared machine falls on
// both alike, and their medians and minimums are compared. The rows below measure each side
// at another moment; on a shared machine the C row alone moves by 10–20% from run to run.
import { BpfMap, MapSpec, MapType } from "../../mod.ts";

const ENTRIES = 100_000;
const CHUNK = 4096;

const map = BpfMap.create(
  new MapSpec({ type: MapType.Hash, keySize: 4, valueSize: 8, maxEntries: ENTRIES }),
);
{
  const keys = new Uint8Array(ENTRIES * 4);
  const values = new Uint8Array(ENTRIES * 8);
  const kv = new DataView(keys.buffer);
  const vv = new DataView(values.buffer);
  for (let i = 0; i < ENTRIES; i++) {
    kv.setUint32(i * 4, i, true);
    vv.setBigUint64(i * 8, BigInt(i) * 3n, true);
  }
  map.updateBatch(keys, values);
}

const c = Deno.dlopen(new URL(".build/map_batch.so", import.meta.url).pathname, {
  batch_all: { parameters: ["i32", "buffer", "buffer", "u32"], result: "i32" },
  dump_all: { parameters: ["i32", "buffer", "buffer", "u32"], result: "i32" },
  walk_all: { parameters: ["i32", "buffer"], result: "i32" },
});
// Room for a whole chunk past the last entry: the kernel may fill a full chunk.
const cKeys = new Uint8Array(new ArrayBuffer((ENTRIES + CHUNK) * 4));
const cValues = new Uint8Array(new ArrayBuffer((ENTRIES + CHUNK) * 8));

Deno.bench({
  name: `C: libbpf bpf_map_lookup_batch, 100,000-entry hash [×${ENTRIES}]`,
  group: "map_batch",
  baseline: true,
  fn() {
    const n = c.symbols.batch_all(map.fd, cKeys, cValues, CHUNK);
    if (n !== ENTRIES) throw new Error(`C batch got ${n}`);
  },
});

Deno.bench({
  name: `BpfMap.lookupBatch, 100,000-entry hash [×${ENTRIES}]`,
  group: "map_batch",
  fn() {
    const { count } = map.lookupBatch(CHUNK);
    if (count !== ENTRIES) throw new Error(`lookupBatch got ${count}`);
  },
});

const ENTRIES_CHUNK = 1024;
const cDump = () => c.symbols.dump_all(map.fd, cKeys, cValues, ENTRIES_CHUNK);

Deno.bench({
  name:
    `C: libbpf bpf_map_lookup_batch dump (chunks of ${ENTRIES_CHUNK}), 100,000-entry hash [×${ENTRIES}]`,
  group: "map_entries",
  baseline: true,
  fn() {
    const n = cDump();
    if (n !== ENTRIES) throw new Error(`C dump got ${n}`);
  },
});

const cValue = new Uint8Array(8);
Deno.bench({
  name: `C: get_next_key + lookup walk, 100,000-entry hash [×${ENTRIES}]`,
  group: "map_entries",
  fn() {
    const n = c.symbols.walk_all(map.fd, cValue);
    if (n !== ENTRIES) throw new Error(`C walk got ${n}`);
  },
});

let sink = 0;
Deno.bench({
  name: `for (const [key, value] of map.entries()), 100,000-entry hash [×${ENTRIES}]`,
  group: "map_entries",
  fn() {
    let n = 0;
    for (const [key, value] of map.entries()) {
      sink += key[0] + value[0];
      n++;
    }
    if (n !== ENTRIES) throw new Error(`entries() gave ${n}`);
  },
});

/** Per-entry median and minimum of whole walks `c` and `ts`, taking turns. */
function paired(c: () => void, ts: () => void): string {
  const ROUNDS = 21;
  const walk = (f: () => void) => {
    const t = performance.now();
    f();
    return (performance.now() - t) * 1e6 / ENTRIES;
  };
  for (let i = 0; i < 3; i++) walk(c), walk(ts);
  const cs: number[] = [];
  const tss: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    // Which goes first alternates too, so neither always runs on the other's warm caches.
    if (r % 2 === 0) cs.push(walk(c)), tss.push(walk(ts));
    else tss.push(walk(ts)), cs.push(walk(c));
  }
  cs.sort((x, y) => x - y);
  tss.sort((x, y) => x - y);
  const [cMed, tMed] = [cs[ROUNDS >> 1], tss[ROUNDS >> 1]];
  return `median C ${cMed.toFixed(1)} ns, TS ${tMed.toFixed(1)} ns, ratio ` +
    `${(tMed / cMed).toFixed(2)}; min ${cs[0].toFixed(1)} / ${tss[0].toFixed(1)} ns, ratio ` +
    `${(tss[0] / cs[0]).toFixed(2)}`;
}

console.log(
  `map_batch: lookupBatch vs libbpf bpf_map_lookup_batch, alternating walks: ${
    paired(
      () => c.symbols.batch_all(map.fd, cKeys, cValues, CHUNK),
      () => map.lookupBatch(CHUNK),
    )
  }`,
);
console.log(
  `map_entries: for … of map.entries() vs a libbpf bpf_map_lookup_batch dump in chunks of ` +
    `${ENTRIES_CHUNK}, alternating walks: ${
      paired(cDump, () => {
        for (const [key, value] of map.entries()) sink += key[0] + value[0];
      })
    }`,
);

addEventListener("unload", () => {
  map.close();
  if (sink < 0) console.log(sink);
});
