/**
 * CO-RE's rules for when a local type may stand for a target type: libbpf's
 * `bpf_core_fields_are_compat`, `bpf_core_types_are_compat` and `bpf_core_types_match`,
 * over type objects instead of ids.
 *
 * @module
 */

import { essentialName, underlyingType } from "./helpers.ts";
import {
  Array as ArrayType,
  Enum,
  FuncProto,
  Fwd,
  Int,
  IntEncoding,
  Pointer,
  Struct,
  type Type,
  Union,
} from "./types.ts";

/** How deep libbpf follows pointers, arrays and prototypes before it gives up (`depth`). */
const MAX_DEPTH = 32;

/** Thrown inside the engine where libbpf returns a negative error code. */
export class CoreCompatError extends Error {}

/** Follows modifiers and typedefs; a cycle is an error, as libbpf's NULL result is. */
export function skipMods(t: Type): Type {
  try {
    return underlyingType(t);
  } catch (e) {
    throw new CoreCompatError(`Cannot resolve type ${t}`, { cause: e });
  }
}

/** Whether `t` is a struct or a union. */
export function isComposite(t: Type): t is Struct | Union {
  return t instanceof Struct || t instanceof Union;
}

/** libbpf's `btf_kind_core_compat`: same kind, or ENUM and ENUM64 mixed. */
export function kindsCompat(a: Type, b: Type): boolean {
  return a.kind === b.kind;
}

/** The essential names of two types are equal, or (`anonOk`) either is anonymous. */
function namesEqualEssential(a: string, b: string): boolean {
  return essentialName(a) === essentialName(b);
}

/**
 * libbpf's `bpf_core_fields_are_compat`: whether a local field's type may be relocated to a
 * target field's type (any two composites, pointers, floats; enums and forward declarations
 * with the same essential name or an anonymous side; ints without a bit offset; arrays of
 * compatible elements).
 */
export function fieldsAreCompat(local: Type, targ: Type): boolean {
  for (let depth = 0; depth <= MAX_DEPTH; depth++) {
    local = skipMods(local);
    targ = skipMods(targ);
    if (isComposite(local) && isComposite(targ)) return true;
    if (!kindsCompat(local, targ)) return false;
    if (local instanceof Pointer || local.kind === "float") return true;
    if (local instanceof Fwd || local instanceof Enum) {
      const ln = essentialName(local.name);
      const tn = essentialName(targ.name);
      return ln === "" || tn === "" || ln === tn;
    }
    if (local instanceof Int) return local.bitOffset === 0 && (targ as Int).bitOffset === 0;
    if (local instanceof ArrayType) {
      local = local.type;
      targ = (targ as ArrayType).type;
      continue;
    }
    return false;
  }
  throw new CoreCompatError("Type nesting too deep while checking field compatibility");
}

/**
 * libbpf's `bpf_core_types_are_compat` (for type-based relocations other than
 * type_matches): same kinds after skipping modifiers; pointers and arrays compared by what
 * they point at; prototypes by their parameters and return type.
 */
export function typesAreCompat(local: Type, targ: Type, level = MAX_DEPTH): boolean {
  if (!kindsCompat(local, targ)) return false;
  for (let depth = MAX_DEPTH; depth > 0; depth--) {
    local = skipMods(local);
    targ = skipMods(targ);
    if (!kindsCompat(local, targ)) return false;
    switch (local.kind) {
      case "void":
      case "struct":
      case "union":
      case "enum":
      case "fwd":
        return true;
      case "int":
        return (local as Int).bitOffset === 0 && (targ as Int).bitOffset === 0;
      case "pointer":
        local = (local as Pointer).target;
        targ = (targ as Pointer).target;
        continue;
      case "array":
        local = (local as ArrayType).type;
        targ = (targ as ArrayType).type;
        continue;
      case "funcProto": {
        const lp = (local as FuncProto).params;
        const tp = (targ as FuncProto).params;
        if (lp.length !== tp.length) return false;
        for (let i = 0; i < lp.length; i++) {
          if (level <= 0) throw new CoreCompatError("Function prototypes nested too deep");
          if (!typesAreCompat(skipMods(lp[i].type), skipMods(tp[i].type), level - 1)) {
            return false;
          }
        }
        local = skipMods((local as FuncProto).return);
        targ = skipMods((targ as FuncProto).return);
        continue;
      }
      default:
        return false;
    }
  }
  throw new CoreCompatError("Type nesting too deep while checking type compatibility");
}

