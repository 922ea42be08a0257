/**
 * `inspect`: what a BPF object holds — programs (section, type, attach target, size,
 * disassembly), maps (type, sizes, flags), global variables with their values, and BTF as C.
 *
 * It only parses: it needs `--allow-read` and nothing else, so it is safe to point at any
 * object.
 *
 * ```sh
 * deno task inspect                     # the bundled demo object
 * deno task inspect prog.o --llvm       # sections disassembled as llvm-objdump -d prints them
 * deno task inspect prog.o --btf        # BTF types as C declarations
 * deno task inspect prog.o --json       # everything as JSON, for tools
 * ```
 *
 * @module
 */

import { HOST_BYTE_ORDER, Instructions, withSymbol } from "../asm/mod.ts";
import {
  Array as ArrayType,
  Const,
  Enum,
  formatC,
  Pointer,
  Restrict,
  Struct,
  type Type,
  Typedef,
  Union,
  Var,
  Volatile,
} from "../btf/mod.ts";
import { parseCollectionSpec } from "../elf/mod.ts";
import { ElfFile, SectionFlag, SymbolType } from "../elf/elf_file.ts";
import { codecFor, decodeValue } from "../map/codec.ts";
import { mapTypeName } from "../map/map_type.ts";
import type { CollectionSpec } from "../prog/collection_spec.ts";
import { attachTypeName } from "../prog/attach_type.ts";
import { ProgramType, programTypeName } from "../prog/program_type.ts";
import type { VariableSpec } from "../prog/variable_spec.ts";

/** The object inspected when no file is given: the demo's syscall counter. */
export const DEFAULT_OBJECT: URL = new URL("../testdata/demo_syscalls-el.o", import.meta.url);

/** `BPF_F_*` map flags by bit, for display. */
const MAP_FLAGS: [number, string][] = [
  [1 << 0, "NO_PREALLOC"],
  [1 << 1, "NO_COMMON_LRU"],
  [1 << 2, "NUMA_NODE"],
  [1 << 3, "RDONLY"],
  [1 << 4, "WRONLY"],
  [1 << 5, "STACK_BUILD_ID"],
  [1 << 6, "ZERO_SEED"],
  [1 << 7, "RDONLY_PROG"],
  [1 << 8, "WRONLY_PROG"],
  [1 << 9, "CLONE"],
  [1 << 10, "MMAPABLE"],
  [1 << 11, "PRESERVE_ELEMS"],
  [1 << 12, "INNER_MAP"],
  [1 << 13, "LINK"],
  [1 << 14, "PATH_FD"],
  [1 << 15, "VTYPE_BTF_OBJ_FD"],
  [1 << 16, "TOKEN_FD"],
  [1 << 17, "SEGV_ON_FAULT"],
  [1 << 18, "NO_USER_CONV"],
];

/** Map flags as `BPF_F_A|BPF_F_B` (unknown bits in hex), or `0`. */
export function mapFlagNames(flags: number): string {
  if (flags === 0) return "0";
  const names: string[] = [];
  let rest = flags >>> 0;
  for (const [bit, name] of MAP_FLAGS) {
    if (rest & bit) {
      names.push(`BPF_F_${name}`);
      rest &= ~bit;
    }
  }
  if (rest) names.push(`0x${(rest >>> 0).toString(16)}`);
  return names.join("|");
}

/** A variable's value: decoded from its BTF where the object is in the host's byte order. */
function variableValue(v: VariableSpec, order: "little" | "big"): unknown {
  const bytes = v.get();
  if (order === HOST_BYTE_ORDER && v.type instanceof Var) {
    try {
      return decodeValue(codecFor(v.type.type), bytes);
    } catch {
      // Types without a value representation fall back to bytes.
    }
  }
  return hex(bytes);
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(" ");
}

/** JSON with bigints as decimal strings. */
function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) => typeof v === "bigint" ? v.toString() : v, 2);
}

/** A value for the text view: strings quoted, bigints with `n`, objects inline. */
function show(value: unknown): string {
  return Deno.inspect(value, { depth: 4, breakLength: Infinity, colors: false });
}

/**
 * The executable sections of an ELF object disassembled as `llvm-objdump -d
 * --no-show-raw-insn` prints them: the section's bytes before relocation, one header per
 * function symbol.
 */
