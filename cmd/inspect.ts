/**
 * `inspect`: what a BPF object holds — programs (section, type, attach target, size,
 * disassembly), maps (type, sizes, flags), global variables with their values, and BTF as C.
 *
 * It only parses: it needs `--allow-read` and nothing else (Deno grants files under /sys
 * only to `--allow-all`), so it is safe to point at any object.
 *
 * ```sh
 * deno run -R jsr:@ebpf/ebpf/inspect                 # the bundled demo object
 * deno run -R jsr:@ebpf/ebpf/inspect prog.o --llvm   # disassembled as llvm-objdump -d does
 * deno run -R jsr:@ebpf/ebpf/inspect prog.o --btf    # BTF types as C declarations
 * deno run -R jsr:@ebpf/ebpf/inspect prog.o --json   # everything as JSON, for tools
 * deno run -A jsr:@ebpf/ebpf/inspect /sys/kernel/btf/vmlinux --c > vmlinux.h
 * ```
 *
 * A raw BTF file (magic 0xeB9F: /sys/kernel/btf/vmlinux, a module's file there, read on top
 * of vmlinux, or any other with `--base`) is shown as its types; `--c` prints them as a
 * header that clang compiles and CO-RE programs include, as `bpftool btf dump … format c`.
 * Relative paths are read from the current directory.
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
import { loadSpec } from "../btf/load.ts";
import { parseSpec, type Spec } from "../btf/spec.ts";
import { parseCollectionSpec } from "../elf/mod.ts";
import { ElfFile, SectionFlag, SymbolType } from "../elf/elf_file.ts";
import { codecFor, decodeValue } from "../map/codec.ts";
import { mapTypeName } from "../map/map_type.ts";
import type { CollectionSpec } from "../prog/collection_spec.ts";
import { attachTypeName } from "../prog/attach_type.ts";
import { ProgramType, programTypeName } from "../prog/program_type.ts";
import type { VariableSpec } from "../prog/variable_spec.ts";
import { demoSyscallsObject } from "./_demo_syscalls_bpf.ts";
import { swapByteOrder } from "./_host_order.ts";

/** What the object inspected when no file is given is called: the demo's syscall counter. */
const DEFAULT_OBJECT_NAME = "demo_syscalls-el.o (bundled)";

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

/**
 * A variable's value decoded from its BTF; an object in the other byte order is swapped to
 * the host's first. Types without a value representation (and bitfields in the other byte
 * order) fall back to bytes.
 */
function variableValue(v: VariableSpec, order: "little" | "big"): unknown {
  const bytes = v.get();
  if (v.type instanceof Var) {
    const host = order === HOST_BYTE_ORDER ? bytes : swapByteOrder(v.type.type, bytes);
    if (host !== undefined) {
      try {
        return decodeValue(codecFor(v.type.type), host);
      } catch {
        // Types without a value representation fall back to bytes.
      }
    }
  }
  return bytes;
}

function hexBytes(bytes: Uint8Array): string[] {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0"));
}

/** JSON with bigints as decimal strings and bytes as hex (`"00 1f"`). */
function toJson(value: unknown): string {
  return JSON.stringify(
    value,
    (_k, v) =>
      typeof v === "bigint" ? v.toString() : v instanceof Uint8Array ? hexBytes(v).join(" ") : v,
    2,
  );
}

/** Runs of at least this many equal elements print once, with their count. */
const MIN_RUN = 4;

/**
 * A value for the one-line text view: strings quoted, bigints with `n`, objects inline, and
 * runs of equal array elements (or bytes) as `0n × 40`, so that a zeroed buffer reads as one.
 */
export function showValue(value: unknown): string {
  if (value instanceof Uint8Array) return runs(hexBytes(value)).join(" ");
  if (Array.isArray(value)) {
    return value.length === 0 ? "[]" : `[ ${runs(value.map(showValue)).join(", ")} ]`;
  }
  if (typeof value === "object" && value !== null) {
    const fields = Object.entries(value).map(([k, v]) =>
      `${/^[A-Za-z_$][\w$]*$/.test(k) ? k : JSON.stringify(k)}: ${showValue(v)}`
    );
    return fields.length === 0 ? "{}" : `{ ${fields.join(", ")} }`;
  }
  return Deno.inspect(value, { colors: false, breakLength: Infinity });
}

