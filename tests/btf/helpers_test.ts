// Helpers: sizeof, alignof, qualifiers, typedefs, copies, essential names.
import {
  assert,
  assertEquals,
  assertNotStrictEquals,
  assertStrictEquals,
  assertThrows,
} from "@std/assert";
import {
  alignof,
  Array as ArrayType,
  Const,
  copyType,
  copyTypes,
  essentialName,
  Float,
  FuncProto,
  Int,
  loadSpec,
  Member,
  Pointer,
  sizeof,
  skipQualifiers,
  Struct,
  Typedef,
  TypeTag,
  underlyingType,
  Union,
  VOID,
  Volatile,
} from "../../btf/mod.ts";
import { testdata } from "../_harness.ts";
import { assertTypesEqual } from "./_util.ts";

const int = new Int("int", 4, 1);
const char = new Int("char", 1, 1);
const long = new Int("long", 8, 1);

Deno.test("sizeof follows typedefs, qualifiers and arrays", () => {
  const td = new Typedef("my_int", new Const(new Volatile(int)));
  assertEquals(sizeof(td), 4);
  assertEquals(sizeof(new ArrayType(new ArrayType(td, int, 4), int, 3)), 48);
  assertEquals(sizeof(new Pointer(VOID)), 8);
  assertEquals(sizeof(new Float("double", 8)), 8);
  assertThrows(() => sizeof(VOID), RangeError);
  assertThrows(() => sizeof(new FuncProto(int)), RangeError);
  const loop = new Typedef("loop", int);
  loop.type = loop;
  assertThrows(() => sizeof(loop), RangeError, "cyclic");
});

Deno.test("alignof: natural alignment, packed structs", () => {
  assertEquals(alignof(char), 1);
  assertEquals(alignof(long), 8);
  assertEquals(alignof(new ArrayType(int, int, 3)), 4);
  const s = new Struct("s", 16, [new Member("c", char, 0), new Member("l", long, 64)]);
  assertEquals(alignof(s), 8);
  const packed = new Struct("p", 9, [new Member("c", char, 0), new Member("l", long, 8)]);
  assertEquals(alignof(packed), 1);
  const spec = loadSpec(testdata("btf_kinds-el.o"));
  assertEquals(alignof(spec.typeByName("packed_pair", Struct)!), 1);
  assertEquals(alignof(spec.typeByName("bits", Struct)!), 8);
  assertEquals(alignof(spec.typeByName("number", Union)!), 8);
});

Deno.test("skipQualifiers and underlyingType", () => {
  const tag = new TypeTag("user", new Const(int));
  assertStrictEquals(skipQualifiers(tag), int);
  const td = new Typedef("t", new Volatile(new Typedef("u", int)));
  assertStrictEquals(skipQualifiers(td), td);
  assertStrictEquals(underlyingType(td), int);
  const loop = new Const(int);
  loop.type = loop;
  assertThrows(() => skipQualifiers(loop), RangeError);
});

Deno.test("copyType copies a graph with its cycles and shared references", () => {
  const spec = loadSpec(testdata("btf_kinds-el.o"));
  const tagged = spec.typeByName("tagged", Struct)!;
  const copy = copyType(tagged);
  assertNotStrictEquals(copy, tagged);
  assertTypesEqual(copy, tagged);
  assertEquals(spec.typeId(copy), undefined);
  // Changing the copy leaves the original alone.
  copy.members[0].name = "changed";
  assertEquals(tagged.members[0].name, "m");

  const node = new Struct("node", 8);
  node.members = [new Member("next", new Pointer(node), 0)];
  const n2 = copyType(node);
  assertStrictEquals((n2.members[0].type as Pointer).target, n2);

  const [a, b] = copyTypes([new Pointer(int), new Const(int)]);
  assertStrictEquals((a as Pointer).target, (b as Const).type);
  assertStrictEquals(copyType(VOID), VOID);
});

Deno.test("copyType transform replaces types before copying", () => {
  const s = new Struct("s", 4, [new Member("x", int, 0)]);
  const c = copyType(s, (t) => (t === int ? new Int("unsigned int", 4) : t));
  assertEquals(c.members[0].type.name, "unsigned int");
});

Deno.test("essentialName strips the flavor suffix like libbpf", () => {
  assertEquals(essentialName("task_struct___old"), "task_struct");
  assertEquals(essentialName("task_struct___1___2"), "task_struct___1");
  assertEquals(essentialName("a___b"), "a");
  assertEquals(essentialName("____x"), "____x");
  assertEquals(essentialName("x____y"), "x____y");
  assertEquals(essentialName("plain"), "plain");
  assertEquals(essentialName("ends___"), "ends___");
  assertEquals(essentialName(""), "");
  assert(essentialName("__u32") === "__u32");
});
