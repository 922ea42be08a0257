/**
 * BTF types as `bpftool -j btf dump … format raw` prints them: one object per type with its
 * kind's fields under bpftool's names (the JSON twin of `btf.formatRaw`).
 *
 * @module
 */

import { Kind, KIND_NAMES } from "../../btf/types.ts";
import type { Spec } from "../../btf/spec.ts";

const INT_ENCODINGS: Record<number, string> = { 0: "(none)", 1: "SIGNED", 2: "CHAR", 4: "BOOL" };
const LINKAGES = ["static", "global", "extern"];

/** One type of the dump. */
export type RawType = { id: number; kind: string; name: string } & Record<string, unknown>;

/** The types `spec` adds (for split BTF, not its base's), as bpftool's JSON holds them. */
export function rawTypes(spec: Spec): RawType[] {
  spec.validate();
  const { words: w, offsets, firstId, count } = spec.raw;
  const name = (off: number) => (off === 0 ? "(anon)" : spec.string(off));
  const out: RawType[] = [];
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
        t.members = Array.from({ length: vlen }, (_, j) => {
          const p = o + 3 + 3 * j;
          const off = w[p + 2];
          const m: Record<string, unknown> = {
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
        t.values = Array.from({ length: vlen }, (_, j) => {
          const p = o + 3 + 2 * j;
          return { name: name(w[p]), val: kflag ? w[p + 1] | 0 : w[p + 1] };
        });
        break;
      case Kind.Enum64:
        t.encoding = kflag ? "SIGNED" : "UNSIGNED";
        t.size = sz;
        t.vlen = vlen;
        t.values = Array.from({ length: vlen }, (_, j) => {
          const p = o + 3 + 3 * j;
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
        t.params = Array.from({ length: vlen }, (_, j) => {
          const p = o + 3 + 2 * j;
          return { name: name(w[p]), type_id: w[p + 1] };
        });
        break;
      case Kind.Var:
        t.type_id = sz;
        t.linkage = LINKAGES[w[o + 3]] ?? "(unknown)";
        break;
      case Kind.Datasec:
        t.size = sz;
        t.vlen = vlen;
        t.vars = Array.from({ length: vlen }, (_, j) => {
          const p = o + 3 + 3 * j;
          return { type_id: w[p], offset: w[p + 1], size: w[p + 2] };
        });
        break;
      case Kind.Float:
        t.size = sz;
        break;
      case Kind.DeclTag:
        t.type_id = sz;
        t.component_idx = w[o + 3] | 0;
        break;
    }
    out.push(t);
  }
  return out;
}