export function disassembleSections(bytes: Uint8Array): string {
  const elf = new ElfFile(bytes);
  const symbols = elf.symbols();
  const out: string[] = [];
  for (const section of elf.sections) {
    if ((section.flags & BigInt(SectionFlag.ExecInstr)) === 0n || section.size === 0) continue;
    const insns = Instructions.unmarshal(elf.data(section), elf.byteOrder);
    // Slot offset → index in the list (a 64-bit immediate load takes two slots).
    const bySlot = new Map<number, number>();
    let slot = 0;
    insns.list.forEach((ins, i) => {
      bySlot.set(slot, i);
      slot += ins.opcode === 0x18 ? 2 : 1;
    });
    const funcs = symbols
      .filter((s) => s.section === section.index && s.type === SymbolType.Func)
      .sort((a, b) => a.value - b.value);
    for (const f of funcs) {
      const i = bySlot.get(f.value / 8);
      if (i !== undefined && insns.list[i].symbol === undefined) withSymbol(insns.list[i], f.name);
    }
    out.push(`Disassembly of section ${section.name}:`, "");
    out.push(insns.format("llvm"), "");
  }
  return out.join("\n");
}

/** Everything `inspect --json` prints. */
export interface InspectReport {
  /** The file inspected. */
  file: string;
  /** `"little"` or `"big"`. */
  byteOrder: string;
  /** Programs, in the object's order. */
  programs: {
    name: string;
    section: string;
    type: string;
    attachType: string | null;
    attachTo: string;
    license: string;
    instructions: number;
    bytes: number;
    disassembly: string[];
  }[];
  /** Maps, global data sections included. */
  maps: {
    name: string;
    type: string;
    keySize: number;
    valueSize: number;
    maxEntries: number;
    flags: string;
    pinning: number;
    key: string | null;
    value: string | null;
    innerMap: string | null;
    entries: number;
  }[];
  /** Global variables with their initial values. */
  variables: {
    name: string;
    section: string;
    offset: number;
    size: number;
    type: string | null;
    constant: boolean;
    value: unknown;
  }[];
  /** The number of BTF types, or null without BTF. */
  btfTypes: number | null;
  /** BTF as C, with `--btf`. */
  btf?: string;
  /** With `--llvm`: the executable sections as `llvm-objdump -d --no-show-raw-insn` prints them. */
  llvm?: string[];
}

/** A BTF type as C spells it in a declaration: `const volatile __u32`, `struct counter`. */
export function cTypeName(t: unknown, depth = 0): string | null {
  if (t === undefined || t === null) return null;
  const type = t as Type;
  if (depth > 16) return "…";
  if (type instanceof Const) return `const ${cTypeName(type.type, depth + 1)}`;
  if (type instanceof Volatile) return `volatile ${cTypeName(type.type, depth + 1)}`;
  if (type instanceof Restrict) return `${cTypeName(type.type, depth + 1)} restrict`;
  if (type instanceof Pointer) return `${cTypeName(type.target, depth + 1)} *`;
  if (type instanceof ArrayType) return `${cTypeName(type.type, depth + 1)}[${type.nelems}]`;
  if (type instanceof Struct) return `struct ${type.name || "(anon)"}`;
  if (type instanceof Union) return `union ${type.name || "(anon)"}`;
  if (type instanceof Enum) return `enum ${type.name || "(anon)"}`;
  if (type instanceof Typedef) return type.name;
  const named = type as { name?: string };
  return named.name ? named.name : String(type);
}

const typeName = (t: unknown): string | null => cTypeName(t);

/** Builds the report of a parsed object. */
export function report(
  file: string,
  bytes: Uint8Array,
  spec: CollectionSpec,
  options: { llvm?: boolean; btf?: boolean } = {},
): InspectReport {
  const programs = Object.values(spec.programs).map((p) => {
    let slots = 0;
    for (const ins of p.instructions) slots += ins.opcode === 0x18 ? 2 : 1;
    return {
      name: p.name,
      section: p.sectionName,
      type: programTypeName(p.type),
      // 0 is both "none" and BPF_CGROUP_INET_INGRESS: only cgroup_skb programs mean the latter.
      attachType: p.attachType !== 0 || p.type === ProgramType.CGroupSKB
        ? attachTypeName(p.attachType)
        : null,
      attachTo: p.attachTo,
      license: p.license,
      instructions: p.instructions.list.length,
      bytes: slots * 8,
      disassembly: p.instructions.toString().split("\n").filter((l) => l !== ""),
    };
  });
  const maps = Object.values(spec.maps).map((m) => ({
    name: m.name,
    type: mapTypeName(m.type),
    keySize: m.keySize,
    valueSize: m.valueSize,
    maxEntries: m.maxEntries,
    flags: mapFlagNames(m.flags),
    pinning: m.pinning,
    key: typeName(m.key),
    value: typeName(m.value),
    innerMap: m.innerMap ? mapTypeName(m.innerMap.type) : null,
    entries: m.contents.length,
  }));
  const variables = Object.values(spec.variables).map((v) => ({
    name: v.name,
    section: v.mapName,
    offset: v.offset,
    size: v.size,
    type: v.type instanceof Var ? cTypeName(v.type.type) : null,
    constant: v.constant,
    value: variableValue(v, spec.byteOrder),
  }));
  const out: InspectReport = {
    file,
    byteOrder: spec.byteOrder,
    programs,
    maps,
    variables,
    btfTypes: spec.types ? [...spec.types].length : null,
  };
  if (options.btf && spec.types) out.btf = formatC(spec.types);
  if (options.llvm) out.llvm = disassembleSections(bytes).split("\n");
  return out;
}

