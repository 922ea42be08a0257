/**
 * `formatRaw`: the text of `bpftool btf dump file F format raw`, line for line.
 *
 * @module
 */

import { Kind, KIND_NAMES } from "./types.ts";
import type { Spec } from "./spec.ts";

const INT_ENCODINGS: Record<number, string> = { 0: "(none)", 1: "SIGNED", 2: "CHAR", 4: "BOOL" };
const LINKAGES = ["static", "global", "extern"];

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
  // Type references are printed from the raw words: check them first, as decoding does.
  spec.validate();
  const { words: w, offsets, firstId, count } = spec.raw;
  const name = (off: number) => (off === 0 ? "(anon)" : printable(spec.string(off)));
  const out: string[] = [];
  let chunk = "";
  for (let i = 0; i < count; i++) {
    const id = firstId + i;
    const o = offsets[i];
    const info = w[o + 1];
    const kind = (info >>> 24) & 0x1f;
    const vlen = info & 0xffff;
    const kflag = info >>> 31;
    const sz = w[o + 2];
    let line = `[${id}] ${KIND_NAMES[kind] ?? "UNKNOWN"} '${name(w[o])}'`;
    switch (kind) {
      case Kind.Int: {
        const x = w[o + 3];
        line += ` size=${sz} bits_offset=${(x >>> 16) & 0xff} nr_bits=${x & 0xff} encoding=${
          INT_ENCODINGS[(x >>> 24) & 0x0f] ?? "UNKN"
        }`;
        break;
      }
      case Kind.Pointer:
      case Kind.Const:
      case Kind.Volatile:
      case Kind.Restrict:
      case Kind.Typedef:
      case Kind.TypeTag:
        line += ` type_id=${sz}`;
        break;
      case Kind.Array:
        line += ` type_id=${w[o + 3]} index_type_id=${w[o + 4]} nr_elems=${w[o + 5]}`;
        break;
      case Kind.Struct:
      case Kind.Union:
        line += ` size=${sz} vlen=${vlen}`;
        for (let p = o + 3, j = 0; j < vlen; j++, p += 3) {
          const off = w[p + 2];
          const bitOff = kflag ? off & 0xffffff : off;
          const bitSize = kflag ? off >>> 24 : 0;
          line += `\n\t'${name(w[p])}' type_id=${w[p + 1]} bits_offset=${bitOff}`;
          if (bitSize) line += ` bitfield_size=${bitSize}`;
        }
        break;
      case Kind.Enum:
        line += ` encoding=${kflag ? "SIGNED" : "UNSIGNED"} size=${sz} vlen=${vlen}`;
        for (let p = o + 3, j = 0; j < vlen; j++, p += 2) {
          line += `\n\t'${name(w[p])}' val=${kflag ? w[p + 1] | 0 : w[p + 1]}`;
        }
        break;
      case Kind.Enum64:
        line += ` encoding=${kflag ? "SIGNED" : "UNSIGNED"} size=${sz} vlen=${vlen}`;
        for (let p = o + 3, j = 0; j < vlen; j++, p += 3) {
          const u = (BigInt(w[p + 2]) << 32n) | BigInt(w[p + 1]);
          line += kflag
            ? `\n\t'${name(w[p])}' val=${BigInt.asIntN(64, u)}LL`
            : `\n\t'${name(w[p])}' val=${u}ULL`;
        }
        break;
      case Kind.Fwd:
        line += ` fwd_kind=${kflag ? "union" : "struct"}`;
        break;
      case Kind.Func:
        line += ` type_id=${sz} linkage=${LINKAGES[vlen] ?? "(unknown)"}`;
        break;
      case Kind.FuncProto:
        line += ` ret_type_id=${sz} vlen=${vlen}`;
        for (let p = o + 3, j = 0; j < vlen; j++, p += 2) {
          line += `\n\t'${name(w[p])}' type_id=${w[p + 1]}`;
        }
        break;
      case Kind.Var:
        line += ` type_id=${sz}, linkage=${LINKAGES[w[o + 3]] ?? "(unknown)"}`;
        break;
      case Kind.Datasec: {
        line += ` size=${sz} vlen=${vlen}`;
        const limit = spec.nextTypeId;
        for (let p = o + 3, j = 0; j < vlen; j++, p += 3) {
          const t = w[p];
          line += `\n\ttype_id=${t} offset=${w[p + 1]} size=${w[p + 2]}`;
          if (t < limit) {
            line += ` (${KIND_NAMES[spec.kindOf(t)] ?? "UNKNOWN"} '${name(spec.nameOffsetOf(t))}')`;
          }
        }
        break;
      }
      case Kind.Float:
        line += ` size=${sz}`;
        break;
      case Kind.DeclTag:
        line += ` type_id=${sz} component_idx=${w[o + 3] | 0}`;
        break;
    }
    chunk += line + "\n";
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
