/**
 * Network interfaces by name or index, for XDP, tcx and netkit attachments.
 *
 * @module
 */

import { interfaceIndex } from "../ffi.ts";

/** A network interface: its index, or its name (resolved in this network namespace). */
export type NetInterface = number | string;

/**
 * The ifindex of `iface`. Names are resolved by the kernel for this process's network
 * namespace (if_nametoindex), so a process moved into a namespace by setns (`nsenter`, a
 * container runtime) finds that namespace's interfaces whatever sysfs shows.
 */
export function ifindexOf(iface: NetInterface): number {
  if (typeof iface === "number") {
    if (!Number.isInteger(iface) || iface <= 0 || iface > 0xffffffff) {
      throw new RangeError(`Invalid interface index: ${iface}`);
    }
    return iface;
  }
  if (!/^[^/\s]{1,15}$/.test(iface) || iface === "." || iface === "..") {
    throw new TypeError(`Invalid interface name: "${iface}"`);
  }
  const index = interfaceIndex(iface);
  if (index === 0) throw new Deno.errors.NotFound(`No network interface "${iface}"`);
  return index;
}
