/**
 * Helpers the rest of the library needs: size and alignment of a type, skipping qualifiers
 * and typedefs, copying a type graph, and the essential name of a type.
 *
 * @module
 */

import {
  Array as ArrayType,
  Const,
  Datasec,
  DeclTag,
  Enum,
  EnumValue,
  Float,
  Func,
  FuncParam,
  FuncProto,
  Fwd,
  Int,
  Member,
  Pointer,
  Restrict,
  Struct,
  type Type,
  Typedef,
  TypeTag,
  Union,
  Var,
  VarSecinfo,
  Void,
  Volatile,
} from "./types.ts";

/** How long a chain of typedefs and qualifiers may be before it counts as a cycle. */
const MAX_RESOLVE_DEPTH = 32;

/** The size of a pointer on BPF targets. */
const POINTER_SIZE = 8;

/** Whether `t` is `const`, `volatile`, `restrict` or a type tag. */
export function isQualifier(t: Type): t is Const | Volatile | Restrict | TypeTag {
  return t instanceof Const || t instanceof Volatile || t instanceof Restrict ||
    t instanceof TypeTag;
}

/** Follows `const`, `volatile`, `restrict` and type tags to the type they qualify. */
export function skipQualifiers(t: Type): Type {
  for (let i = 0; i <= MAX_RESOLVE_DEPTH; i++) {
    if (!isQualifier(t)) return t;
    t = t.type;
  }
  throw new RangeError(`Qualifier chain longer than ${MAX_RESOLVE_DEPTH} (or cyclic): ${t}`);
}

/** Follows qualifiers and typedefs to the type they name, such as a struct or an int. */
export function underlyingType(t: Type): Type {
  for (let i = 0; i <= MAX_RESOLVE_DEPTH; i++) {
    if (!isQualifier(t) && !(t instanceof Typedef)) return t;
    t = t.type;
  }
  throw new RangeError(`Typedef chain longer than ${MAX_RESOLVE_DEPTH} (or cyclic): ${t}`);
}

/**
 * The size of a type in bytes, as `sizeof` gives it on a BPF target. Throws a RangeError
 * for types without a size (void, functions, forward declarations) and for cycles.
 */
export function sizeof(t: Type): number {
  let n = 1;
  for (let i = 0; i <= MAX_RESOLVE_DEPTH; i++) {
    if (
      t instanceof Int || t instanceof Struct || t instanceof Union || t instanceof Enum ||
      t instanceof Float || t instanceof Datasec
    ) {
      return n * t.size;
    }
    if (t instanceof Pointer) return n * POINTER_SIZE;
    if (t instanceof ArrayType) {
      n *= t.nelems;
      t = t.type;
      continue;
    }
    if (t instanceof Typedef || isQualifier(t) || t instanceof Var) {
      t = t.type;
      continue;
    }
    throw new RangeError(`Type has no size: ${t}`);
  }
  throw new RangeError(`Type chain longer than ${MAX_RESOLVE_DEPTH} (or cyclic): ${t}`);
}

/**
 * The alignment of a type in bytes, as the compiler would give it: a struct's is its
 * largest member's, or 1 when its layout shows it was packed.
 */
export function alignof(t: Type): number {
  return align(t, 0);
}

function align(t: Type, depth: number): number {
  if (depth > MAX_RESOLVE_DEPTH) throw new RangeError(`Type nesting too deep (or cyclic): ${t}`);
  t = underlyingType(t);
  if (t instanceof Int || t instanceof Float || t instanceof Enum) {
    return Math.min(Math.max(t.size, 1), POINTER_SIZE);
  }
  if (t instanceof Pointer) return POINTER_SIZE;
  if (t instanceof ArrayType) return align(t.type, depth + 1);
  if (t instanceof Struct || t instanceof Union) {
    let max = 1;
    for (const m of t.members) {
      const a = align(m.type, depth + 1);
      // A member off its natural alignment means the struct was packed.
      if (m.bitfieldSize === 0 && m.offset % (8 * a) !== 0) return 1;
      if (a > max) max = a;
    }
    return t.size % max === 0 ? max : 1;
  }
  throw new RangeError(`Type has no alignment: ${t}`);
}

/**
 * The essential name of a type or field: the part before a `___` flavor suffix, so that
 * `task_struct___old` matches `task_struct` in CO-RE (libbpf's rule: the separator is three
 * underscores between two other characters, and the last one counts).
 */
