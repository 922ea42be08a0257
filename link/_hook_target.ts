/**
 * The object a hook belongs to, as BPF_PROG_ATTACH, BPF_PROG_DETACH and BPF_PROG_QUERY take
 * it: an fd of a cgroup, network namespace, lirc device or sockmap, or an ifindex for the
 * multi-program (tcx, netkit) chains of an interface.
 *
 * @module
 */

import { closeFd, openFd } from "../ffi.ts";
import { AttachType } from "../prog/attach_type.ts";
import type { BpfMap } from "../map/bpf_map.ts";
import { ifindexOf, type NetInterface } from "./_netdev.ts";

/**
 * The object a hook belongs to: a file (a cgroup v2 directory, a network namespace such as
 * `/proc/self/ns/net` or `/run/netns/NAME`, a `/dev/lircN` device) by `path` or open `fd`;
 * a network interface by name or index (tcx, netkit); or a sockmap/sockhash.
 */
export type HookTarget =
  | { path: string }
  | { fd: number }
  | { interface: NetInterface }
  | { map: BpfMap };

/** Attach types whose chains are multi-program (mprog) lists on an interface. */
export const MPROG_TYPES: ReadonlyMap<number, "tcx" | "netkit"> = new Map([
  [AttachType.TCXIngress, "tcx"],
  [AttachType.TCXEgress, "tcx"],
  [AttachType.NetkitPrimary, "netkit"],
  [AttachType.NetkitPeer, "netkit"],
]);

/**
 * Runs `use` with the fd (or, for tcx and netkit, the ifindex) of `target` for a hook at
 * `attachType`; a path is opened for the call and closed after it.
 */
export function withHookTarget<T>(
  target: HookTarget,
  attachType: number,
  use: (fdOrIfindex: number) => T,
): T {
  if (typeof target !== "object" || target === null) {
    throw new TypeError(
      `Invalid hook target: ${String(target)}: expected { path }, { fd }, { interface } or { map }`,
    );
  }
  const byInterface = MPROG_TYPES.has(attachType);
  if (byInterface !== "interface" in target) {
    throw new TypeError(
      byInterface
        ? "Invalid hook target: tcx and netkit hooks are given by { interface }"
        : "Invalid hook target: { interface } is only for tcx and netkit hooks",
    );
  }
  if ("interface" in target) return use(ifindexOf(target.interface));
  if ("map" in target) return use(target.map.fd);
  if ("fd" in target) {
    if (!Number.isInteger(target.fd) || target.fd < 0) {
      throw new RangeError(`Invalid hook target fd: ${target.fd}`);
    }
    return use(target.fd);
  }
  const fd = openFd(target.path);
  try {
    return use(fd);
  } finally {
    closeFd(fd);
  }
}
