/**
 * One open reader per kernel map, in this JavaScript realm: a ring buffer has one consumer
 * position and a perf event array one ring slot per CPU, so a second reader would steal,
 * repeat or replace the first one's records. Claims are by kernel map id (any handle of the
 * map: the same, a clone, one opened by id or pin) and weak, so a reader garbage-collected
 * without `close()` does not keep its map refused for good. The kernel keeps no record of
 * readers, so readers in other Workers or processes cannot be detected.
 *
 * @module
 */

import { InUseError } from "../errors.ts";
import type { BpfMap } from "./bpf_map.ts";

const claims = new Map<number, WeakRef<{ readonly closed: boolean }>>();

/**
 * Claims `map` for `reader` and returns the map's id; throws {@linkcode InUseError} naming
 * `kind` and `why` when another open reader holds it.
 */
export function claimMap(
  map: BpfMap,
  reader: { readonly closed: boolean },
  kind: string,
  why: string,
): number {
  const id = map.info().id;
  const other = claims.get(id)?.deref();
  if (other && other !== reader && !other.closed) {
    throw new InUseError(`Map "${map.name}" (id ${id}) already has an open ${kind}: ${why}`);
  }
  claims.set(id, new WeakRef(reader));
  return id;
}

/** Gives up the claim of `reader` on map `id`, if it still holds it. */
export function releaseMap(id: number, reader: object): void {
  if (claims.get(id)?.deref() === reader) claims.delete(id);
}
