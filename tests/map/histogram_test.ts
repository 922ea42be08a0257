// map/histogram: the text equals what libbpf-tools' print_log2_hist and print_linear_hist
// print for the same slots (the expected text is written from their format: "%*s%-*s :
// count    distribution", "%*lld -> %-*lld : %-8d |stars|", 40 stars, 20 and wider columns
// past slot 32; "     %-13s : count     distribution", "        %-10d : %-8d |stars|"), and
// histograms a BPF program fills in maps of each shape read back as the packets it saw.
import { assertEquals, assertThrows } from "@std/assert";
import {
  BpfMap,
  formatLinearHistogram,
  formatLog2Histogram,
  histogramLayout,
  MapSpec,
  MapType,
  readHistogram,
  readHistograms,
} from "../../map/mod.ts";
import { loadCollectionSpec } from "../../elf/mod.ts";
import { Array as BtfArray, Int, IntEncoding, Member, Struct, Typedef } from "../../btf/mod.ts";
import { newCollection } from "../../prog/mod.ts";
import { kernelTest, testdata } from "../_harness.ts";

Deno.test("formatLog2Histogram: print_log2_hist's header, ranges, counts and 40-star bars", () => {
  assertEquals(
    formatLog2Histogram([3, 0, 10, 1, 0, 0]),
    [
      "     usecs               : count    distribution",
      "         0 -> 1          : 3        |************                            |",
      "         2 -> 3          : 0        |                                        |",
      "         4 -> 7          : 10       |****************************************|",
      "         8 -> 15         : 1        |****                                    |",
      "",
    ].join("\n"),
  );
  // Slot 32 still fits the narrow columns; its high end is 2^33 - 1.
  const slots = new Array(33).fill(0);
  slots[32] = 7;
  slots[31] = 2;
  const text = formatLog2Histogram(slots, "nsecs").split("\n");
  assertEquals(text[0], "     nsecs               : count    distribution");
  assertEquals(
    text[32],
    "2147483648 -> 4294967295 : 2        |***********                             |",
  );
  assertEquals(
    text[33],
    "4294967296 -> 8589934591 : 7        |****************************************|",
  );
  assertEquals(text.length, 35);
});

Deno.test("formatLog2Histogram: past slot 32 the columns widen and the bars halve", () => {
  const slots = new Array(40).fill(0);
  slots[0] = 4;
  slots[33] = 1;
  const lines = formatLog2Histogram(slots, "bytes").split("\n");
  assertEquals(lines[0], `${" ".repeat(15)}bytes${" ".repeat(24)} : count    distribution`);
  assertEquals(
    lines[1],
    `${" ".repeat(19)}0 -> 1${" ".repeat(19)} : 4        |********************|`,
  );
  assertEquals(
    lines[34],
    "          8589934592 -> 17179869183          : 1        |*****               |",
  );
  assertEquals(lines.length, 36); // trimmed after slot 33, then the final newline
  // The last slot a u64 reaches.
  const top = new Array(64).fill(0);
  top[63] = 1;
  assertEquals(
    formatLog2Histogram(top).split("\n")[64],
    " 9223372036854775808 -> 18446744073709551615 : 1        |********************|",
  );
});

Deno.test("formatLinearHistogram: print_linear_hist's header and the non-zero slots only", () => {
  assertEquals(
    formatLinearHistogram([0, 0, 6, 0, 2, 0, 3, 0], { base: 5, step: 10, unit: "msecs" }),
    [
      "     msecs         : count     distribution",
      "        25         : 6        |****************************************|",
      "        45         : 2        |*************                           |",
      "        65         : 3        |********************                    |",
      "",
    ].join("\n"),
  );
});

Deno.test("histogram formatting: nothing for no counts, errors for what is not a count", () => {
  assertEquals(formatLog2Histogram([]), "");
  assertEquals(formatLog2Histogram([0, 0, 0]), "");
  assertEquals(formatLinearHistogram([0]), "");
  assertThrows(() => formatLog2Histogram([1, -1]), RangeError, "slot 1 must be a count");
  assertThrows(() => formatLog2Histogram([0.5]), RangeError, "slot 0 must be a count");
  assertThrows(() => formatLinearHistogram([1], { step: 0.5 }), RangeError, "integers");
  const past = new Array(65).fill(0);
  past[64] = 1;
  assertThrows(() => formatLog2Histogram(past), RangeError, "slot 64 is past 63");
  // Counts past libbpf-tools' 32-bit arithmetic print as they are, bars to scale.
  assertEquals(
    formatLog2Histogram([2 ** 32, 2 ** 31]).split("\n")[2],
    "         2 -> 3          : 2147483648 |********************                    |",
  );
});

