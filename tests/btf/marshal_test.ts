// The writer: round trips of vmlinux and every testdata object, hand-built graphs, kernel
// compatibility replacements, and wrong arguments.
import { assert, assertEquals, assertThrows } from "@std/assert";
import {
  Builder,
  Const,
  Datasec,
  DeclTag,
  Enum,
  EnumValue,
  Float,
  formatRaw,
  Func,
  FuncParam,
  FuncProto,
  Int,
  Kind,
  Linkage,
  loadKernelSpec,
  loadSpec,
  marshalTypes,
  Member,
  parseSpec,
  Pointer,
  Struct,
  Typedef,
  TypeTag,
  Var,
  VarSecinfo,
  VOID,
} from "../../btf/mod.ts";
import { testdata } from "../_harness.ts";
import { assertSameLines, assertTypesEqual, btfObjects } from "./_util.ts";

const hasVmlinux = (() => {
  try {
    Deno.statSync("/sys/kernel/btf/vmlinux");
    return true;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "round trip of vmlinux: parse, write, parse gives equal types",
  ignore: !hasVmlinux,
  fn() {
    const spec = loadKernelSpec();
    const bytes = marshalTypes(spec.types());
    const again = parseSpec(bytes);
    assertEquals(again.typeCount, spec.typeCount);
    assertSameLines(formatRaw(again), formatRaw(spec), "vmlinux round trip");
    // formatRaw compares ids, kinds, names and layouts; the graph walk compares objects.
    for (let id = 1; id < spec.nextTypeId; id += 97) {
      assertTypesEqual(again.typeById(id), spec.typeById(id), `vmlinux[${id}]`);
    }
  },
});

for (const obj of btfObjects()) {
  Deno.test(`round trip of testdata/${obj} in its own byte order`, () => {
    const spec = loadSpec(testdata(obj));
    const bytes = marshalTypes(spec.types(), { byteOrder: spec.byteOrder });
    const again = parseSpec(bytes);
    assertEquals(again.byteOrder, spec.byteOrder);
    assertSameLines(formatRaw(again), formatRaw(spec), obj);
    for (let id = 1; id < spec.nextTypeId; id++) {
      assertTypesEqual(again.typeById(id), spec.typeById(id), `${obj}[${id}]`);
    }
    // And across byte orders.
    const other = parseSpec(
      marshalTypes(spec.types(), { byteOrder: spec.byteOrder === "little" ? "big" : "little" }),
    );
    assertSameLines(formatRaw(other), formatRaw(spec), `${obj} swapped`);
  });
}

Deno.test("a hand-built graph with a cycle writes referenced types after the given ones", () => {
  const node = new Struct("node", 16);
  const int = new Int("int", 4, 1);
  node.members = [new Member("next", new Pointer(node), 0), new Member("value", int, 64)];
  const b = new Builder();
  assertEquals(b.add(node), 1);
  assertEquals(b.add(node), 1);
  assertEquals(b.add(VOID), 0);
  const spec = parseSpec(b.marshal());
  assertEquals(spec.typeCount, 3);
  const n = spec.typeByName("node", Struct)!;
  assertEquals((n.members[0].type as Pointer).target, n);
  assertTypesEqual(n, node);
  assertEquals(b.typeId(int), 3);
});

Deno.test("strings are deduplicated", () => {
  const int = new Int("same", 4, 1);
  const bytes = marshalTypes([int, new Typedef("same", int), new Typedef("other", int)]);
  const strLen = new DataView(bytes.buffer).getUint32(20, true);
  assertEquals(strLen, 1 + 5 + 6);
});

Deno.test("names of every UTF-8 length keep their offsets and bytes", () => {
  // 1-, 2-, 3- and 4-byte characters, and lone surrogates, which encode as U+FFFD (3 bytes):
  // offsets are counted without encoding each string, so they must match the encoder's.
  const names = ["a", "é", "ÿx", "€uro", "😀", "x\ud800y", "\udc00", "\ud83d", "end"];
  const int = new Int("int", 4, 1);
  const types = names.map((n) => new Typedef(n, int));
  for (const order of ["little", "big"] as const) {
    const bytes = marshalTypes([int, ...types], { byteOrder: order });
    const spec = parseSpec(bytes);
    const enc = new TextEncoder();
    const dec = new TextDecoder();
    names.forEach((n, i) => {
      assertEquals(spec.typeById(i + 2).name, dec.decode(enc.encode(n)));
    });
    const little = order === "little";
    const strLen = new DataView(bytes.buffer).getUint32(20, little);
    const want = 1 + 4 + names.reduce((n, s) => n + enc.encode(s).length + 1, 0);
    assertEquals(strLen, want);
  }
  assertThrows(() => marshalTypes([new Typedef("é\0", int)]), TypeError, "NUL");
});

Deno.test("kernel compatibility replacements change kinds, keep sizes and ids", () => {
  const int = new Int("int", 4, 1);
  const v = new Var("v", int, Linkage.Global);
  const proto = new FuncProto(int, [new FuncParam("a", int)]);
  const types = [
    new DeclTag("tag", v, -1),
    new Pointer(new TypeTag("user", int)),
    new Enum("e64", 8, [new EnumValue("BIG", 1n << 40n)], false, true),
    new Enum("se", 4, [new EnumValue("NEG", -1n)], true),
    new Float("double", 8),
    new Datasec(".data", 4, [new VarSecinfo(v, 0, 4)]),
    new Func("f", proto, Linkage.Global),
  ];
  const kinds = (bytes: Uint8Array) => {
    const spec = parseSpec(bytes);
    return Array.from({ length: spec.typeCount }, (_, i) => spec.kindOf(i + 1));
  };
  const plain = kinds(marshalTypes(types));
  assertEquals(plain.slice(0, 7), [
    Kind.DeclTag,
    Kind.Pointer,
    Kind.Enum64,
    Kind.Enum,
    Kind.Float,
    Kind.Datasec,
    Kind.Func,
  ]);
  const compat = marshalTypes(types, {
    replaceDeclTags: true,
    replaceTypeTags: true,
    replaceEnum64: true,
    replaceFloat: true,
    replaceDatasec: true,
    replaceFuncs: true,
  });
  const spec = parseSpec(compat);
  assertEquals(kinds(compat).slice(0, 7), [
    Kind.Int,
    Kind.Pointer,
    Kind.Union,
    Kind.Enum,
    Kind.Struct,
    Kind.Struct,
    Kind.Typedef,
  ]);
  assertEquals(spec.kindOf(spec.typeId((spec.typeById(2) as Pointer).target)!), Kind.Const);
  assertEquals((spec.typeById(3) as Struct).size, 8);
  assertEquals((spec.typeById(4) as Enum).signed, false);
  assertEquals(spec.typeById(6).name, "_data");
  assertEquals((spec.typeById(6) as Struct).members[0].name, "v");
  const linkage = parseSpec(marshalTypes(types, { stripFuncLinkage: true }));
  assertEquals((linkage.typeById(7) as Func).linkage, Linkage.Static);
});

Deno.test("wrong values are RangeErrors and TypeErrors", () => {
  assertThrows(() => marshalTypes([new Int("int", -1)]), RangeError);
  assertThrows(() => marshalTypes([new Int("int", 4, 0, 300)]), RangeError);
  assertThrows(() => marshalTypes([new Struct("s", 1.5)]), RangeError);
  assertThrows(() => marshalTypes([new Int("a\0b", 4)]), TypeError);
  assertEquals(parseSpec(marshalTypes([VOID])).typeCount, 0);
  const s = new Struct("s", 4, [new Member("x", new Int("int", 4), 1 << 25, 3)]);
  assertThrows(() => marshalTypes([s]), RangeError);
  const big = new Struct("big", 4, Array.from({ length: 70000 }, () => new Member("", VOID, 0)));
  assertThrows(() => marshalTypes([big]), RangeError);
});

Deno.test("const-qualified typedef graphs and enum values survive", () => {
  const e = new Enum("flags", 4, [new EnumValue("A", 1n), new EnumValue("B", 0xffffffffn)]);
  const t = new Typedef("flags_t", new Const(e));
  const spec = parseSpec(marshalTypes([t], { byteOrder: "big" }));
  assertEquals(spec.byteOrder, "big");
  const back = spec.typeByName("flags", Enum)!;
  assertEquals(back.values.map((v) => v.value), [1n, 0xffffffffn]);
  assert(!back.is64);
});
