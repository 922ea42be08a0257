// Specs checked type by type (the kernel's BTF): each corrupt type is a FormatError when it
// is used, with the message validate() gives; good types around it stay usable; types decode
// as they do from a spec validated as a whole.
import { assert, assertEquals, assertThrows } from "@std/assert";
import {
  Builder,
  Const,
  Int,
  loadKernelSpec,
  loadSpec,
  Member,
  parseSpec,
  Struct,
  Typedef,
} from "../../btf/mod.ts";
import { checksTypesOnUse, checkTypesOnUse, type Spec } from "../../btf/spec.ts";
import { FormatError } from "../../errors.ts";
import { testdata } from "../_harness.ts";
import { assertTypesEqual, btfObjects } from "./_util.ts";

const HEADER = 24;

/**
 * [1] CONST -> 3 at type-section byte 0 (name, info, type), [2] STRUCT "s" { int a; } of 4
 * bytes at 12 (name, info, size, then the member), [3] INT "int" at 36.
 */
function threeTypes(): Uint8Array {
  const b = new Builder();
  const int = new Int("int", 4, 1);
  assertEquals(b.add(new Const(int)), 1);
  assertEquals(b.add(new Struct("s", 4, [new Member("a", int, 0)])), 2);
  return b.marshal();
}

/** The bytes with the 32-bit word at byte `at` of the type section set to `value`. */
function patched(bytes: Uint8Array, at: number, value: number): Uint8Array {
  const out = bytes.slice();
  new DataView(out.buffer).setUint32(HEADER + at, value, true);
  return out;
}

const onUse = (bytes: Uint8Array) => checkTypesOnUse(parseSpec(bytes));

Deno.test("a spec checked on use reports a corrupt type when it is used, and only then", () => {
  const good = threeTypes();
  assertEquals(onUse(good).typeById(2).name, "s");
  const cases: [string, Uint8Array, string][] = [
    ["self-referencing modifier", patched(good, 8, 1), "cycle"],
    ["type id out of range", patched(good, 8, 99), "Type id 99"],
    ["name out of range", patched(good, 0, 1 << 30), "String offset"],
    ["member past its struct", patched(good, 12 + 8, 2), "ends past its 2 bytes"],
  ];
  for (const [what, bytes, message] of cases) {
    const bad = what === "member past its struct" ? 2 : 1;
    assertThrows(() => parseSpec(bytes).validate(), FormatError, message, what);
    const spec = onUse(bytes);
    assert(checksTypesOnUse(spec));
    assertEquals(spec.typeById(3).name, "int", what);
    assertEquals(spec.typeIdsByName("int"), [3], what);
    assertThrows(() => spec.typeById(bad), FormatError, message, what);
    // Nothing is left half-checked: the same error again, and from the other entry points.
    assertThrows(() => spec.typeById(bad), FormatError, message, what);
    assertThrows(() => spec.nameOf(bad), FormatError, message, what);
    assertThrows(() => spec.decodeList(bad), FormatError, message, what);
    assertThrows(() => spec.validate(), FormatError, message, what);
  }
});

Deno.test("a spec checked on use follows each chain a type starts", () => {
  // [1] CONST -> [2] TYPEDEF -> 99: type 1's own ids are in range, the chain's are not.
  const b = new Builder();
  b.add(new Const(new Typedef("t", new Int("int", 4, 1))));
  const bytes = b.marshal();
  assertEquals(parseSpec(bytes).typeById(2).name, "t");
  const broken = patched(bytes, 12 + 8, 99);
  assertThrows(() => onUse(broken).typeById(1), FormatError, "Type id 99");
  // A chain longer than 128 references, checked from its head.
  const deep = new Builder();
  let t: Typedef | Int = new Int("int", 4, 1);
  for (let i = 0; i < 200; i++) t = new Typedef(`t${i}`, t);
  const head = deep.add(t);
  const deepBytes = deep.marshal();
  assertThrows(() => parseSpec(deepBytes).validate(), FormatError, "deeper than 128");
  const spec = onUse(deepBytes);
  assertEquals(spec.typeIdsByName("t199"), [head]);
  assertThrows(() => spec.typeById(head), FormatError, "deeper than 128");
});

Deno.test("a spec checked on use validates the rest at once after 4,096 types", () => {
  // 5,000 good types of 16 bytes, then a CONST that nothing uses, made to refer to itself.
  const b = new Builder();
  for (let i = 0; i < 5000; i++) b.add(new Int(`i${i}`, 4, 1));
  const bad = b.add(new Const(new Int("int", 4, 1)));
  assertEquals(bad, 5001);
  const bytes = patched(b.marshal(), 5000 * 16 + 8, bad);
  assertThrows(() => parseSpec(bytes).typeById(1), FormatError, "cycle");
  const spec = onUse(bytes);
  for (let id = 1; id <= 4096; id++) spec.typeById(id);
  assertThrows(() => spec.typeById(4097), FormatError, "cycle");
});

Deno.test("types decode the same from a spec checked on use as from a validated one", () => {
  const specs: [string, () => Spec][] = btfObjects().map((o) => [o, () => loadSpec(testdata(o))]);
  for (const [name, load] of specs) {
    const whole = load().validate();
    const each = checkTypesOnUse(load());
    // Decoded from the last id down, so that checks start from types deep in their chains.
    for (let id = whole.nextTypeId - 1; id >= whole.firstTypeId; id--) {
      assertEquals(each.nameOf(id), whole.nameOf(id), `${name} ${id}`);
      assertTypesEqual(each.typeById(id), whole.typeById(id), `${name} [${id}]`);
    }
  }
});

Deno.test({
  name: "the kernel's BTF is checked on use",
  ignore: (() => {
    try {
      return !Deno.statSync("/sys/kernel/btf/vmlinux").isFile;
    } catch {
      return true;
    }
  })(),
  fn() {
    assert(checksTypesOnUse(loadKernelSpec()));
    assert(loadKernelSpec().typeByName("task_struct", Struct)!.members.length > 10);
  },
});