/** `items` with each run of `MIN_RUN` or more equal neighbours folded into `item × count`. */
function runs(items: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < items.length;) {
    let j = i + 1;
    while (j < items.length && items[j] === items[i]) j++;
    if (j - i >= MIN_RUN) out.push(`${items[i]} × ${j - i}`);
    else out.push(...items.slice(i, j));
    i = j;
  }
  return out;
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
    /** Instructions: a 64-bit immediate load counts once. */
    instructions: number;
    /** 8-byte slots, what the listing numbers (a 64-bit immediate load takes two). */
    slots: number;
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
      slots,
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
        `  ${p.instructions} instructions (${p.slots} slots, ${p.bytes} bytes)  license "${p.license}"`,
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
      }  = ${showValue(v.value)}`,
    );
  }
  lines.push(
    "",
    r.btfTypes === null ? "No BTF" : `BTF: ${r.btfTypes} types (--btf prints them as C)`,
  );
  // Names come from the object: a newline or terminal escape in one is shown, not obeyed.
  const text = lines.map(printable);
  // formatC's header holds nothing but what it writes itself.
  if (r.btf !== undefined) text.push("", r.btf);
  return text.join("\n");
}

/** A line with its control characters (tabs aside) escaped as `\xNN`. */
export function printable(line: string): string {
  return line.replace(
    // deno-lint-ignore no-control-regex -- matching control characters is the point
    /[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]/g,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`,
  );
}

/** Whether `bytes` start with the BTF magic 0xeB9F in either byte order: a raw BTF file. */
export function isRawBtf(bytes: Uint8Array): boolean {
  return bytes.length >= 2 &&
    ((bytes[0] === 0x9f && bytes[1] === 0xeb) || (bytes[0] === 0xeb && bytes[1] === 0x9f));
}

/** The directory of the kernel's BTF: `vmlinux` and one split BTF file per module. */
const KERNEL_BTF_DIR = "/sys/kernel/btf/";

/**
 * The base of a raw BTF file: `--base` when given, else `vmlinux` for a kernel module's file
 * in /sys/kernel/btf (module BTF is split BTF on top of the kernel's), else none.
 */
export function baseOf(path: string, base: string | undefined): string | undefined {
  if (base !== undefined) return base;
  if (!path.startsWith(KERNEL_BTF_DIR) || path === `${KERNEL_BTF_DIR}vmlinux`) return undefined;
  return `${KERNEL_BTF_DIR}vmlinux`;
}

/** An include guard for a header made from `file`: `__VMLINUX_H__` for vmlinux. */
export function guardFor(file: string): string {
  const stem = file.slice(file.lastIndexOf("/") + 1).replace(/\.[^.]*$/, "");
  return `__${stem.toUpperCase().replace(/[^A-Z0-9]/g, "_")}_H__`;
}

/** What `inspect --json` prints for a raw BTF file. */
export interface BtfReport {
  /** The file inspected. */
  file: string;
  /** Always `"btf"`: the file is raw BTF, not an ELF object. */
  format: "btf";
  /** `"little"` or `"big"`. */
  byteOrder: string;
  /** The base file of split BTF (a kernel module's BTF has vmlinux), or null. */
  base: string | null;
  /** The number of types the file adds (without its base's). */
  btfTypes: number;
  /** The number of types of each kind. */
  kinds: Record<string, number>;
  /** With `--btf` or `--c`: the types as a C header. */
  btf?: string;
}

/** Reports a raw BTF file (on top of `base`, for split BTF). */
export function btfReport(
  file: string,
  spec: Spec,
  base: string | undefined,
  options: { c?: boolean } = {},
): BtfReport {
  const kinds: Record<string, number> = {};
  let count = 0;
  // A split spec iterates its own types only.
  for (const t of spec) {
    count++;
    const kind = t.constructor.name;
    kinds[kind] = (kinds[kind] ?? 0) + 1;
  }
  const out: BtfReport = {
    file,
    format: "btf",
    byteOrder: spec.byteOrder,
    base: base ?? null,
    btfTypes: count,
    kinds,
  };
  // Base types first, as bpftool prints split BTF: the module's header stands alone.
  if (options.c) out.btf = formatC(withBases(spec), { guard: guardFor(file) });
  return out;
}