Deno.test("histogramLayout: the counters' place from the value's BTF type", () => {
  const u32 = new Int("__u32", 4);
  const u64 = new Typedef("__u64", new Int("unsigned long long", 8));
  const char = new Int("char", 1, IntEncoding.Char);
  const index = new Int("int", 4, IntEncoding.Signed);
  const slots = (type: Int | Typedef, n: number) => new BtfArray(type, index, n);
  const map = (type: unknown, valueSize: number) => ({
    type: MapType.Hash,
    name: "h",
    keySize: 4,
    valueSize,
    fullValueSize: valueSize,
    valueCodec: { type, size: valueSize, encode() {}, decode: () => undefined },
    lookupBytes: () => undefined,
    keys: () => [],
  });
  assertEquals(histogramLayout(map(u64, 8)), { offset: 0, slots: 1, counterSize: 8 });
  assertEquals(histogramLayout(map(slots(u64, 4), 32)), { offset: 0, slots: 4, counterSize: 8 });
  // runqlat's struct hist with the command name first: the "slots" member wherever it is.
  const hist = new Struct("hist", 16 + 27 * 4, [
    new Member("comm", slots(char, 16), 0),
    new Member("counts", slots(u32, 2), 16 * 8),
    new Member("slots", slots(u32, 25), 24 * 8),
  ]);
  assertEquals(histogramLayout(map(hist, hist.size)), { offset: 24, slots: 25, counterSize: 4 });
  const noSlots = new Struct("x", 24, [new Member("comm", slots(char, 16), 0)]);
  assertThrows(() => histogramLayout(map(noSlots, 24)), TypeError, "struct x is neither");
  assertThrows(() => histogramLayout(map(new Int("u16", 2), 2)), TypeError, "int u16 is neither");
});

/** Packet lengths the test runs, and the slots they fall in, worked out here. */
const LENGTHS = [14, 15, 20, 31, 32, 64, 100, 100, 1000, 1500, 3000];
const log2Slot = (n: number) => 31 - Math.clz32(n);

function expectedLog2(lengths: number[], size: number): number[] {
  const slots = new Array(size).fill(0);
  for (const n of lengths) slots[Math.min(log2Slot(n), size - 1)]++;
  return slots;
}

/** Loads testdata/histogram_fill.c (with `replacements`) and runs it once per length. */
async function filled(replacements: Record<string, BpfMap> = {}) {
  const spec = await loadCollectionSpec(testdata("histogram_fill-el.o"));
  const coll = newCollection(spec, { mapReplacements: replacements });
  for (const n of LENGTHS) coll.programs.fill.run({ data: new Uint8Array(n) });
  return coll;
}

const LOG2_TEXT = [
  "     bytes               : count    distribution",
  "         0 -> 1          : 0        |                                        |",
  "         2 -> 3          : 0        |                                        |",
  "         4 -> 7          : 0        |                                        |",
  "         8 -> 15         : 2        |**************************              |",
  "        16 -> 31         : 2        |**************************              |",
  "        32 -> 63         : 1        |*************                           |",
  "        64 -> 127        : 3        |****************************************|",
  "       128 -> 255        : 0        |                                        |",
  "       256 -> 511        : 0        |                                        |",
  "       512 -> 1023       : 1        |*************                           |",
  "      1024 -> 2047       : 1        |*************                           |",
  "      2048 -> 4095       : 1        |*************                           |",
  "",
].join("\n");

