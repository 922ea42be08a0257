/**
 * The access path of a CO-RE relocation (libbpf's `bpf_core_spec`): the accessor string
 * parsed against the local type, and matched against a candidate target type, with the bit
 * offset each one reaches.
 *
 * @module
 */

import { CORE_RELO_KIND_NAMES, type CoreRelo, CoreReloKind } from "./ext.ts";
import { essentialName, sizeof } from "./helpers.ts";
import {
  CoreCompatError,
  fieldsAreCompat,
  isComposite,
  skipMods,
  typesAreCompat,
  typesMatch,
} from "./core_compat.ts";
import {
  Array as ArrayType,
  Enum,
  type Member,
  type Struct,
  type Type,
  type Union,
} from "./types.ts";

/** libbpf's `BPF_CORE_SPEC_MAX_LEN`: the longest access path. */
const SPEC_MAX_LEN = 64;

/** One high-level step: a named member, an array index, or an enumerator. */
export interface CoreAccessor {
  /** The composite holding the member, the array's element type, or the enum. */
  type: Type;
  /** Member, element or enumerator index. */
  idx: number;
  /** The member's or enumerator's name; undefined for an array index. */
  name: string | undefined;
}

/** A parsed or matched access path (`struct bpf_core_spec`). */
export interface CoreSpec {
  /** The root type (not skipped past typedefs). */
  root: Type;
  /** Its type id in its own BTF. */
  rootId: number;
  /** The relocation kind. */
  kind: CoreReloKind;
  /** High-level accessors: named members, array indexes, or the enumerator. */
  accessors: CoreAccessor[];
  /** Low-level path: one index per step, anonymous members included. */
  raw: number[];
  /** Bit offset from the start of the root. */
  bitOffset: number;
}

/** Whether the kind reads a field (byte offset, size, exists, signed, shifts). */
export function isFieldBased(kind: number): boolean {
  return kind <= CoreReloKind.FieldRShiftU64;
}

/** Whether the kind is about a whole type (ids, exists, size, matches). */
export function isTypeBased(kind: number): boolean {
  return (kind >= CoreReloKind.TypeIdLocal && kind <= CoreReloKind.TypeSize) ||
    kind === CoreReloKind.TypeMatches;
}

/** Whether the kind is about an enumerator. */
export function isEnumvalBased(kind: number): boolean {
  return kind === CoreReloKind.EnumvalExists || kind === CoreReloKind.EnumvalValue;
}

/** Thrown for an access string that does not fit its type (libbpf: -EINVAL). */
export class CoreSpecError extends Error {}

/** libbpf's `btf__resolve_size`; a type without size is an error. */
export function resolveSize(t: Type): number {
  try {
    return sizeof(t);
  } catch (e) {
    throw new CoreSpecError(`Type has no size: ${t}`, { cause: e });
  }
}

function members(t: Struct | Union): Member[] {
  return t.members;
}

function isFlexArray(prev: CoreAccessor | undefined, arr: ArrayType): boolean {
  if (!prev || prev.name === undefined || arr.nelems > 0) return false;
  const t = prev.type;
  return isComposite(t) && prev.idx === members(t).length - 1;
}

