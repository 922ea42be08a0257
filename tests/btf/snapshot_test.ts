// TypeSnapshot tells whether any field the writer reads has changed. The oracle is the
// writer itself: every change found by reflection over the type objects (own fields and
// accessors with setters, and the fields of members, enumerators, parameters and section
// entries) that changes the marshalled bytes must be seen by the snapshot, and undoing it
// must make the snapshot match again.
import { assert, assertEquals } from "@std/assert";
import { Int, loadSpec, marshalTypes, type Spec } from "../../btf/mod.ts";
import type { Type } from "../../btf/types.ts";
import { TypeSnapshot } from "../../btf/_snapshot.ts";

const dir = new URL("../../testdata/", import.meta.url);
const objects = ["maps_globals-el.o", "core_kernel-el.o", "prog_globals-el.o", "btf_kinds-el.o"]
  .filter((n) => {
    try {
      Deno.statSync(new URL(n, dir));
      return true;
    } catch {
      return false;
    }
  });

/** A settable property of `obj`: its own data fields and the setters of its classes. */
function settable(obj: object): string[] {
  const names = new Set(Object.keys(obj));
  for (
    let p = Object.getPrototypeOf(obj);
    p && p !== Object.prototype;
    p = Object.getPrototypeOf(p)
  ) {
    for (const [name, d] of Object.entries(Object.getOwnPropertyDescriptors(p))) {
      if (d.set && d.get) names.add(name);
    }
  }
  return [...names];
}

/** Another value of the same sort, or undefined when there is none to try. */
function other(v: unknown, spare: Type): unknown {
  if (typeof v === "number") return v + 1;
  if (typeof v === "string") return v === "struct" ? "union" : v === "union" ? "struct" : v + "x";
  if (typeof v === "boolean") return !v;
  if (typeof v === "bigint") return v + 1n;
  if (v !== null && typeof v === "object" && !Array.isArray(v)) return spare;
  return undefined;
}

interface Change {
  what: string;
  apply(): void;
  undo(): void;
}

/** Every single-field change of `t` and of the records in its lists. */
function changes(t: Type, spare: Type): Change[] {
  const out: Change[] = [];
  const field = (obj: Record<string, unknown>, name: string, what: string) => {
    const before = obj[name];
    if (Array.isArray(before)) {
      // A list: each record's fields, and the list one shorter.
      before.forEach((rec, i) => {
        for (const n of settable(rec)) field(rec, n, `${what}[${i}].${n}`);
      });
      if (before.length > 0) {
        out.push({
          what: `${what}.length`,
          apply: () => obj[name] = before.slice(0, -1),
          undo: () => obj[name] = before,
        });
      }
      return;
    }
    const after = other(before, spare);
    if (after === undefined) return;
    out.push({ what, apply: () => obj[name] = after, undo: () => obj[name] = before });
  };
  for (const n of settable(t)) field(t as unknown as Record<string, unknown>, n, `${t}.${n}`);
  return out;
}

function tryMarshal(types: Type[]): Uint8Array | undefined {
  try {
    return marshalTypes(types);
  } catch {
    return undefined;
  }
}

const same = (a: Uint8Array, b: Uint8Array) =>
  a.length === b.length && a.every((x, i) => x === b[i]);

for (const name of objects) {
  Deno.test(`TypeSnapshot sees every change that changes the BTF written: ${name}`, () => {
    const spec: Spec = loadSpec(new URL(name, dir));
    const types = [...spec.types()];
    const spare = new Int("spare", 2);
    const base = marshalTypes(types);
    const snap = new TypeSnapshot(types);
    assert(snap.matches());
    let tried = 0;
    let seen = 0;
    for (const t of types) {
      for (const c of changes(t, spare)) {
        c.apply();
        try {
          const bytes = tryMarshal(types);
          if (bytes === undefined || same(bytes, base)) continue;
          tried++;
          assert(!snap.matches(), `snapshot missed a change: ${c.what}`);
          seen++;
        } finally {
          c.undo();
        }
        assert(snap.matches(), `snapshot does not match after undoing ${c.what}`);
      }
    }
    assertEquals(seen, tried);
    // Enough changes were written differently for the check to mean something.
    assert(tried > types.length, `only ${tried} changes changed the bytes`);
  });
}

Deno.test("TypeSnapshot: a list changed in place, or a type added to it, is a change", () => {
  const spec = loadSpec(new URL(objects[0], dir));
  const types = [...spec.types()];
  const snap = new TypeSnapshot(types);
  const s = types.find((t) => "members" in t && (t as { members: unknown[] }).members.length > 0) as
    | { members: unknown[] }
    | undefined;
  if (s === undefined) throw new Error("no struct with members in the object");
  const m = s.members.pop();
  assert(!snap.matches());
  s.members.push(m);
  assert(snap.matches());
});