export function essentialName(name: string): string {
  for (let i = name.length - 5; i >= 0; i--) {
    if (
      name[i] !== "_" && name[i + 1] === "_" && name[i + 2] === "_" && name[i + 3] === "_" &&
      name[i + 4] !== "_"
    ) {
      return name.slice(0, i + 1);
    }
  }
  return name;
}

/**
 * A deep copy of a type and everything it reaches, with cycles and shared references kept.
 * `transform`, when given, may return a replacement for a type before it is copied (return
 * the type itself to keep it).
 */
export function copyType<T extends Type>(t: T, transform?: (t: Type) => Type): T {
  return copyTypes([t], transform)[0] as T;
}

/** Copies several types at once, sharing the copies of what they have in common. */
export function copyTypes(types: Type[], transform?: (t: Type) => Type): Type[] {
  const copies = new Map<Type, Type>();
  const pending: [Type, Type][] = [];
  const copy = (orig: Type): Type => {
    const have = copies.get(orig);
    if (have) return have;
    const src = transform ? transform(orig) : orig;
    const c = shallowCopy(src);
    copies.set(orig, c);
    if (src !== orig) copies.set(src, c);
    pending.push([src, c]);
    return c;
  };
  const out = types.map(copy);
  // Fields are filled iteratively so that long chains cannot overflow the stack.
  while (pending.length > 0) {
    const [src, c] = pending.pop()!;
    fill(src, c, copy);
  }
  return out;
}

function shallowCopy(t: Type): Type {
  const v = new Void();
  if (t instanceof Void) return t;
  if (t instanceof Int) return new Int(t.name, t.size, t.encoding, t.bits, t.bitOffset);
  if (t instanceof Pointer) return new Pointer(v, t.name);
  if (t instanceof ArrayType) return new ArrayType(v, v, t.nelems, t.name);
  if (t instanceof Struct) return new Struct(t.name, t.size);
  if (t instanceof Union) return new Union(t.name, t.size);
  if (t instanceof Enum) {
    const values = t.values.map((x) => new EnumValue(x.name, x.value));
    return new Enum(t.name, t.size, values, t.signed, t.is64);
  }
  if (t instanceof Fwd) return new Fwd(t.name, t.fwdKind);
  if (t instanceof Typedef) return new Typedef(t.name, v);
  if (t instanceof Volatile) return new Volatile(v, t.name);
  if (t instanceof Const) return new Const(v, t.name);
  if (t instanceof Restrict) return new Restrict(v, t.name);
  if (t instanceof TypeTag) return new TypeTag(t.name, v);
  if (t instanceof Func) return new Func(t.name, new FuncProto(v), t.linkage);
  if (t instanceof FuncProto) return new FuncProto(v, [], t.name);
  if (t instanceof Var) return new Var(t.name, v, t.linkage);
  if (t instanceof Datasec) return new Datasec(t.name, t.size);
  if (t instanceof Float) return new Float(t.name, t.size);
  if (t instanceof DeclTag) return new DeclTag(t.name, v, t.index);
  throw new TypeError(`Not a BTF type: ${t}`);
}

function fill(src: Type, c: Type, copy: (t: Type) => Type): void {
  if (src instanceof Pointer) (c as Pointer).target = copy(src.target);
  else if (src instanceof ArrayType) {
    (c as ArrayType).type = copy(src.type);
    (c as ArrayType).index = copy(src.index);
  } else if (src instanceof Struct || src instanceof Union) {
    (c as Struct).members = src.members.map((m) =>
      new Member(m.name, copy(m.type), m.offset, m.bitfieldSize)
    );
  } else if (src instanceof FuncProto) {
    (c as FuncProto).return = copy(src.return);
    (c as FuncProto).params = src.params.map((p) => new FuncParam(p.name, copy(p.type)));
  } else if (src instanceof Datasec) {
    (c as Datasec).vars = src.vars.map((x) => new VarSecinfo(copy(x.type), x.offset, x.size));
  } else if (
    src instanceof Typedef || src instanceof Volatile || src instanceof Const ||
    src instanceof Restrict || src instanceof TypeTag || src instanceof Func ||
    src instanceof Var || src instanceof DeclTag
  ) {
    (c as Typedef).type = copy(src.type);
  }
}
