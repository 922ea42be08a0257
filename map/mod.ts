/**
 * Maps: the kernel objects that BPF programs and user space share data through. `BpfMap`
 * creates and opens maps and reads and writes them synchronously (keys and values as bytes,
 * numbers, bigints, or plain objects encoded from the map's BTF); `RingReader` and
 * `PerfReader` wait for records without blocking the event loop.
 *
 * @example
 * ```ts ignore
 * import { BpfMap, MapSpec, MapType } from "@ebpf/ebpf/map";
 *
 * using counts = BpfMap.create(
 *   new MapSpec({ name: "counts", type: MapType.Hash, keySize: 4, valueSize: 8, maxEntries: 64 }),
 * );
 * counts.update(7, 1n);
 * for (const [key, value] of counts.entries()) console.log(key, value);
 * ```
 *
 * @example
 * ```ts ignore
 * // Records from a BPF_MAP_TYPE_RINGBUF map, until the loop is left.
 * using reader = new RingReader(events);
 * for await (const record of reader) console.log(record.length);
 * ```
 *
 * @module
 */

export { MAP_TYPE_MIN_KERNEL, MapType, mapTypeName } from "./map_type.ts";
export {
  haveMapFlag,
  haveMapType,
  haveMmapableArrays,
  MAP_FLAG_NAMES,
  type MapFlag,
  requireMapFlag,
  requireMapType,
} from "./map_type_probe.ts";
export { type MapEntry, MapSpec, type MapSpecInit, PinType } from "./map_spec.ts";
export {
  BpfMap,
  type MapCreateOptions,
  type MapData,
  type MapInfo,
  sanitizeName,
  UpdateFlags,
} from "./bpf_map.ts";
export {
  type Codec,
  codecFor,
  decodeValue,
  encodeValue,
  hasKernelManagedFields,
  InconsistentLayoutError,
  isBtfType,
  isKernelManagedStruct,
} from "./codec.ts";
export { loadedMaps, mapIds } from "./loaded_maps.ts";
export {
  BatchCursor,
  type BatchOptions,
  type BatchReadOptions,
  type EntryBatch,
} from "./batch_cursor.ts";
export { UserRingWriter } from "./user_ring_writer.ts";
export type { LoadPinOptions } from "../_internal/pin.ts";
export { possibleCpus } from "../ffi.ts";
export { RecordBatch, RingReader, type RingReadOptions } from "./ring_reader.ts";
export { PerfReader, type PerfReaderOptions, type PerfRecord } from "./perf_reader.ts";
export type { WaitOptions } from "./_epoll_waiter.ts";
export {
  formatLinearHistogram,
  formatLog2Histogram,
  type HistogramEntry,
  type HistogramLayout,
  histogramLayout,
  type HistogramMap,
  type LinearHistogramOptions,
  readHistogram,
  readHistograms,
} from "./histogram.ts";
