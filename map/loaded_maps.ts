/**
 * Enumerating the maps in the kernel, whoever created them: their ids
 * (`BPF_MAP_GET_NEXT_ID`) and open handles (`BPF_MAP_GET_FD_BY_ID`).
 *
 * @module
 */

import { BpfCmd } from "../ffi.ts";
import { openEach, walkIds } from "../_internal/object_ids.ts";
import { BpfMap } from "./bpf_map.ts";

/**
 * The ids of every map in the kernel, ascending. Lazy: ids are fetched as the loop asks for
 * them, so maps created or freed meanwhile may or may not be seen (a freed one never after
 * it is gone). Needs CAP_SYS_ADMIN (a `PermissionError` otherwise).
 *
 * @example
 * ```ts ignore
 * console.log([...mapIds()].length, "maps");
 * ```
 */
export function mapIds(): Generator<number, void, undefined> {
  return walkIds(BpfCmd.MAP_GET_NEXT_ID);
}

/**
 * Opens every map in the kernel, in id order, skipping those freed while the walk runs (as
 * `bpftool map show` does). Each {@linkcode BpfMap} belongs to the caller, who closes it
 * (`using` does); leaving the loop early opens no more.
 *
 * @example
 * ```ts ignore
 * for (using map of loadedMaps()) console.log(map.info().id, map.info().name);
 * ```
 */
export function loadedMaps(): Generator<BpfMap, void, undefined> {
  return openEach(mapIds(), BpfMap.fromId);
}
