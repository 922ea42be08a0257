/**
 * struct_ops variables: each global of `SEC(".struct_ops")` or `SEC(".struct_ops.link")`
 * (a kernel ops table such as `struct tcp_congestion_ops`, filled with BPF programs)
 * becomes a `STRUCT_OPS` map named like the variable, as libbpf makes them
 * (`init_struct_ops_maps`, `bpf_object__collect_st_ops_relos`).
 *
 * The map's one entry is the variable as an object of members by name: each function
 * pointer set in C is the name of the program the section's relocation points at, other
 * members their value (integers as numbers or bigints, char arrays as strings, anything
 * else its bytes). The loader lays that out in the kernel's `bpf_struct_ops_<type>` by
 * member name, once the programs are loaded. Each program plugged in gets
 * `attachTo = "<type>:<member>"`, from which its load finds `attach_btf_id` and
 * `expected_attach_type`.
 *
 * @module
 */

import {
  Array as ArrayType,
  Enum,
  FuncProto,
  Int,
  Pointer,
  sizeof,
  Struct,
  type Type,
  underlyingType,
  type Var,
} from "../btf/mod.ts";
import { FormatError } from "../errors.ts";
import { MapSpec } from "../map/map_spec.ts";
import { MapType } from "../map/map_type.ts";
import { ProgramType } from "../prog/program_type.ts";
import type { ProgramSpec } from "../prog/program_spec.ts";
import {
  type ElfFile,
  type Relocation,
  type Section,
  SectionType,
  SymbolType,
} from "./elf_file.ts";
import { datasec, fixupDatasec, type ObjectContext, symbolsIn } from "./_object.ts";

/** The section of struct_ops maps registered by updating them. */
export const STRUCT_OPS_SECTION = ".struct_ops";
/** The section of struct_ops maps created with `BPF_F_LINK`, registered by a bpf_link. */
export const STRUCT_OPS_LINK_SECTION = ".struct_ops.link";

/** `BPF_F_LINK`: the map is registered through a bpf_link, not by its update. */
const BPF_F_LINK = 1 << 13;

/** Whether `section` holds struct_ops variables (its name compared on its bytes). */
export function isStructOpsSection(elf: ElfFile, section: Section): boolean {
  return section.type === SectionType.ProgBits &&
    (elf.nameIs(section, STRUCT_OPS_SECTION) || elf.nameIs(section, STRUCT_OPS_LINK_SECTION));
}

/** One function pointer of a struct_ops variable set to a program. */
export interface StructOpsBinding {
  /** The map (variable) name. */
  map: string;
  /** The kernel struct's name, such as `tcp_congestion_ops`. */
  struct: string;
  /** The member the program is plugged into. */
  member: string;
  /** The program's name. */
  program: string;
}

/** The maps of one struct_ops section, and which programs they name. */
export interface StructOpsMaps {
  /** One map per variable, in offset order. */
  maps: MapSpec[];
  /** Every function pointer set to a program. */
  bindings: StructOpsBinding[];
}

/**
 * Reads the variables of a `.struct_ops` or `.struct_ops.link` section; `relocations` are
 * its `.rel` entries, which point function pointer members at programs.
 */
export function readStructOps(
  ctx: ObjectContext,
  section: Section,
  relocations: readonly Relocation[],
): StructOpsMaps {
  const ds = datasec(ctx, section.name);
  if (!ds) {
    throw new FormatError(`ELF: section "${section.name}" without BTF to describe it`, 0);
  }
  fixupDatasec(ctx, section, ds);
  const bytes = ctx.elf.data(section);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const targets = new Map<number, Relocation>();
  for (const r of relocations) targets.set(r.offset, r);
  const link = section.name === STRUCT_OPS_LINK_SECTION;
  const out: StructOpsMaps = { maps: [], bindings: [] };
  for (const vsi of [...ds.vars].sort((a, b) => a.offset - b.offset)) {
    const v = vsi.type as Var;
    const type = underlyingType(v.type);
    if (!(type instanceof Struct) || type.name === "") {
      throw new FormatError(
        `BTF: struct_ops variable "${v.name}" is not of a named struct type`,
        section.offset,
      );
    }
    const members: Record<string, unknown> = {};
    for (const m of type.members) {
      if (m.name === "") continue;
      const at = vsi.offset + m.offset / 8;
      const reloc = targets.get(at);
      if (isFunctionPointer(m.type)) {
        if (reloc === undefined) continue;
        const program = programAt(ctx, reloc, view);
        members[m.name] = program;
        out.bindings.push({ map: v.name, struct: type.name, member: m.name, program });
        continue;
      }
      if (reloc !== undefined) {
        throw new FormatError(
          `ELF: struct_ops "${v.name}" member "${m.name}" is relocated but is no function pointer`,
          section.offset + at,
        );
      }
      if (m.bitfieldSize !== 0 || m.offset % 8 !== 0) {
        throw new FormatError(
          `ELF: struct_ops "${v.name}" member "${m.name}" is a bitfield, which libbpf refuses too`,
          section.offset + at,
        );
      }
      members[m.name] = memberValue(m.type, view, at, ctx.byteOrder === "little");
    }
    out.maps.push(
      new MapSpec({
        name: v.name,
        type: MapType.StructOpsMap,
        keySize: 4,
        valueSize: type.size,
        maxEntries: 1,
        flags: link ? BPF_F_LINK : 0,
        value: type,
        contents: [{ key: new Uint8Array(4), value: members }],
      }),
    );
  }
  return out;
}