/** libbpf's `bpf_core_names_match`: essential names equal; an anonymous target only matches an anonymous local. */
function namesMatch(local: string, targ: string): boolean {
  if (targ === "") return local === "";
  if (local === targ) return true;
  // Only a flavour suffix can make different names match.
  if (local.indexOf("___") < 0 && targ.indexOf("___") < 0) return false;
  return namesEqualEssential(local, targ);
}

function isFwdUnion(t: Fwd): boolean {
  return t.fwdKind === "union";
}

/**
 * libbpf's `bpf_core_types_match` (type_matches relocations): a stricter, structural
 * relation — ints of the same size and signedness, enums whose every local enumerator
 * exists by name in the target, composites whose every local member exists by name with a
 * matching type (only names and kinds behind pointers), arrays of the same length,
 * prototypes with matching parameters.
 */
export function typesMatch(local: Type, targ: Type, behindPtr = false, level = MAX_DEPTH): boolean {
  if (level <= 0) throw new CoreCompatError("Types nested too deep while matching");
  for (let depth = MAX_DEPTH; depth > 0; depth--) {
    local = skipMods(local);
    targ = skipMods(targ);
    if (!namesMatch(local.name, targ.name)) return false;
    switch (local.kind) {
      case "void":
        return targ.kind === "void";
      case "fwd": {
        const lu = isFwdUnion(local as Fwd);
        if (behindPtr) {
          if (targ instanceof Fwd) return lu === isFwdUnion(targ);
          return (targ instanceof Struct && !lu) || (targ instanceof Union && lu);
        }
        return targ instanceof Fwd && lu === isFwdUnion(targ);
      }
      case "enum":
        return targ instanceof Enum && enumsMatch(local as Enum, targ);
      case "struct":
      case "union":
        if (behindPtr) {
          if (local.kind === targ.kind) return true;
          if (!(targ instanceof Fwd)) return false;
          return (local.kind === "union") === isFwdUnion(targ);
        }
        if (local.kind !== targ.kind) return false;
        return compositesMatch(local as Struct, targ as Struct, behindPtr, level);
      case "int": {
        if (!(targ instanceof Int)) return false;
        const l = local as Int;
        return l.size === targ.size &&
          (l.encoding & IntEncoding.Signed) === (targ.encoding & IntEncoding.Signed);
      }
      case "pointer":
        if (!(targ instanceof Pointer)) return false;
        behindPtr = true;
        local = (local as Pointer).target;
        targ = targ.target;
        continue;
      case "array":
        if (!(targ instanceof ArrayType)) return false;
        if ((local as ArrayType).nelems !== targ.nelems) return false;
        local = (local as ArrayType).type;
        targ = targ.type;
        continue;
      case "funcProto": {
        if (!(targ instanceof FuncProto)) return false;
        const lp = (local as FuncProto).params;
        const tp = targ.params;
        if (lp.length !== tp.length) return false;
        for (let i = 0; i < lp.length; i++) {
          if (!typesMatch(lp[i].type, tp[i].type, behindPtr, level - 1)) return false;
        }
        local = (local as FuncProto).return;
        targ = targ.return;
        continue;
      }
      default:
        return false;
    }
  }
  throw new CoreCompatError("Type nesting too deep while matching types");
}

function enumsMatch(local: Enum, targ: Enum): boolean {
  if (local.size !== targ.size) return false;
  const lv = local.values;
  const tv = targ.values;
  if (lv.length > tv.length) return false;
  for (const l of lv) {
    if (!tv.some((t) => namesMatch(l.name, t.name))) return false;
  }
  return true;
}

function compositesMatch(
  local: Struct | Union,
  targ: Struct | Union,
  behindPtr: boolean,
  level: number,
): boolean {
  const lm = local.members;
  const tm = targ.members;
  if (lm.length > tm.length) return false;
  for (const l of lm) {
    let matched = false;
    for (const t of tm) {
      if (!namesMatch(l.name, t.name)) continue;
      if (typesMatch(l.type, t.type, behindPtr, level - 1)) {
        matched = true;
        break;
      }
    }
    if (!matched) return false;
  }
  return true;
}
