/**
 * Enumerating the programs loaded in the kernel, by anyone: their ids
 * (`BPF_PROG_GET_NEXT_ID`) and open handles (`BPF_PROG_GET_FD_BY_ID`).
 *
 * @module
 */

import { BpfCmd } from "../ffi.ts";
import { openEach, walkIds } from "../_internal/object_ids.ts";
import { Program } from "./program.ts";

/**
 * The ids of every program loaded in the kernel, ascending. Lazy: ids are fetched as the
 * loop asks for them, so programs loaded or unloaded meanwhile may or may not be seen (an
 * unloaded one never after it is gone). Needs CAP_SYS_ADMIN (a `PermissionError` otherwise).
 *
 * @example
 * ```ts ignore
 * console.log([...programIds()].length, "programs loaded");
 * ```
 */
export function programIds(): Generator<number, void, undefined> {
  return walkIds(BpfCmd.PROG_GET_NEXT_ID);
}

/**
 * Opens every program loaded in the kernel, in id order, skipping those unloaded while the
 * walk runs (as `bpftool prog show` does). Each {@linkcode Program} belongs to the caller,
 * who closes it (`using` does); leaving the loop early opens no more.
 *
 * @example
 * ```ts ignore
 * for (using prog of loadedPrograms()) {
 *   const info = prog.info();
 *   console.log(info.id, info.name, programTypeName(info.type));
 * }
 * ```
 */
export function loadedPrograms(): Generator<Program, void, undefined> {
  return openEach(programIds(), Program.fromId);
}