/**
 * Sets `attachTo` of each program a struct_ops variable names to `"<type>:<member>"`. A
 * program plugged into two different members cannot load for both (libbpf refuses the
 * reuse too); one that is no struct_ops program is an error as well.
 */
export function bindStructOpsPrograms(
  bindings: readonly StructOpsBinding[],
  programs: Record<string, ProgramSpec>,
): void {
  const seen = new Map<string, StructOpsBinding>();
  for (const b of bindings) {
    const prog = Object.hasOwn(programs, b.program) ? programs[b.program] : undefined;
    if (!prog || prog.type !== ProgramType.StructOps) {
      throw new FormatError(
        `ELF: struct_ops "${b.map}" member "${b.member}" points at "${b.program}", ` +
          "which is no struct_ops program",
        0,
      );
    }
    const target = `${b.struct}:${b.member}`;
    const earlier = seen.get(b.program);
    if (earlier && `${earlier.struct}:${earlier.member}` !== target) {
      throw new FormatError(
        `ELF: program "${b.program}" is plugged into "${earlier.struct}:${earlier.member}" ` +
          `of "${earlier.map}" and "${target}" of "${b.map}": a program serves one member`,
        0,
      );
    }
    seen.set(b.program, b);
    prog.attachTo = target;
  }
}

function isFunctionPointer(t: Type): boolean {
  const u = underlyingType(t);
  return u instanceof Pointer && underlyingType(u.target) instanceof FuncProto;
}

/** The name of the function a relocation of a function pointer points at. */
function programAt(ctx: ObjectContext, reloc: Relocation, data: DataView): string {
  const sym = ctx.symbols[reloc.symbol];
  if (sym === undefined) {
    throw new FormatError(`ELF: struct_ops relocation names symbol ${reloc.symbol}`, 0);
  }
  if (sym.type === SymbolType.Func && sym.name !== "") return sym.name;
  if (sym.type === SymbolType.Section && sym.section < ctx.elf.sections.length) {
    // A static function is reached through its section's symbol, its offset the addend
    // that `.rel` keeps in the data.
    const offset = Number(data.getBigUint64(reloc.offset, ctx.byteOrder === "little")) +
      sym.value;
    const fn = symbolsIn(ctx, ctx.elf.sections[sym.section]).find((s) =>
      s.type === SymbolType.Func && s.value === offset
    );
    if (fn) return fn.name;
  }
  throw new FormatError(
    `ELF: struct_ops relocation at ${reloc.offset} points at no function ("${sym.name}")`,
    0,
  );
}

/** A data member's value: a number or bigint, a string for char arrays, else its bytes. */
function memberValue(t: Type, view: DataView, at: number, little: boolean): unknown {
  const u = underlyingType(t);
  const size = sizeof(u);
  if (at + size > view.byteLength) {
    throw new FormatError(`ELF: struct_ops member at ${at} runs past its section`, 0);
  }
  if ((u instanceof Int || u instanceof Enum) && [1, 2, 4, 8].includes(size)) {
    const signed = u instanceof Int ? u.signed : u.signed;
    switch (size) {
      case 1:
        return signed ? view.getInt8(at) : view.getUint8(at);
      case 2:
        return signed ? view.getInt16(at, little) : view.getUint16(at, little);
      case 4:
        return signed ? view.getInt32(at, little) : view.getUint32(at, little);
      default:
        return signed ? view.getBigInt64(at, little) : view.getBigUint64(at, little);
    }
  }
  const bytes = new Uint8Array(view.buffer, view.byteOffset + at, size);
  if (isCharArray(u)) {
    const end = bytes.indexOf(0);
    return new TextDecoder().decode(end < 0 ? bytes : bytes.subarray(0, end));
  }
  return bytes.slice();
}

/** Whether `t` is an array of one-byte integers (a C string buffer). */
export function isCharArray(t: Type): boolean {
  return t instanceof ArrayType && sizeof(underlyingType(t.type)) === 1 &&
    underlyingType(t.type) instanceof Int;
}
