/**
 * Maps: the kernel objects that BPF programs and user space share data through.
 *
 * @module
 */

export { MAP_TYPE_MIN_KERNEL, MapType, mapTypeName } from "./map_type.ts";
export { haveMapType, requireMapType } from "./map_type_probe.ts";
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
  isBtfType,
} from "./codec.ts";
export { UserRingWriter } from "./user_ring_writer.ts";
export { RecordBatch, RingReader, type RingReadOptions } from "./ring_reader.ts";
export { PerfReader, type PerfReaderOptions, type PerfRecord } from "./perf_reader.ts";
export type { WaitOptions } from "./_epoll_waiter.ts";
