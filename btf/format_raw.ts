/**
 * `formatRaw`: the text of `bpftool btf dump file F format raw`, line for line.
 *
 * @module
 */

import { KIND_NAMES } from "./types.ts";
import { type RawEntry, type RawType, rawTypes } from "./raw_types.ts";
import type { Spec } from "./spec.ts";

/**
 * Prints a spec the way `bpftool btf dump file F format raw` does (for split BTF, the way
 * `bpftool btf dump file F -B base format raw` does: only the split types). The result ends
 * with a newline, like bpftool's output.
 *
 * @example
 * ```ts
 * import { formatRaw, loadKernelSpec } from "@ebpf/ebpf/btf";
 * console.log(formatRaw(loadKernelSpec()).split("\n")[0]);
 * // [1] INT 'long unsigned int' size=8 bits_offset=0 nr_bits=64 encoding=(none)
 * ```
 */
export function formatRaw(spec: Spec): string {
  const out: string[] = [];
  let chunk = "";
  for (const t of rawTypes(spec)) {
    chunk += formatType(t, spec) + "\n";
    // Concatenating into chunks keeps the final join cheap for hundreds of thousands of lines.
    if (chunk.length > 1 << 16) {
      out.push(chunk);
      chunk = "";
    }
  }
  out.push(chunk);
  return out.join("");
}

/**
 * One type's line (and its entries' lines): `[id] KIND 'name'`, then `field=value` for each
 * field in order, then each entry on a tab-indented line, `'name'` first. Three places where
 * bpftool's text is not that pattern are spelled out: a VAR's comma, an ENUM64 value's C
 * suffix and the kind and name of a DATASEC variable's type.
 */
function formatType(t: RawType, spec: Spec): string {
  let line = `[${t.id}] ${t.kind} '${printable(t.name)}'`;
  for (const key in t) {
    if (key === "id" || key === "kind" || key === "name") continue;
    const value = t[key];
    if (!Array.isArray(value)) {
      line += t.kind === "VAR" && key === "linkage" ? `, ${key}=${value}` : ` ${key}=${value}`;
      continue;
    }
    for (const entry of value) {
      line += `\n\t${formatEntry(entry)}`;
      if (t.kind === "ENUM64") line += t.encoding === "SIGNED" ? "LL" : "ULL";
      if (t.kind === "DATASEC") line += varType(entry, spec);
    }
  }
  return line;
}

function formatEntry(entry: RawEntry): string {
  const fields: string[] = [];
  for (const key in entry) {
    fields.push(key === "name" ? `'${printable(String(entry.name))}'` : `${key}=${entry[key]}`);
  }
  return fields.join(" ");
}

/** ` (KIND 'name')` of a section variable's type, when the type exists (bpftool's note). */
function varType(entry: RawEntry, spec: Spec): string {
  const id = Number(entry.type_id);
  if (id >= spec.nextTypeId) return "";
  const off = spec.nameOffsetOf(id);
  const name = off === 0 ? "(anon)" : spec.string(off);
  return ` (${KIND_NAMES[spec.kindOf(id)] ?? "UNKNOWN"} '${printable(name)}')`;
}

/**
 * A name with its control characters escaped as `\xNN` (bpftool prints them raw): a newline
 * in a hostile name must not make a line of its own. Real names have none, so they print as
 * bpftool prints them.
 */
function printable(name: string): string {
  return name.replace(
    // deno-lint-ignore no-control-regex -- matching control characters is the point
    /[\x00-\x1f\x7f-\x9f\u2028\u2029]/g,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`,
  );
}
