/**
 * struct_ops links (`BPF_LINK_TYPE_STRUCT_OPS`): registers a `BPF_MAP_TYPE_STRUCT_OPS` map
 * (a kernel ops table filled with BPF programs, such as `tcp_congestion_ops`) made with
 * `BPF_F_LINK`, for as long as the link lives. Maps made without it (`SEC(".struct_ops")`)
 * are registered by writing their value and unregistered by deleting it, which
 * {@linkcode registerStructOps} wraps in the same `Link` interface, as libbpf's
 * `bpf_map__attach_struct_ops` does.
 *
 * @module
 */

import { refuseStructuredClone } from "../_internal/clone_guard.ts";
import { Attr } from "../ffi.ts";
import { KeyNotExistError, NotSupportedError } from "../errors.ts";
import { AttachType } from "../prog/attach_type.ts";
import { pendingStructOpsValue } from "../prog/_struct_ops.ts";
import type { BpfMap } from "../map/bpf_map.ts";
import { MapType, mapTypeName } from "../map/map_type.ts";
import { LinkCreate } from "./_link_create.ts";
import { type Link, type LinkInfo, linkUpdate, RawLink } from "./link.ts";
import { linkCreateOf } from "./link_features.ts";

/** A registered struct_ops map. */
export class StructOpsLink extends RawLink {
  /**
   * Replaces the registered ops table with another struct_ops map (BPF_LINK_UPDATE), made
   * with `BPF_F_LINK` and already filled. With `expected`, only if that map is the one
   * registered now. The subsystem may add rules: `tcp_congestion_ops` keeps its name, so
   * the new table must carry the same one (EINVAL otherwise).
   */
  updateMap(map: BpfMap, expected?: BpfMap): void {
    checkLinkable(map);
    linkUpdate(this.fd, map.fd, expected?.fd);
  }
}

/** `BPF_F_LINK`: a struct_ops map that a link, not a map update, registers. */
const BPF_F_LINK = 1 << 13;

/** Throws a TypeError unless `map` is a struct_ops map made for links. */
function checkLinkable(map: BpfMap): void {
  if (map.type !== MapType.StructOpsMap) {
    throw new TypeError(
      `Cannot register map "${map.name}" as struct_ops: it is a ${mapTypeName(map.type)} map`,
    );
  }
  if ((map.flags & BPF_F_LINK) === 0) {
    throw new TypeError(
      `Cannot register map "${map.name}" through a link: it was created without BPF_F_LINK ` +
        '(SEC(".struct_ops")); registerStructOps registers it',
    );
  }
}

/**
 * Registers the struct_ops map `map` (created with `BPF_F_LINK` and filled with its
 * programs) through a link; closing the link unregisters it.
 */
export function attachStructOps(map: BpfMap): StructOpsLink {
  checkLinkable(map);
  const attr = new Attr()
    .u32(LinkCreate.progFd, map.fd)
    .u32(LinkCreate.attachType, AttachType.StructOps);
  return new StructOpsLink(linkCreateOf(attr, "structOps"));
}

/**
 * A struct_ops map made without `BPF_F_LINK`, registered by writing its value: closing (or
 * detaching) unregisters it by deleting the value. There is no kernel link behind it, so
 * it cannot be pinned, updated or described.
 */
export class StructOpsRegistration implements Link {
  #map: BpfMap | undefined;

  /** Use {@linkcode registerStructOps}. */
  constructor(map: BpfMap) {
    this.#map = map;
    refuseStructuredClone(
      this,
      "StructOpsRegistration",
      "it detaches when its owner closes it: keep it in the thread that made it",
    );
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#map === undefined;
  }

  /** Unregisters the ops table; safe to call twice. */
  close(): void {
    const map = this.#map;
    if (map === undefined) return;
    this.#map = undefined;
    try {
      map.delete(0);
    } catch (e) {
      // Already unregistered by someone else: nothing left to undo.
      if (!(e instanceof KeyNotExistError)) throw e;
    } finally {
      map.close();
    }
  }

  /** Same as {@linkcode StructOpsRegistration.close}. */
  detach(): void {
    this.close();
  }

  /** Same as {@linkcode StructOpsRegistration.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Not possible without a kernel link: throws {@linkcode NotSupportedError}. */
  pin(_path: string): void {
    throw new NotSupportedError("pinning a struct_ops map registered without BPF_F_LINK");
  }

  /** Not possible without a kernel link: throws {@linkcode NotSupportedError}. */
  unpin(): void {
    throw new NotSupportedError("unpinning a struct_ops map registered without BPF_F_LINK");
  }

  /** Not possible without a kernel link: throws {@linkcode NotSupportedError}. */
  update(): void {
    throw new NotSupportedError("updating a struct_ops map registered without BPF_F_LINK");
  }

  /** Not possible without a kernel link: throws {@linkcode NotSupportedError}. */
  info(): LinkInfo {
    throw new NotSupportedError("info of a struct_ops map registered without BPF_F_LINK");
  }
}

/**
 * Registers a struct_ops map made without `BPF_F_LINK` (a `SEC(".struct_ops")` variable
 * loaded by `newCollection`) by writing the value the collection prepared: the kernel's
 * ops table with its programs' fds. Closing the registration unregisters it. As in
 * libbpf, loading the collection does not register the map; until this call it is inert.
 * The kernel fills a struct_ops map once: a second registration of the same map, even
 * after the first was closed, fails with EBUSY (load the collection again instead).
 *
 * @example
 * ```ts ignore
 * using coll = newCollection(await loadCollectionSpec("cc.o"));
 * using reg = registerStructOps(coll.maps.my_cc);
 * ```
 */
export function registerStructOps(map: BpfMap): StructOpsRegistration {
  if (map.type !== MapType.StructOpsMap) {
    throw new TypeError(
      `Cannot register map "${map.name}" as struct_ops: it is a ${mapTypeName(map.type)} map`,
    );
  }
  if ((map.flags & BPF_F_LINK) !== 0) {
    throw new TypeError(
      `Cannot register map "${map.name}" by its value: it was created with BPF_F_LINK; ` +
        "attachStructOps registers it",
    );
  }
  const value = pendingStructOpsValue(map);
  if (value === undefined) {
    throw new TypeError(
      `Cannot register map "${map.name}": newCollection did not make it; ` +
        "write its value with map.update(0, value) instead",
    );
  }
  const own = map.clone();
  try {
    own.update(0, value());
  } catch (e) {
    own.close();
    throw e;
  }
  return new StructOpsRegistration(own);
}