/** libbpf's `bpf_core_parse_spec`: the accessor string against the local root type. */
export function parseCoreSpec(relo: CoreRelo): CoreSpec {
  const spec: CoreSpec = {
    root: relo.type,
    rootId: relo.typeId,
    kind: relo.kind,
    accessors: [],
    raw: [],
    bitOffset: 0,
  };
  const str = relo.accessor;
  if (str === "" || str[0] === ":") throw new CoreSpecError(`Invalid access string "${str}"`);
  if (isTypeBased(relo.kind)) {
    if (str !== "0") {
      throw new CoreSpecError(`Invalid access string "${str}" for a type relocation`);
    }
    return spec;
  }
  if (!isFieldBased(relo.kind) && !isEnumvalBased(relo.kind)) {
    throw new CoreSpecError(`Unknown relocation kind ${relo.kind}`);
  }
  // "0:1:2" by hand: this runs for every relocation of every load.
  let n = -1;
  for (let i = 0; i <= str.length; i++) {
    const c = i < str.length ? str.charCodeAt(i) : 0x3a;
    if (c === 0x3a) {
      if (n < 0) throw new CoreSpecError(`Invalid access string "${str}"`);
      if (spec.raw.length === SPEC_MAX_LEN) throw new CoreSpecError(`Access string too long`);
      spec.raw.push(n);
      n = -1;
    } else if (c >= 0x30 && c <= 0x39) {
      n = (n < 0 ? 0 : n * 10) + (c - 0x30);
      if (n > 0x7fffffff) throw new CoreSpecError(`Invalid access string "${str}"`);
    } else {
      throw new CoreSpecError(`Invalid access string "${str}"`);
    }
  }
  let t = skip(relo.type);
  const acc0: CoreAccessor = { type: t, idx: spec.raw[0], name: undefined };
  spec.accessors.push(acc0);
  if (isEnumvalBased(relo.kind)) {
    if (!(t instanceof Enum) || spec.raw.length > 1 || acc0.idx >= t.values.length) {
      throw new CoreSpecError(`Access string "${str}" is not an enumerator of ${t}`);
    }
    acc0.name = t.values[acc0.idx].name;
    return spec;
  }
  spec.bitOffset = acc0.idx * resolveSize(t) * 8;
  for (let i = 1; i < spec.raw.length; i++) {
    t = skip(t);
    const idx = spec.raw[i];
    if (isComposite(t)) {
      const ms = members(t);
      if (idx >= ms.length) throw new CoreSpecError(`Member index ${idx} out of range in ${t}`);
      const m = ms[idx];
      spec.bitOffset += m.offset;
      if (m.name !== "") spec.accessors.push({ type: t, idx, name: m.name });
      t = m.type;
    } else if (t instanceof ArrayType) {
      const elem = skip(t.type);
      const flex = isFlexArray(spec.accessors.at(-1), t);
      if (!flex && idx >= t.nelems) {
        throw new CoreSpecError(`Array index ${idx} out of range in ${t}`);
      }
      spec.accessors.push({ type: elem, idx, name: undefined });
      spec.bitOffset += idx * resolveSize(elem) * 8;
      t = elem;
    } else {
      throw new CoreSpecError(
        `Access string "${str}" (at index ${i}) reaches ${t}, which is neither a struct, union nor array`,
      );
    }
  }
  return spec;
}

function skip(t: Type): Type {
  try {
    return skipMods(t);
  } catch (e) {
    throw new CoreSpecError(String((e as Error).message), { cause: e });
  }
}

/**
 * libbpf's `bpf_core_spec_match`: the target spec when `targ` (a candidate with id `targId`)
 * fits the local spec, or undefined when it does not.
 */
export function matchCoreSpec(
  local: CoreSpec,
  targ: Type,
  targId: number,
): CoreSpec | undefined {
  const out: CoreSpec = {
    root: targ,
    rootId: targId,
    kind: local.kind,
    accessors: [],
    raw: [],
    bitOffset: 0,
  };
  if (isTypeBased(local.kind)) {
    const ok = local.kind === CoreReloKind.TypeMatches
      ? typesMatch(local.root, targ)
      : typesAreCompat(local.root, targ);
    return ok ? out : undefined;
  }
  if (isEnumvalBased(local.kind)) {
    const t = skip(targ);
    if (!(t instanceof Enum)) return undefined;
    // Enumerator names follow the same flavour convention as type names.
    const want = essentialName(local.accessors[0].name!);
    const values = t.values;
    for (let i = 0; i < values.length; i++) {
      const v = values[i].name;
      if (v.startsWith(want) && essentialName(v) === want) {
        out.accessors.push({ type: t, idx: i, name: values[i].name });
        out.raw.push(i);
        return out;
      }
    }
    return undefined;
  }
  let cur: Type = targ;
  for (let i = 0; i < local.accessors.length; i++) {
    const la = local.accessors[i];
    let tt = skip(cur);
    if (la.name !== undefined) {
      const next = matchMember(la, tt, out);
      if (next === undefined) return undefined;
      cur = next;
    } else {
      if (i > 0) {
        if (!(tt instanceof ArrayType)) return undefined;
        const flex = isFlexArray(out.accessors[i - 1], tt);
        if (!flex && la.idx >= tt.nelems) return undefined;
        tt = skip(tt.type);
      }
      if (out.raw.length === SPEC_MAX_LEN) throw new CoreSpecError("Target access path too long");
      out.accessors.push({ type: tt, idx: la.idx, name: undefined });
      out.raw.push(la.idx);
      out.bitOffset += la.idx * resolveSize(tt) * 8;
      cur = tt;
    }
  }
  return out;
}

