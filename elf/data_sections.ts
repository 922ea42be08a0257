/**
 * Global data: `.data`, `.rodata`, `.bss` and their `.data.*`, `.rodata.*`, `.bss.*`
 * variants become single-entry array maps named like the section, holding its bytes, and
 * each variable of the section's BTF `Datasec` becomes a {@linkcode VariableSpec}.
 *
 * @module
 */

import type { Datasec, Var } from "../btf/mod.ts";
import { MapSpec } from "../map/map_spec.ts";
import { MapType } from "../map/map_type.ts";
import { VariableSpec } from "../prog/variable_spec.ts";
import {
  type ElfSymbol,
  MAX_NOBITS,
  type Section,
  SectionFlag,
  SectionType,
  SymbolType,
} from "./elf_file.ts";
import { datasec, fixupDatasec, type ObjectContext, symbolsIn, take } from "./_object.ts";

/** `BPF_F_RDONLY_PROG`: programs may only read the map (libbpf's flag for `.rodata`). */
export const BPF_F_RDONLY_PROG = 1 << 7;

/** Which kind of global data a section holds, or undefined when it holds none. */
export function dataSectionKind(section: Section): "data" | "rodata" | "bss" | undefined {
  const { name, type } = section;
  // libbpf takes only allocated sections: debug info and BTF are not global data.
  if ((section.flagBits & SectionFlag.Alloc) === 0) return undefined;
  if (type === SectionType.ProgBits) {
    if (name === ".data" || name.startsWith(".data.")) return "data";
    if (name === ".rodata" || name.startsWith(".rodata.")) return "rodata";
  } else if (type === SectionType.NoBits) {
    if (name === ".bss" || name.startsWith(".bss.")) return "bss";
  }
  return undefined;
}

/** The maps and variables of the object's global data sections. */
export interface GlobalData {
  /** One map per non-empty data section, by section index. */
  maps: Map<number, MapSpec>;
  /** Variables by name, in section then offset order. */
  variables: Record<string, VariableSpec>;
}

/**
 * Builds the global data maps and their variables. The section's `Datasec` (clang writes
 * it with size 0 and offsets 0) gets its real size and offsets from the symbol table, as
 * libbpf fixes it up before loading BTF.
 */
export function readGlobalData(ctx: ObjectContext): GlobalData {
  const maps = new Map<number, MapSpec>();
  const variables: Record<string, VariableSpec> = {};
  for (const section of ctx.elf.sections) {
    const kind = dataSectionKind(section);
    if (kind === undefined) continue;
    const ds = datasec(ctx, section.name);
    if (ds) fixupDatasec(ctx, section, ds);
    // The kernel refuses zero-sized values; libbpf skips empty sections too.
    if (section.size === 0) continue;
    const rodata = kind === "rodata";
    const map = new MapSpec({
      name: section.name,
      type: MapType.Array,
      keySize: 4,
      valueSize: section.size,
      maxEntries: 1,
      flags: rodata ? BPF_F_RDONLY_PROG : 0,
      freeze: rodata,
      // `.bss` stays zeroed; the others are copied off the input.
      contents: [{ key: take(ctx, 4), value: sectionCopy(ctx, section, kind === "bss") }],
      value: ds,
    });
    maps.set(section.index, map);
    for (const v of sectionVariables(ctx, section, ds)) {
      if (v.name in variables) continue;
      variables[v.name] = new VariableSpec({ ...v, map, byteOrder: ctx.byteOrder });
    }
  }
  return { maps, variables };
}

/** The section's bytes, copied, or zeros for `.bss`. */
function sectionCopy(ctx: ObjectContext, section: Section, bss: boolean): Uint8Array {
  // Past the cap, `data` throws the FormatError.
  if (bss && section.size > MAX_NOBITS) return ctx.elf.data(section);
  const out = take(ctx, section.size);
  if (!bss) out.set(ctx.elf.data(section));
  return out;
}

interface VariableInit {
  name: string;
  offset: number;
  size: number;
  type: Var | undefined;
}

/** The section's variables: from BTF when it has a Datasec, else from its object symbols. */
function sectionVariables(
  ctx: ObjectContext,
  section: Section,
  ds: Datasec | undefined,
): VariableInit[] {
  if (ds) {
    return ds.vars.map((vsi) => ({
      name: (vsi.type as Var).name,
      offset: vsi.offset,
      size: vsi.size,
      type: vsi.type as Var,
    })).sort((a, b) => a.offset - b.offset);
  }
  return symbolsIn(ctx, section)
    .filter((s: ElfSymbol) =>
      s.type === SymbolType.Object && s.name !== "" && s.size > 0 &&
      s.value <= section.size && s.size <= section.size - s.value
    )
    .map((s) => ({ name: s.name, offset: s.value, size: s.size, type: undefined }));
}
