/**
 * Histograms that BPF programs keep in maps, read back and printed the way bcc's
 * libbpf-tools print them (`print_log2_hist` and `print_linear_hist` in their
 * `trace_helpers.c`): `biolatency`, `runqlat` and friends count events into slots, and user
 * space sums the slots and draws a bar of stars for each.
 *
 * The shapes read are the ones those tools use: an array (or a hash) with one counter per
 * slot, keyed by the slot's index; or a map whose every value holds the slots, as
 * libbpf-tools' `struct hist { __u32 slots[MAX_SLOTS]; }`, one histogram per key. Per-CPU
 * maps are summed over the CPUs. Counters are `__u32` or `__u64`.
 *
 * @module
 */

import { Array as ArrayType, Enum, Int, Struct, type Type } from "../btf/types.ts";
import { underlyingType } from "../btf/helpers.ts";
import type { BpfMap, MapData } from "./bpf_map.ts";
import { MapType, mapTypeName } from "./map_type.ts";

/**
 * What the histogram readers use of a map: a {@linkcode BpfMap}, or the typed map that
 * `bpf2ts` bindings give for it.
 */
export type HistogramMap =
  & Pick<
    BpfMap,
    "type" | "name" | "keySize" | "valueSize" | "fullValueSize" | "valueCodec" | "lookupBytes"
  >
  & { keys(): Iterable<unknown> };

/** Where the counters sit in a map's values (see {@linkcode histogramLayout}). */
export interface HistogramLayout {
  /** Byte offset of the first counter in a value. */
  offset: number;
  /**
   * Counters in a value. 1 means each entry is one slot and its key is the slot's index;
   * more means each value holds a whole histogram (a `slots` array).
   */
  slots: number;
  /** Bytes per counter: 4 (`__u32`, as libbpf-tools count) or 8 (`__u64`). */
  counterSize: 4 | 8;
}

/** One histogram of a map that keeps one per key. */
export interface HistogramEntry<K> {
  /** The key, as the map's `keys()` gives it (decoded through its BTF, else bytes). */
  key: K;
  /** The counters, slot by slot, summed over the CPUs for a per-CPU map. */
  slots: number[];
}

/** Options of {@linkcode formatLinearHistogram}. */
export interface LinearHistogramOptions {
  /** The value slot 0 stands for (default 0). */
  base?: number;
  /** How much each slot adds to the value (default 1). */
  step?: number;
  /** The name of the values' unit, printed in the header (default `"usecs"`). */
  unit?: string;
}

/** The largest slot index a map keyed by slot may hold: guards against a wrong layout. */
const MAX_SLOT_INDEX = 1 << 20;

/** Map types that hold a histogram: arrays read by index, hashes walked by key. */
const HISTOGRAM_MAP_TYPES: ReadonlySet<number> = new Set([
  MapType.Array,
  MapType.PerCPUArray,
  MapType.Hash,
  MapType.PerCPUHash,
  MapType.LRUHash,
  MapType.LRUCPUHash,
]);

/**
 * Where the counters are in `map`'s values. With BTF: an integer value is one counter (the
 * key is the slot); an array of integers, or a struct's `slots` member (else its first
 * array of integers), holds a histogram per value. Without BTF: a 4- or 8-byte value is one
 * counter, a larger one an array of `__u32` (libbpf-tools' `struct hist`); give the layout
 * yourself when the value holds more than the slots.
 */
export function histogramLayout(map: HistogramMap): HistogramLayout {
  const type = map.valueCodec?.type as Type | undefined;
  if (type === undefined) {
    if (map.valueSize === 4 || map.valueSize === 8) {
      return { offset: 0, slots: 1, counterSize: map.valueSize };
    }
    if (map.valueSize > 0 && map.valueSize % 4 === 0) {
      return { offset: 0, slots: map.valueSize / 4, counterSize: 4 };
    }
    throw new TypeError(
      `Map "${map.name}" cannot hold a histogram: its ${map.valueSize}-byte values are not ` +
        "__u32 or __u64 counters",
    );
  }
  const value = underlyingType(type);
  const counter = counterSizeOf(value);
  if (counter !== undefined) return { offset: 0, slots: 1, counterSize: counter };
  const array = slotsArrayOf(value);
  if (array !== undefined) return array;
  throw new TypeError(
    `Map "${map.name}" cannot hold a histogram: its value type ${value} is neither a ` +
      "__u32/__u64 counter nor holds an array of them (a struct hist { __u32 slots[N]; })",
  );
}

/** The size of an integer counter type, or undefined for anything else. */
function counterSizeOf(t: Type): 4 | 8 | undefined {
  return (t instanceof Int || t instanceof Enum) && (t.size === 4 || t.size === 8)
    ? t.size
    : undefined;
}

