/**
 * Maps of the legacy `maps` section: one `struct bpf_map_def` per symbol, as libbpf reads
 * it (`type`, `key_size`, `value_size`, `max_entries`, `map_flags`, any further bytes zero),
 * or iproute2's `struct bpf_elf_map` (tc's loader) with its pinning and inner map ids.
 *
 * @module
 */

import { FormatError } from "../errors.ts";
import { MapSpec, PinType } from "../map/map_spec.ts";
import type { MapType } from "../map/map_type.ts";
import { type Section, SymbolType } from "./elf_file.ts";
import { type ObjectContext, symbolsIn } from "./_object.ts";

/** The name of the legacy map section. */
export const LEGACY_MAPS_SECTION = "maps";

/** `sizeof(struct bpf_map_def)` of libbpf: five u32 fields. */
const BPF_MAP_DEF_SIZE = 20;
/** `sizeof(struct bpf_elf_map)` of iproute2: nine u32 fields. */
const BPF_ELF_MAP_SIZE = 36;

/**
 * Reads the maps of the legacy section. Each named symbol in it is a map; its definition
 * has the symbol's size, or the section's size over the number of maps (as libbpf computes
 * it) when symbols carry no size.
 */
export function readLegacyMaps(ctx: ObjectContext, section: Section): MapSpec[] {
  const symbols = symbolsIn(ctx, section).filter((s) =>
    s.name !== "" && s.type !== SymbolType.Section && s.type !== SymbolType.File
  );
  if (symbols.length === 0) return [];
  const bytes = ctx.elf.data(section);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const little = ctx.byteOrder === "little";
  const defaultSize = Math.floor(section.size / symbols.length);
  const maps: MapSpec[] = [];
  const byId = new Map<number, MapSpec>();
  const innerIds: [MapSpec, number][] = [];
  for (const sym of symbols) {
    const size = sym.size || defaultSize;
    if (size < 4 || sym.value > section.size || size > section.size - sym.value) {
      throw new FormatError(
        `ELF: legacy map "${sym.name}" of ${size} bytes at ${sym.value} lies outside "maps"`,
        section.offset,
      );
    }
    const at = sym.value;
    const field = (i: number) => (i * 4 + 4 <= size ? view.getUint32(at + i * 4, little) : 0);
    const map = new MapSpec({
      name: sym.name,
      type: field(0) as MapType,
      keySize: field(1),
      valueSize: field(2),
      maxEntries: field(3),
      flags: field(4),
    });
    if (size === BPF_ELF_MAP_SIZE) {
      // iproute2: id, pinning (PIN_OBJECT_NS 1, PIN_GLOBAL_NS 2), inner_id, inner_idx.
      const id = field(5);
      if (field(6) !== 0) map.pinning = PinType.ByName;
      if (id !== 0) byId.set(id, map);
      if (field(7) !== 0) innerIds.push([map, field(7)]);
    } else {
      for (let o = BPF_MAP_DEF_SIZE; o < size; o++) {
        if (bytes[at + o] !== 0) {
          throw new FormatError(
            `ELF: legacy map "${sym.name}" has unknown non-zero bytes after its definition`,
            section.offset + at + o,
          );
        }
      }
    }
    maps.push(map);
  }
  for (const [outer, id] of innerIds) {
    const inner = byId.get(id);
    if (!inner) {
      throw new FormatError(`ELF: map "${outer.name}" names inner map id ${id}, not defined`, 0);
    }
    outer.innerMap = inner.copy();
  }
  return maps;
}