/** The types of `spec` after those of its bases (split BTF prints whole, bases first). */
export function withBases(spec: Spec): Type[] {
  const chain: Spec[] = [];
  for (let s: Spec | undefined = spec; s !== undefined; s = s.base) chain.unshift(s);
  return chain.flatMap((s) => [...s]);
}

/** The text view of a BTF report. */
export function formatBtfReport(r: BtfReport): string {
  const lines = [
    `${r.file}: ${r.byteOrder}-endian raw BTF${r.base ? ` on top of ${r.base}` : ""}, ` +
    `${r.btfTypes} types`,
    "",
    ...Object.entries(r.kinds).sort((a, b) => b[1] - a[1]).map(([k, n]) =>
      `  ${String(n).padStart(7)}  ${k}`
    ),
    "",
    `--c prints them as a C header: inspect ${r.file} --c > ${
      r.file.slice(r.file.lastIndexOf("/") + 1).replace(/\.[^.]*$/, "")
    }.h`,
  ];
  if (r.btf !== undefined) lines.push("", r.btf);
  return lines.join("\n");
}

const USAGE = `Usage: inspect [file] [--llvm] [--btf] [--c] [--json] [--base file]
   as: deno run -R jsr:@ebpf/ebpf/inspect prog.o      (paths are relative to the current directory)

Shows the programs, maps, variables and BTF of a BPF ELF object (default: the demo's object),
or the types of a raw BTF file such as /sys/kernel/btf/vmlinux.

  --llvm   disassemble the object's sections as llvm-objdump -d prints them
  --btf    also print the BTF types as C declarations
  --c      print only the BTF types, as a C header CO-RE programs include:
           inspect /sys/kernel/btf/vmlinux --c > vmlinux.h
  --json   print everything as JSON
  --base   the base of split BTF (default for /sys/kernel/btf/<module>: its vmlinux)`;

/** Writes all of `text` to stdout: a header is written as it is, without a newline added. */
export async function writeStdout(text: string): Promise<void> {
  const bytes = new TextEncoder().encode(text);
  for (let done = 0; done < bytes.length;) done += await Deno.stdout.write(bytes.subarray(done));
}

const FLAGS = ["--llvm", "--btf", "--c", "--json"];

/** Runs the command with `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const flags = new Set<string>();
  const files: string[] = [];
  let basePath: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--base") {
      if (i + 1 >= args.length) {
        console.error("Option '--base' needs a file");
        return 2;
      }
      basePath = args[++i];
    } else if (a.startsWith("-")) flags.add(a);
    else files.push(a);
  }
  if (flags.has("-h") || flags.has("--help")) {
    console.log(USAGE);
    return 0;
  }
  const unknown = [...flags].filter((f) => !FLAGS.includes(f));
  if (unknown.length > 0 || files.length > 1) {
    console.error(
      unknown.length > 0 ? `Unknown option: '${unknown[0]}'` : "Give at most one file",
    );
    console.error(USAGE);
    return 2;
  }
  const name = files[0] ?? DEFAULT_OBJECT_NAME;
  let bytes: Uint8Array;
  try {
    bytes = files[0] === undefined ? demoSyscallsObject("little") : await Deno.readFile(name);
  } catch (e) {
    // Deno's message names the flag: --allow-read, or --allow-all for files under /sys.
    console.error(`Cannot read '${name}': ${(e as Error).message}`);
    return 1;
  }
  try {
    if (isRawBtf(bytes)) {
      const base = baseOf(name, basePath);
      const spec = parseSpec(bytes, base === undefined ? {} : { base: loadSpec(base) });
      const r = btfReport(name, spec, base, { c: flags.has("--c") || flags.has("--btf") });
      if (flags.has("--json")) console.log(toJson(r));
      else if (flags.has("--c")) await writeStdout(r.btf ?? "");
      else console.log(formatBtfReport(r));
      return 0;
    }
    const spec = parseCollectionSpec(bytes);
    if (flags.has("--c") && !flags.has("--json")) {
      if (!spec.types) {
        console.error(`Cannot print '${name}' as C: it has no BTF`);
        return 1;
      }
      await writeStdout(formatC(spec.types, { guard: guardFor(name) }));
      return 0;
    }
    const r = report(name, bytes, spec, {
      llvm: flags.has("--llvm"),
      btf: flags.has("--btf") || flags.has("--c"),
    });
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