/** The layout of an array of counters: `t` itself, or a struct member (`slots` first). */
function slotsArrayOf(t: Type): HistogramLayout | undefined {
  const asSlots = (a: Type, offset: number): HistogramLayout | undefined => {
    if (!(a instanceof ArrayType) || a.nelems === 0) return undefined;
    const counterSize = counterSizeOf(underlyingType(a.type));
    return counterSize === undefined ? undefined : { offset, slots: a.nelems, counterSize };
  };
  if (!(t instanceof Struct)) return asSlots(t, 0);
  const members = [...t.members].sort((a, b) =>
    Number(b.name === "slots") - Number(a.name === "slots")
  );
  for (const m of members) {
    if (m.bitfieldSize !== 0 || m.offset % 8 !== 0) continue;
    const layout = asSlots(underlyingType(m.type), m.offset / 8);
    if (layout !== undefined) return layout;
  }
  return undefined;
}

/**
 * Reads one histogram from `map`: the counter of every slot, summed over the CPUs of a
 * per-CPU map, and over every key of a map that keeps a histogram per key. A map keyed by
 * slot gives as many slots as its highest key (an array: as many as its entries).
 *
 * @example
 * ```ts ignore
 * console.log(formatLog2Histogram(readHistogram(objs.maps.hists), "usecs"));
 * ```
 */
export function readHistogram(
  map: HistogramMap,
  layout: HistogramLayout = histogramLayout(map),
): number[] {
  checkLayout(map, layout);
  const total: number[] = [];
  const add = (slot: number, count: number) => {
    while (total.length <= slot) total.push(0);
    total[slot] += count;
  };
  for (const key of map.keys()) {
    const counters = countersOf(map, layout, key);
    if (counters === undefined) continue; // deleted while walking
    if (layout.slots === 1) add(slotOfKey(map, key), counters[0]);
    else counters.forEach((count, slot) => add(slot, count));
  }
  if (layout.slots > 1) { while (total.length < layout.slots) total.push(0); }
  return total;
}

/**
 * Reads one histogram per key from a map whose values each hold the slots (libbpf-tools'
 * per-process or per-disk histograms), summed over the CPUs of a per-CPU map, in the
 * kernel's key order.
 */
export function readHistograms<K = unknown>(
  map: HistogramMap,
  layout: HistogramLayout = histogramLayout(map),
): HistogramEntry<K>[] {
  checkLayout(map, layout);
  if (layout.slots === 1) {
    throw new TypeError(
      `Map "${map.name}" keeps one counter per slot, keyed by the slot: read it with ` +
        "readHistogram",
    );
  }
  const out: HistogramEntry<K>[] = [];
  for (const key of map.keys()) {
    const slots = countersOf(map, layout, key);
    if (slots !== undefined) out.push({ key: key as K, slots });
  }
  return out;
}

function checkLayout(map: HistogramMap, layout: HistogramLayout): void {
  if (!HISTOGRAM_MAP_TYPES.has(map.type)) {
    throw new TypeError(
      `Map "${map.name}" (${mapTypeName(map.type)}) cannot hold a histogram: use an array ` +
        "or a hash map, per-CPU or not",
    );
  }
  const { offset, slots, counterSize } = layout;
  if (counterSize !== 4 && counterSize !== 8) {
    throw new RangeError(`Histogram counters are 4 or 8 bytes, got ${counterSize}`);
  }
  if (!Number.isInteger(offset) || offset < 0 || !Number.isInteger(slots) || slots < 1) {
    throw new RangeError(`Histogram layout needs a whole offset and at least one slot`);
  }
  if (offset % counterSize !== 0) {
    throw new RangeError(`Histogram counters at offset ${offset} are not ${counterSize}-aligned`);
  }
  if (offset + slots * counterSize > map.valueSize) {
    throw new RangeError(
      `Map "${map.name}" has ${map.valueSize}-byte values: ${slots} counters of ` +
        `${counterSize} bytes at offset ${offset} do not fit`,
    );
  }
}

/** The counters of `key`'s value, summed over the CPUs; undefined when the key is gone. */
function countersOf(
  map: HistogramMap,
  layout: HistogramLayout,
  key: unknown,
): number[] | undefined {
  const bytes = map.lookupBytes(key as MapData);
  if (bytes === undefined) return undefined;
  const perCpu = map.fullValueSize !== map.valueSize;
  const stride = perCpu ? Math.ceil(map.valueSize / 8) * 8 : map.valueSize;
  const sums = new Array<number>(layout.slots).fill(0);
  for (let cpu = 0; cpu * stride < map.fullValueSize; cpu++) {
    const start = cpu * stride + layout.offset;
    // A copy starts its own buffer, aligned for the typed array (in the host's byte order).
    const copy = bytes.slice(start, start + layout.slots * layout.counterSize).buffer;
    const counters = layout.counterSize === 4 ? new Uint32Array(copy) : new BigUint64Array(copy);
    for (let i = 0; i < layout.slots; i++) sums[i] += Number(counters[i]);
  }
  return sums;
}

