/**
 * Maps: the kernel objects that BPF programs and user space share data through.
 *
 * @module
 */

export { MAP_TYPE_MIN_KERNEL, MapType, mapTypeName } from "./map_type.ts";
export { haveMapType, requireMapType } from "./map_type_probe.ts";
