// BatchCursor: a batch walk the caller steps, checked against bpftool's dump of the same map:
// every entry once in steps no larger than the buffers, resumed after ENOSPC with larger
// buffers, lookup-and-delete emptying the map, and reset.
import { assert, assertEquals, assertLessOrEqual, assertThrows } from "@std/assert";
import { BatchCursor, BpfMap, MapSpec, MapType } from "../../mod.ts";
import { SyscallError } from "../../errors.ts";
import { kernelTest, run } from "../_harness.ts";

function hash(maxEntries: number, name = "cursor"): BpfMap {
  return BpfMap.create(
    new MapSpec({ name, type: MapType.Hash, keySize: 4, valueSize: 8, maxEntries }),
  );
}

/** bpftool's dump: each key as a u32 and value as a u64 (its bytes are hex strings). */
function bpftoolDump(map: BpfMap): Map<number, bigint> {
  const dump: { key: string[]; value: string[] }[] = JSON.parse(
    run("bpftool", ["-j", "map", "dump", "id", String(map.info().id)]).trim() || "[]",
  );
  const bytes = (hex: string[]) => new Uint8Array(hex.map((h) => parseInt(h, 16)));
  return new Map(dump.map((e) => [
    new DataView(bytes(e.key).buffer).getUint32(0, true),
    new DataView(bytes(e.value).buffer).getBigUint64(0, true),
  ]));
}

/** Walks `map` with room for `room` entries per step; the entries and the step sizes. */
function walk(cursor: BatchCursor, map: BpfMap, room: number, remove = false) {
  const keys = new Uint8Array(map.keySize * room);
  const values = new Uint8Array(map.fullValueSize * room);
  const got = new Map<number, bigint>();
  const steps: number[] = [];
  while (!cursor.done) {
    const n = remove ? cursor.lookupAndDelete(keys, values) : cursor.lookup(keys, values);
    steps.push(n);
    const kv = new DataView(keys.buffer);
    const vv = new DataView(values.buffer);
    for (let i = 0; i < n; i++) got.set(kv.getUint32(i * 4, true), vv.getBigUint64(i * 8, true));
  }
  return { got, steps };
}

kernelTest("BatchCursor walks a hash map in steps, every entry once, as bpftool dumps it", () => {
  using map = hash(256);
  for (let k = 0; k < 200; k++) map.update(k * 7, BigInt(k) * 1000n);
  const cursor = new BatchCursor(map);
  const { got, steps } = walk(cursor, map, 16);
  assertEquals(got, bpftoolDump(map));
  assertEquals(steps.reduce((a, b) => a + b), 200, "no entry twice");
  for (const n of steps) assertLessOrEqual(n, 16);
  assert(steps.length > 200 / 16, "it took several steps");
  // At the end it stays there; reset starts over.
  assertEquals(cursor.lookup(new Uint8Array(4), new Uint8Array(8)), 0);
  cursor.reset();
  assertEquals(walk(cursor, map, 64).got.size, 200);
});

kernelTest("BatchCursor on a per-CPU array: every CPU's value, as bpftool dumps them", () => {
  using map = BpfMap.create(
    new MapSpec({
      name: "pcpu",
      type: MapType.PerCPUArray,
      keySize: 4,
      valueSize: 4,
      maxEntries: 5,
    }),
  );
  const cpus = map.fullValueSize / 8;
  for (let k = 0; k < 5; k++) {
    map.update(k, Array.from({ length: cpus }, (_, c) => new Uint8Array([k, c, 0, 0])));
  }
  const keys = new Uint8Array(4 * 2);
  const values = new Uint8Array(map.fullValueSize * 2);
  const cursor = new BatchCursor(map);
  const seen: number[][] = [];
  while (!cursor.done) {
    const n = cursor.lookup(keys, values);
    for (let i = 0; i < n; i++) {
      seen.push(Array.from({ length: cpus }, (_, c) => values[i * map.fullValueSize + c * 8 + 1]));
    }
  }
  const dump: { values: { cpu: number; value: string[] }[] }[] = JSON.parse(
    run("bpftool", ["-j", "map", "dump", "id", String(map.info().id)]),
  );
  assertEquals(seen, dump.map((e) => e.values.map((v) => parseInt(v.value[1], 16))));
});

kernelTest("BatchCursor: ENOSPC for a bucket larger than the buffers, then resumed", () => {
  // Two keys in a two-bucket hash map share a bucket about every other map (each map has its
  // own hash seed): make maps until one does, as the kernel shows by ENOSPC.
  for (let attempt = 0; attempt < 64; attempt++) {
    using map = hash(2, "bucket");
    map.update(1, 10n);
    map.update(2, 20n);
    const cursor = new BatchCursor(map);
    let full: SyscallError | undefined;
    try {
      cursor.lookup(new Uint8Array(4), new Uint8Array(8)); // room for one entry
    } catch (e) {
      if (!(e instanceof SyscallError)) throw e;
      full = e;
    }
    if (full === undefined) continue; // different buckets: try another map
    assertEquals(full.code, "ENOSPC");
    assert(full.message.includes("larger buffers"), full.message);
    assertEquals(cursor.done, false, "the failed call left the cursor where it was");
    const more = walk(cursor, map, 2);
    assertEquals(more.got, bpftoolDump(map));
    return;
  }
  throw new Error("no two keys shared a bucket in 64 maps");
});

kernelTest("BatchCursor.lookupAndDelete empties the map in steps", () => {
  using map = hash(64);
  for (let k = 0; k < 40; k++) map.update(k, BigInt(k));
  const before = bpftoolDump(map);
  const { got } = walk(new BatchCursor(map), map, 8, true);
  assertEquals(got, before);
  assertEquals(bpftoolDump(map).size, 0);
  assertThrows(
    () => new BatchCursor(map).lookup(new Uint8Array(3), new Uint8Array(8)),
    RangeError,
    "hold no entry",
  );
});