/** The text view of a report. */
export function formatReport(r: InspectReport): string {
  const lines: string[] = [`${r.file}: ${r.byteOrder}-endian BPF object`, ""];
  lines.push(`Programs (${r.programs.length}):`);
  for (const p of r.programs) {
    lines.push(
      `  ${p.name}  section "${p.section}"  ${p.type}` +
        (p.attachType !== null ? `  ${p.attachType}` : "") +
        (p.attachTo ? `  attach to "${p.attachTo}"` : "") +
        `  ${p.instructions} instructions (${p.bytes} bytes)  license "${p.license}"`,
    );
    if (r.llvm === undefined) {
      for (const l of p.disassembly) lines.push(`    ${l}`);
      lines.push("");
    }
  }
  if (r.llvm !== undefined) {
    lines.push("", "Disassembly (as llvm-objdump -d prints it, before relocation):", "");
    lines.push(...r.llvm);
  }
  lines.push(`Maps (${r.maps.length}):`);
  for (const m of r.maps) {
    lines.push(
      `  ${m.name}  ${m.type}  key ${m.keySize} B${
        m.key ? ` (${m.key})` : ""
      }  value ${m.valueSize} B${
        m.value ? ` (${m.value})` : ""
      }  max ${m.maxEntries}  flags ${m.flags}` +
        (m.innerMap ? `  inner ${m.innerMap}` : "") +
        (m.entries ? `  ${m.entries} initial entr${m.entries === 1 ? "y" : "ies"}` : ""),
    );
  }
  lines.push("", `Variables (${r.variables.length}):`);
  for (const v of r.variables) {
    lines.push(
      `  ${v.name}  ${v.section}+${v.offset}  ${v.size} B${v.type ? `  ${v.type}` : ""}${
        v.constant ? "  const" : ""
      }  = ${show(v.value)}`,
    );
  }
  lines.push(
    "",
    r.btfTypes === null ? "No BTF" : `BTF: ${r.btfTypes} types (--btf prints them as C)`,
  );
  if (r.btf !== undefined) lines.push("", r.btf);
  return lines.join("\n");
}

const USAGE = `Usage: deno task inspect [file.o] [--llvm] [--btf] [--json]

Shows the programs, maps, variables and BTF of a BPF ELF object (default: the demo's object).

  --llvm   disassemble the object's sections as llvm-objdump -d prints them
  --btf    print the BTF types as C declarations
  --json   print everything as JSON`;

/** Runs the command with `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const flags = new Set<string>();
  const files: string[] = [];
  for (const a of args) {
    if (a.startsWith("-")) flags.add(a);
    else files.push(a);
  }
  if (flags.has("-h") || flags.has("--help")) {
    console.log(USAGE);
    return 0;
  }
  const unknown = [...flags].filter((f) => !["--llvm", "--btf", "--json"].includes(f));
  if (unknown.length > 0 || files.length > 1) {
    console.error(
      unknown.length > 0 ? `Unknown option: '${unknown[0]}'` : "Give at most one object file",
    );
    console.error(USAGE);
    return 2;
  }
  const path = files[0] ?? DEFAULT_OBJECT;
  const name = typeof path === "string" ? path : "testdata/demo_syscalls-el.o";
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
      console.error(`Cannot read '${name}': run with --allow-read`);
    } else {
      console.error(`Cannot read '${name}': ${(e as Error).message}`);
    }
    return 1;
  }
  try {
    const spec = parseCollectionSpec(bytes);
    const r = report(name, bytes, spec, { llvm: flags.has("--llvm"), btf: flags.has("--btf") });
    if (flags.has("--json")) {
      console.log(toJson(r));
    } else {
      console.log(formatReport(r));
    }
    return 0;
  } catch (e) {
    console.error(`Cannot inspect '${name}': ${(e as Error).message}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