kernelTest("readHistogram: slots a BPF program counted, in every map shape", async () => {
  using coll = await filled();
  const want = expectedLog2(LENGTHS, 16);
  const { log2_array, log2_percpu, log2_hash, log2_by_key, linear_array } = coll.maps;
  assertEquals(readHistogram(log2_array), want);
  assertEquals(formatLog2Histogram(readHistogram(log2_array), "bytes"), LOG2_TEXT);
  assertEquals(readHistogram(log2_percpu), want);
  assertEquals(histogramLayout(log2_percpu), { offset: 0, slots: 1, counterSize: 4 });
  // A hash keyed by slot gives the slots up to the highest key.
  assertEquals(readHistogram(log2_hash), want.slice(0, log2Slot(3000) + 1));
  // struct hist { __u32 slots[16]; char comm[16]; } per key: summed, or one per key.
  assertEquals(histogramLayout(log2_by_key), { offset: 0, slots: 16, counterSize: 4 });
  assertEquals(readHistogram(log2_by_key), want);
  const byKey = readHistograms<number>(log2_by_key).sort((a, b) => a.key - b.key);
  assertEquals(byKey, [
    { key: 0, slots: expectedLog2(LENGTHS.filter((n) => n % 2 === 0), 16) },
    { key: 1, slots: expectedLog2(LENGTHS.filter((n) => n % 2 === 1), 16) },
  ]);
  // Linear slots of 100 bytes.
  const linear = readHistogram(linear_array);
  assertEquals(linear.length, 32);
  assertEquals(
    formatLinearHistogram(linear, { step: 100, unit: "bytes" }),
    [
      "     bytes         : count     distribution",
      "        0          : 6        |****************************************|",
      "        100        : 2        |*************                           |",
      "        1000       : 1        |******                                  |",
      "        1500       : 1        |******                                  |",
      "        3000       : 1        |******                                  |",
      "",
    ].join("\n"),
  );
});

kernelTest("readHistogram: maps without BTF, given layouts, per-CPU sums, bad maps", async () => {
  const spec = await loadCollectionSpec(testdata("histogram_fill-el.o"));
  const bare = (name: string) => {
    const s = spec.maps[name].copy();
    s.key = undefined;
    s.value = undefined;
    return BpfMap.create(s);
  };
  using array = bare("log2_array");
  using byKey = bare("log2_by_key");
  {
    using _coll = await filled({ log2_array: array, log2_by_key: byKey });
  }
  const want = expectedLog2(LENGTHS, 16);
  // 8-byte values without BTF: one __u64 per slot.
  assertEquals(histogramLayout(array), { offset: 0, slots: 1, counterSize: 8 });
  assertEquals(readHistogram(array), want);
  // Without BTF the comm after the slots would read as counters: the layout says where.
  assertEquals(histogramLayout(byKey), { offset: 0, slots: 20, counterSize: 4 });
  const layout = { offset: 0, slots: 16, counterSize: 4 } as const;
  assertEquals(readHistogram(byKey, layout), want);
  assertEquals(readHistograms(byKey, layout).length, 2);
  assertThrows(() => readHistograms(array), TypeError, "read it with readHistogram");
  assertThrows(
    () => readHistogram(byKey, { offset: 72, slots: 4, counterSize: 4 }),
    RangeError,
    "do not fit",
  );

  // Every CPU's counters are summed, at the kernel's 8-byte stride.
  using percpu = BpfMap.create(
    new MapSpec({ type: MapType.PerCPUArray, keySize: 4, valueSize: 4, maxEntries: 3 }),
  );
  const cpus = percpu.fullValueSize / 8;
  percpu.update(1, Array.from({ length: cpus }, (_, cpu) => u32(cpu + 1)));
  percpu.update(2, Array.from({ length: cpus }, () => u32(5)));
  assertEquals(readHistogram(percpu), [0, (cpus * (cpus + 1)) / 2, 5 * cpus]);

  // A hash keyed by a __u64 slot, far enough for the wide layout.
  using wide = BpfMap.create(
    new MapSpec({ type: MapType.Hash, keySize: 8, valueSize: 8, maxEntries: 4 }),
  );
  wide.update(40n, 3n);
  const slots = readHistogram(wide);
  assertEquals([slots.length, slots[40]], [41, 3]);
  wide.update(5n << 40n, 1n);
  assertThrows(() => readHistogram(wide), RangeError, "cannot be a histogram slot");

  using ring = BpfMap.create(new MapSpec({ type: MapType.RingBuf, maxEntries: 4096 }));
  assertThrows(() => readHistogram(ring), TypeError, "cannot hold a histogram");
  using odd = BpfMap.create(
    new MapSpec({ type: MapType.Hash, keySize: 4, valueSize: 6, maxEntries: 1 }),
  );
  assertThrows(() => histogramLayout(odd), TypeError, "6-byte values");
});

function u32(n: number): Uint8Array {
  return new Uint8Array(new Uint32Array([n]).buffer);
}