/** The slot a key stands for in a map keyed by slot: a `__u32` or `__u64` index. */
function slotOfKey(map: HistogramMap, key: unknown): number {
  let slot: number | bigint;
  if (typeof key === "number" || typeof key === "bigint") slot = key;
  else if (key instanceof Uint8Array && (key.length === 4 || key.length === 8)) {
    const copy = key.slice().buffer;
    slot = key.length === 4 ? new Uint32Array(copy)[0] : new BigUint64Array(copy)[0];
  } else {
    throw new TypeError(
      `Map "${map.name}" keeps one counter per value, so its keys must be slot indexes ` +
        `(__u32 or __u64), got ${map.keySize}-byte keys`,
    );
  }
  if (slot < 0 || slot > MAX_SLOT_INDEX) {
    throw new RangeError(
      `Map "${map.name}" has a key ${slot} that cannot be a histogram slot (at most ` +
        `${MAX_SLOT_INDEX})`,
    );
  }
  return Number(slot);
}

/**
 * A log2 histogram as libbpf-tools' `print_log2_hist` prints it: a header naming `unit`,
 * then one line per slot up to the last non-zero one, slot `i` counting values from
 * `2^i` to `2^(i+1) - 1` (slot 0: 0 to 1), with a bar of up to 40 stars scaled to the
 * largest count. Once a slot past 32 is used, the columns widen and the bars halve, as
 * theirs do. Every line ends in a newline; an all-zero histogram is the empty string.
 *
 * Two things differ where libbpf-tools' 32-bit arithmetic overflows: counts of 2^31 or
 * more print as they are, not negative, and bars of counts over 107,374,182 are drawn to
 * scale.
 *
 * @example
 * ```ts
 * import { formatLog2Histogram } from "@ebpf/ebpf/map";
 * console.log(formatLog2Histogram([3, 0, 10], "usecs"));
 * //      usecs               : count    distribution
 * //          0 -> 1          : 3        |************                            |
 * //          2 -> 3          : 0        |                                        |
 * //          4 -> 7          : 10       |****************************************|
 * ```
 */
export function formatLog2Histogram(slots: ArrayLike<number>, unit = "usecs"): string {
  const counts = checkSlots(slots);
  const last = lastUsed(counts);
  if (last < 0) return "";
  if (last > 63) {
    throw new RangeError(`Log2 histogram slot ${last} is past 63: its values exceed 64 bits`);
  }
  const wide = last > 32;
  const max = Math.max(...counts);
  const lines = [
    `${" ".repeat(wide ? 15 : 5)}${unit.padEnd(wide ? 29 : 19)} : count    distribution`,
  ];
  const width = wide ? 20 : 10;
  for (let i = 0; i <= last; i++) {
    const high = (1n << BigInt(i + 1)) - 1n;
    const low = i === 0 ? 0n : 1n << BigInt(i);
    lines.push(
      `${String(low).padStart(width)} -> ${String(high).padEnd(width)} : ` +
        `${String(counts[i]).padEnd(8)} |${stars(counts[i], max, wide ? 20 : 40)}|`,
    );
  }
  return lines.join("\n") + "\n";
}

/**
 * A linear histogram as libbpf-tools' `print_linear_hist` prints it: a header naming the
 * unit, then one line per non-zero slot from the first to the last, slot `i` standing for
 * the value `base + i * step`, with a bar of up to 40 stars scaled to the largest count.
 * Every line ends in a newline; an all-zero histogram is the empty string.
 *
 * @example
 * ```ts
 * import { formatLinearHistogram } from "@ebpf/ebpf/map";
 * console.log(formatLinearHistogram([0, 4, 0, 2], { base: 0, step: 10, unit: "msecs" }));
 * //      msecs         : count     distribution
 * //         10         : 4        |****************************************|
 * //         30         : 2        |********************                    |
 * ```
 */
export function formatLinearHistogram(
  slots: ArrayLike<number>,
  options: LinearHistogramOptions = {},
): string {
  const { base = 0, step = 1, unit = "usecs" } = options;
  if (!Number.isSafeInteger(base) || !Number.isSafeInteger(step)) {
    throw new RangeError(`Linear histogram base and step must be integers, got ${base}, ${step}`);
  }
  const counts = checkSlots(slots);
  const last = lastUsed(counts);
  if (last < 0) return "";
  const max = Math.max(...counts);
  const lines = [`     ${unit.padEnd(13)} : count     distribution`];
  for (let i = counts.findIndex((c) => c > 0); i <= last; i++) {
    if (counts[i] === 0) continue;
    lines.push(
      `        ${String(base + i * step).padEnd(10)} : ${String(counts[i]).padEnd(8)} |${
        stars(counts[i], max, 40)
      }|`,
    );
  }
  return lines.join("\n") + "\n";
}

function checkSlots(slots: ArrayLike<number>): number[] {
  const counts = Array.from(slots);
  counts.forEach((c, i) => {
    if (!Number.isSafeInteger(c) || c < 0) {
      throw new RangeError(`Histogram slot ${i} must be a count (a whole number >= 0), got ${c}`);
    }
  });
  return counts;
}

function lastUsed(counts: number[]): number {
  for (let i = counts.length - 1; i >= 0; i--) if (counts[i] > 0) return i;
  return -1;
}

/** A bar of `width` columns: stars for `count`'s share of `max`, spaces for the rest. */
function stars(count: number, max: number, width: number): string {
  const n = Number((BigInt(count) * BigInt(width)) / BigInt(max));
  return "*".repeat(n) + " ".repeat(width - n);
}