/**
 * libbpf's `bpf_core_match_member`: finds the local member `la` by name in the composite
 * `targ`, descending into anonymous members, and extends `spec`. Returns the member's type,
 * or undefined when no compatible member exists.
 */
function matchMember(la: CoreAccessor, targ: Type, spec: CoreSpec): Type | undefined {
  const t = skip(targ);
  if (!isComposite(t)) return undefined;
  const localMember = members(la.type as Struct)[la.idx];
  const ms = members(t);
  for (let i = 0; i < ms.length; i++) {
    const m = ms[i];
    if (spec.raw.length === SPEC_MAX_LEN) throw new CoreSpecError("Target access path too long");
    spec.bitOffset += m.offset;
    spec.raw.push(i);
    if (m.name === "") {
      const found = matchMember(la, m.type, spec);
      if (found !== undefined) return found;
    } else if (m.name === localMember.name) {
      let compat: boolean;
      try {
        compat = fieldsAreCompat(localMember.type, m.type);
      } catch (e) {
        if (e instanceof CoreCompatError) throw new CoreSpecError(e.message, { cause: e });
        throw e;
      }
      if (!compat) return undefined;
      spec.accessors.push({ type: t, idx: i, name: m.name });
      return m.type;
    }
    spec.bitOffset -= m.offset;
    spec.raw.pop();
  }
  return undefined;
}

const KIND_STR: Record<string, string> = {
  void: "UNKNOWN",
  int: "int",
  pointer: "ptr",
  array: "array",
  struct: "struct",
  union: "union",
  enum: "enum",
  fwd: "fwd",
  typedef: "typedef",
  volatile: "volatile",
  const: "const",
  restrict: "restrict",
  func: "func",
  funcProto: "func_proto",
  var: "var",
  datasec: "datasec",
  float: "float",
  declTag: "decl_tag",
  typeTag: "type_tag",
};

/** libbpf's `btf_kind_str` of a type. */
export function kindStr(t: Type): string {
  if (t instanceof Enum && t.is64) return "enum64";
  return KIND_STR[t.kind] ?? "unknown";
}

/**
 * Prints a spec the way libbpf's `bpf_core_format_spec` does:
 * `<byte_off> [7] struct core_flags.inner.y (0:3:1 @ offset 16)`.
 */
export function formatCoreSpec(spec: CoreSpec): string {
  const name = spec.root.name === "" ? "<anon>" : spec.root.name;
  let s = `<${CORE_RELO_KIND_NAMES[spec.kind] ?? "unknown"}> [${spec.rootId}] ${
    kindStr(spec.root)
  } ${name}`;
  if (isTypeBased(spec.kind)) return s;
  if (isEnumvalBased(spec.kind)) {
    const acc = spec.accessors[0];
    const t = acc?.type;
    if (t instanceof Enum && acc) {
      // libbpf prints the raw index of the local spec and the enumerator's value as C prints
      // a 32-bit (or 64-bit) field of that signedness.
      const v = t.values[spec.raw[0] ?? acc.idx];
      if (v) {
        const val = t.is64
          ? (t.signed ? BigInt.asIntN(64, v.value) : BigInt.asUintN(64, v.value))
          : (t.signed ? BigInt.asIntN(32, v.value) : BigInt.asUintN(32, v.value));
        s += `::${v.name} = ${val}`;
      }
    }
    return s;
  }
  for (let i = 0; i < spec.accessors.length; i++) {
    const a = spec.accessors[i];
    if (a.name !== undefined) s += `.${a.name}`;
    else if (i > 0 || a.idx > 0) s += `[${a.idx}]`;
  }
  s += ` (${spec.raw.join(":")}`;
  const b = spec.bitOffset;
  s += b % 8 ? ` @ offset ${Math.floor(b / 8)}.${b % 8})` : ` @ offset ${b / 8})`;
  return s;
}

/** The C-like path a field spec names, such as `task_struct___mine.comm[3]`. */
export function fieldPath(spec: CoreSpec): string {
  let s = spec.root.name === "" ? "<anon>" : spec.root.name;
  for (let i = 0; i < spec.accessors.length; i++) {
    const a = spec.accessors[i];
    if (a.name !== undefined) s += `.${a.name}`;
    else if (i > 0 || a.idx > 0) s += `[${a.idx}]`;
  }
  return s;
}
