/**
 * Network interfaces by name or index, for XDP, tcx and netkit attachments.
 *
 * @module
 */

import { readOptional } from "./_perf_event.ts";

/** A network interface: its index, or its name (resolved through sysfs). */
export type NetInterface = number | string;

/** The ifindex of `iface`; names are read from `/sys/class/net/<name>/ifindex`. */
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
  const text = readOptional(`/sys/class/net/${iface}/ifindex`);
  if (text === undefined) throw new Deno.errors.NotFound(`No network interface "${iface}"`);
  return Number(text.trim());
}
