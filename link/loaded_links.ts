/**
 * Enumerating the bpf_links in the kernel, whoever made them: their ids
 * (`BPF_LINK_GET_NEXT_ID`) and open handles (`BPF_LINK_GET_FD_BY_ID`).
 *
 * @module
 */

import { BpfCmd } from "../ffi.ts";
import { openEach, walkIds } from "../_internal/object_ids.ts";
import type { RawLink } from "./link.ts";
import { linkFromId } from "./pinned.ts";

/**
 * The ids of every bpf_link in the kernel, ascending. Lazy: ids are fetched as the loop asks
 * for them, so links made or released meanwhile may or may not be seen (a released one never
 * after it is gone). Hooks attached without a bpf_link (perf_event ioctl, `BPF_PROG_ATTACH`,
 * netlink XDP and tc) have no id and are not listed. Needs CAP_SYS_ADMIN (a
 * `PermissionError` otherwise).
 *
 * @example
 * ```ts ignore
 * console.log([...linkIds()].length, "links");
 * ```
 */
export function linkIds(): Generator<number, void, undefined> {
  return walkIds(BpfCmd.LINK_GET_NEXT_ID);
}

/**
 * Opens every bpf_link in the kernel, in id order, each as the class of its link type (see
 * {@linkcode linkFromId}), skipping those released while the walk runs (as `bpftool link
 * show` does). Each link belongs to the caller: closing it releases this handle only, and
 * the program stays attached while its creator holds the link.
 *
 * @example
 * ```ts ignore
 * for (using link of loadedLinks()) console.log(link.info());
 * ```
 */
export function loadedLinks(): Generator<RawLink, void, undefined> {
  return openEach(linkIds(), linkFromId);
}
