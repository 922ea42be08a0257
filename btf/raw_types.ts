/**
 * `rawTypes`: a spec's types word by word, as records in the field names of
 * `bpftool -j btf dump file F format raw`. The one walk of the raw type section: `formatRaw`
 * prints these records as bpftool's text, `ebpf live btf dump` as bpftool's JSON.
 *
 * @module
 */

import { Kind, KIND_NAMES } from "./types.ts";
import type { Spec } from "./spec.ts";

const INT_ENCODINGS: Record<number, string> = { 0: "(none)", 1: "SIGNED", 2: "CHAR", 4: "BOOL" };
const LINKAGES = ["static", "global", "extern"];

/** A scalar field of a raw type record. */
export type RawValue = number | bigint | string;

/** A member, enumerator, parameter or section variable of a raw type record. */
export type RawEntry = Record<string, RawValue>;

/**
 * One type as bpftool's raw dump shows it: its id, kind name (`"STRUCT"`) and name
 * (`"(anon)"` when it has none), then its kind's fields in bpftool's order and names
 * (`size`, `type_id`, `vlen`, …), and its list, if its kind has one: `members`, `values`,
 * `params` or `vars`.
 */
export interface RawType {
  /** The type id. */
  id: number;
  /** The kind as bpftool names it, such as `"STRUCT"` (`"UNKNOWN"` for an unknown kind). */
  kind: string;
  /** The name, `"(anon)"` when it has none. */
  name: string;
  /** The kind's fields. */
  [field: string]: RawValue | RawEntry[];
}

/**
 * The types `spec` adds (for split BTF, not its base's) as bpftool's raw dump shows them,
 * decoded from the raw words after `spec.validate()` has checked every offset and reference.
 *
 * @example
 * ```ts
 * import { loadKernelSpec, rawTypes } from "@ebpf/ebpf/btf";
 * const [first] = rawTypes(loadKernelSpec());
 * console.log(first); // { id: 1, kind: "INT", name: "long unsigned int", size: 8, … }
 * ```
 */
export function* rawTypes(spec: Spec): Generator<RawType> {
  spec.validate();
  const { words: w, offsets, firstId, count } = spec.raw;
  const name = (off: number) => (off === 0 ? "(anon)" : spec.string(off));
  /** The `vlen` entries after the type's header words, `stride` words each. */
  const entries = (o: number, vlen: number, stride: number, entry: (p: number) => RawEntry) =>
    Array.from({ length: vlen }, (_, j) => entry(o + 3 + stride * j));
  for (let i = 0; i < count; i++) {
    const o = offsets[i];
    const info = w[o + 1];
    const kind = (info >>> 24) & 0x1f;
    const vlen = info & 0xffff;
    const kflag = info >>> 31;
    const sz = w[o + 2];
    const t: RawType = { id: firstId + i, kind: KIND_NAMES[kind] ?? "UNKNOWN", name: name(w[o]) };
    switch (kind) {
      case Kind.Int: {
        const x = w[o + 3];
        t.size = sz;
        t.bits_offset = (x >>> 16) & 0xff;
        t.nr_bits = x & 0xff;
        t.encoding = INT_ENCODINGS[(x >>> 24) & 0x0f] ?? "UNKN";
        break;
      }
      case Kind.Pointer:
      case Kind.Const:
      case Kind.Volatile:
      case Kind.Restrict:
      case Kind.Typedef:
      case Kind.TypeTag:
        t.type_id = sz;
        break;
      case Kind.Array:
        t.type_id = w[o + 3];
        t.index_type_id = w[o + 4];
        t.nr_elems = w[o + 5];
        break;
      case Kind.Struct:
      case Kind.Union:
        t.size = sz;
        t.vlen = vlen;
        t.members = entries(o, vlen, 3, (p) => {
          const off = w[p + 2];
          const m: RawEntry = {
            name: name(w[p]),
            type_id: w[p + 1],
            bits_offset: kflag ? off & 0xffffff : off,
          };
          if (kflag && off >>> 24) m.bitfield_size = off >>> 24;
          return m;
        });
        break;
      case Kind.Enum:
        t.encoding = kflag ? "SIGNED" : "UNSIGNED";
        t.size = sz;
        t.vlen = vlen;
        t.values = entries(o, vlen, 2, (p) => ({
          name: name(w[p]),
          val: kflag ? w[p + 1] | 0 : w[p + 1],
        }));
        break;
      case Kind.Enum64:
        t.encoding = kflag ? "SIGNED" : "UNSIGNED";
        t.size = sz;
        t.vlen = vlen;
        t.values = entries(o, vlen, 3, (p) => {
          const u = (BigInt(w[p + 2]) << 32n) | BigInt(w[p + 1]);
          return { name: name(w[p]), val: kflag ? BigInt.asIntN(64, u) : u };
        });
        break;
      case Kind.Fwd:
        t.fwd_kind = kflag ? "union" : "struct";
        break;
      case Kind.Func:
        t.type_id = sz;
        t.linkage = LINKAGES[vlen] ?? "(unknown)";
        break;
      case Kind.FuncProto:
        t.ret_type_id = sz;
        t.vlen = vlen;
        t.params = entries(o, vlen, 2, (p) => ({ name: name(w[p]), type_id: w[p + 1] }));
        break;
      case Kind.Var:
        t.type_id = sz;
        t.linkage = LINKAGES[w[o + 3]] ?? "(unknown)";
        break;
      case Kind.Datasec:
        t.size = sz;
        t.vlen = vlen;
        t.vars = entries(o, vlen, 3, (p) => ({ type_id: w[p], offset: w[p + 1], size: w[p + 2] }));
        break;
      case Kind.Float:
        t.size = sz;
        break;
      case Kind.DeclTag:
        t.type_id = sz;
        t.component_idx = w[o + 3] | 0;
        break;
    }
    yield t;
  }
}
