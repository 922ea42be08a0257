/**
 * A record of every field the writer reads from a set of types, to tell later, without
 * writing them again, whether any of them changed. Type objects are plain mutable objects:
 * a cache of their marshalled bytes is only sound if it checks them each time it is used,
 * and comparing fields costs a fraction of encoding them (no string table, no id lookups).
 *
 * @module
 */

import {
  Array as ArrayType,
  Datasec,
  DeclTag,
  Enum,
  Float,
  Func,
  FuncProto,
  Fwd,
  Int,
  Pointer,
  Ref,
  Struct,
  type Type,
  Union,
  Var,
} from "./types.ts";

/** Receives the fields of a type one by one. */
type Sink = (value: unknown) => void;

/**
 * Every field of `t` that `marshal` reads, in a fixed order: the referenced types (by
 * identity), names, sizes, offsets, flags, and the lengths of member lists. A field left
 * out here would let a change go unseen, so tests check this list against the writer's
 * output.
 */
function fields(t: Type, f: Sink): void {
  f(t.kind);
  f(t.name);
  if (t instanceof Int) {
    f(t.size);
    f(t.encoding);
    f(t.bits);
    f(t.bitOffset);
  } else if (t instanceof Pointer) {
    f(t.target);
  } else if (t instanceof ArrayType) {
    f(t.type);
    f(t.index);
    f(t.nelems);
  } else if (t instanceof Struct || t instanceof Union) {
    f(t.size);
    const ms = t.members;
    f(ms.length);
    for (let i = 0; i < ms.length; i++) {
      const m = ms[i];
      f(m.name);
      f(m.type);
      f(m.offset);
      f(m.bitfieldSize);
    }
  } else if (t instanceof Enum) {
    f(t.size);
    f(t.signed);
    f(t.is64);
    const vs = t.values;
    f(vs.length);
    for (let i = 0; i < vs.length; i++) {
      f(vs[i].name);
      f(vs[i].value);
    }
  } else if (t instanceof Fwd) {
    f(t.fwdKind);
  } else if (t instanceof Ref) {
    // Typedef, Volatile, Const, Restrict and TypeTag.
    f(t.type);
  } else if (t instanceof Func) {
    f(t.type);
    f(t.linkage);
  } else if (t instanceof FuncProto) {
    f(t.return);
    const ps = t.params;
    f(ps.length);
    for (let i = 0; i < ps.length; i++) {
      f(ps[i].name);
      f(ps[i].type);
    }
  } else if (t instanceof Var) {
    f(t.type);
    f(t.linkage);
  } else if (t instanceof Datasec) {
    f(t.size);
    const vs = t.vars;
    f(vs.length);
    for (let i = 0; i < vs.length; i++) {
      f(vs[i].type);
      f(vs[i].offset);
      f(vs[i].size);
    }
  } else if (t instanceof Float) {
    f(t.size);
  } else if (t instanceof DeclTag) {
    f(t.type);
    f(t.index);
  }
}

/** The fields of a list of types as they are now; {@linkcode TypeSnapshot.matches} compares. */
export class TypeSnapshot {
  readonly #types: readonly Type[];
  readonly #values: unknown[];

  /** Records the fields of `types` (the list is kept, not copied: do not change it). */
  constructor(types: readonly Type[]) {
    this.#types = types;
    const values: unknown[] = [];
    const push = (v: unknown) => {
      values.push(v);
    };
    for (let i = 0; i < types.length; i++) fields(types[i], push);
    this.#values = values;
  }

  /** Whether every field of every recorded type still has the value it had. */
  matches(): boolean {
    const values = this.#values;
    let at = 0;
    let same = true;
    const check = (v: unknown) => {
      // Object.is: a NaN or -0 written into a number field counts as a change too.
      if (same && !Object.is(values[at++], v)) same = false;
    };
    const types = this.#types;
    for (let i = 0; i < types.length && same; i++) fields(types[i], check);
    return same && at === values.length;
  }
}
