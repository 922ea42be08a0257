// Parsing: formatRaw against bpftool, every kind decoded, lookups, byte orders, split BTF.
import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertStrictEquals,
  assertThrows,
} from "@std/assert";
import {
  type Array as ArrayType,
  Builder,
  Const,
  copyType,
  Datasec,
  DeclTag,
  Enum,
  EnumValue,
  Float,
  formatRaw,
  Func,
  type FuncProto,
  Fwd,
  Int,
  IntEncoding,
  Kind,
  Linkage,
  loadKernelModuleSpec,
  loadKernelSpec,
  loadSpec,
  marshalTypes,
  Member,
  parseSpec,
  Pointer,
  Restrict,
  Struct,
  type Type,
  Typedef,
  TypeTag,
  Union,
  Var,
  VOID,
  Void,
  Volatile,
} from "../../btf/mod.ts";
import { FormatError, NotSupportedError } from "../../errors.ts";
import { testdata } from "../_harness.ts";
import { elfSections } from "../../btf/_elf.ts";
import { assertSameLines, assertTypesEqual, bpftoolRaw, btfObjects, haveBpftool } from "./_util.ts";

const VMLINUX = "/sys/kernel/btf/vmlinux";
const hasVmlinux = (() => {
  try {
    Deno.statSync(VMLINUX);
    return true;
  } catch {
    return false;
  }
})();
const bpftool = haveBpftool();

Deno.test({
  name: "formatRaw equals bpftool for /sys/kernel/btf/vmlinux",
  ignore: !hasVmlinux || !bpftool,
  fn() {
    assertSameLines(formatRaw(loadKernelSpec()), bpftoolRaw(VMLINUX), "vmlinux");
  },
});

for (const obj of btfObjects()) {
  Deno.test({
    name: `formatRaw equals bpftool for testdata/${obj}`,
    ignore: !bpftool,
    fn() {
      const path = testdata(obj);
      assertSameLines(formatRaw(loadSpec(path)), bpftoolRaw(path), obj);
    },
  });
}

Deno.test("little- and big-endian objects decode to equal types", () => {
  for (const obj of btfObjects().filter((o) => o.endsWith("-el.o"))) {
    const le = loadSpec(testdata(obj));
    const be = loadSpec(testdata(obj.replace("-el.o", "-eb.o")));
    assertEquals(le.byteOrder, "little");
    assertEquals(be.byteOrder, "big");
    assertEquals(le.typeCount, be.typeCount);
    let named: Map<string, Type> | undefined;
    let compared = 0;
    for (let id = 1; id < le.nextTypeId; id++) {
      const a = le.typeById(id);
      let b = be.typeById(id);
      // clang may emit the types of an object in another order for the other byte order
      // (the code differs, as the corpus's byte swaps do): a named type is then compared
      // with the type of its kind and name, an anonymous one through them.
      if (a.kind !== b.kind || a.name !== b.name) {
        if (a.name === "") continue;
        named ??= new Map([...be].map((t) => [`${t.kind} ${t.name}`, t]));
        const found = named.get(`${a.kind} ${a.name}`);
        assert(found !== undefined, `${obj}[${id}]: no ${a.kind} "${a.name}" in ${obj}-eb`);
        b = found!;
      }
      assertTypesEqual(a, b, `${obj}[${id}]`);
      compared++;
    }
    assert(compared > le.typeCount / 2, `${obj}: ${compared} of ${le.typeCount} types compared`);
  }
});

Deno.test("every kind of btf_kinds.c decodes", () => {
  const spec = loadSpec(testdata("btf_kinds-el.o"));
  const bits = spec.typeByName("bits", Struct)!;
  assertEquals(bits.size, 16);
  assertEquals(
    bits.members.map((m) => [m.name, m.offset, m.bitfieldSize]),
    [["a", 0, 1], ["b", 1, 7], ["c", 8, 12], ["d", 20, 44], ["e", 64, 0], ["f", 72, 1], [
      "g",
      73,
      2,
    ]],
  );
  assertInstanceOf(bits.members[2].type, Int);
  assertEquals((bits.members[2].type as Int).encoding, IntEncoding.Signed);
  assertEquals((bits.members[5].type as Int).encoding, IntEncoding.Bool);
  assertEquals((bits.members[4].type as Int).encoding, IntEncoding.Signed);

  const small = spec.typeByName("small_signed", Enum)!;
  assert(small.signed && !small.is64);
  assertEquals(small.values.map((v) => v.value), [-3n, 0n, 5n]);
  const bu = spec.typeByName("big_unsigned", Enum)!;
  assert(bu.is64 && !bu.signed);
  assertEquals(bu.values[1].value, 0xffffffff00000000n);
  const bs = spec.typeByName("big_signed", Enum)!;
  assert(bs.is64 && bs.signed);
  assertEquals(bs.values[0].value, -0x100000000n);
  assertEquals(spec.typeByName("tiny_enum", Enum)!.size, 1);

  const num = spec.typeByName("number", Union)!;
  assertEquals(num.members.map((m) => m.type.kind), ["int", "float", "float", "struct"]);
  assertEquals(spec.typeByName("float", Float)!.size, 4);
  assertEquals(spec.typeByName("double", Float)!.size, 8);

  const tagged = spec.typeByName("tagged", Struct)!;
  const m = (name: string) => tagged.members.find((x) => x.name === name)!;
  const p = m("p").type as Pointer;
  assertInstanceOf(p.target, TypeTag);
  assertEquals((p.target as TypeTag).value, "user");
  const s = m("s").type;
  assertInstanceOf(s, Restrict);
  assertInstanceOf(((s as Restrict).type as Pointer).target, Const);
  assertInstanceOf(m("v").type, Volatile);
  assertEquals((m("fwd").type as Pointer).target, spec.typeByName("fwd_only", Fwd));
  assertEquals(spec.typeByName("fwd_union", Fwd)!.fwdKind, "union");
  const vfn = (m("vfn").type as Pointer).target as FuncProto;
  assert(vfn.variadic);
  assertInstanceOf(vfn.params[1].type, Void);
  const cb = (m("cb").type as Pointer).target as FuncProto;
  assertEquals(cb.return, VOID);
  assert(!cb.variadic);
  const arr = m("arr").type as ArrayType;
  assertEquals(arr.nelems, 3);
  assertEquals((arr.type as ArrayType).nelems, 4);
  assertEquals(arr.index.name, "__ARRAY_SIZE_TYPE__");
  assertEquals((m("tail").type as ArrayType).nelems, 0);
  assertEquals(m("wide").type.name, "__int128");
  assertEquals((m("wide").type as Int).bits, 128);
  const anon = tagged.members.find((x) => x.name === "" && x.type instanceof Union)!;
  assertEquals((anon.type as Union).members.map((x) => x.name), ["ua", "ub"]);
  const cv = m("cv").type as Typedef;
  assertEquals(cv.name, "cv_u32_t");
  assertInstanceOf(cv.type, Const);

  const tags = spec.typesByName("member_tag", DeclTag);
  assertEquals(tags.length, 1);
  assertEquals(tags[0].index, 0);
  assertStrictEquals(tags[0].type, tagged);
  assertEquals(spec.typeByName("struct_tag", DeclTag)!.index, -1);
  assertEquals(spec.typeByName("param_tag", DeclTag)!.index, 0);
  assertInstanceOf(spec.typeByName("typedef_tag", DeclTag)!.type, Typedef);
  assertInstanceOf(spec.typeByName("var_tag", DeclTag)!.type, Var);

  assertEquals(spec.typeByName("helper", Func)!.linkage, Linkage.Static);
  assertEquals(spec.typeByName("kinds", Func)!.linkage, Linkage.Global);
  assertEquals(spec.typeByName("bpf_rcu_read_lock", Func)!.linkage, Linkage.Extern);
  assertEquals(spec.typeByName("g_static_counter", Var)!.linkage, Linkage.Static);
  assertEquals(spec.typeByName("LINUX_KERNEL_VERSION", Var)!.linkage, Linkage.Extern);
  const bss = spec.typeByName(".bss", Datasec)!;
  assertEquals(bss.vars.map((v) => [v.type.name, v.offset, v.size]), [
    ["g_tagged", 0, 272],
    ["g_static_counter", 272, 4],
  ]);
  const ksyms = spec.typeByName(".ksyms", Datasec)!;
  assertInstanceOf(ksyms.vars[0].type, Func);
});

Deno.test("lookups by id, name and kind; identity; iteration", () => {
  const spec = loadSpec(testdata("maps_globals-el.o"));
  assertStrictEquals(spec.typeById(0), VOID);
  assertEquals(spec.firstTypeId, 1);
  const ev = spec.typeByName("event")!;
  assertInstanceOf(ev, Struct);
  assertStrictEquals(spec.typeByName("event", Struct), ev);
  assertEquals(spec.typeByName("event", Union), undefined);
  assertEquals(spec.typeByName("no_such_type"), undefined);
  assertEquals(spec.typesByName(""), []);
  const id = spec.typeId(ev)!;
  assertStrictEquals(spec.typeById(id), ev);
  assertEquals(spec.kindOf(id), Kind.Struct);
  assertEquals(spec.nameOf(id), "event");
  assertEquals(spec.typeId(new Int("int", 4)), undefined);
  // The member's type is the very object the spec hands out for that id.
  assertStrictEquals((ev as Struct).members[0].type, spec.typeByName("__u32"));
  assertThrows(() => spec.typeById(spec.nextTypeId), RangeError);
  assertThrows(() => spec.typeById(-1), RangeError);
  assertThrows(() => spec.typeById(1.5), RangeError);
  const all = [...spec];
  assertEquals(all.length, spec.typeCount);
  assertStrictEquals(all[id - 1], ev);
  // Several anonymous map definitions share no name; "int" is unique.
  assertEquals(spec.typesByName("int").length, 1);
});

Deno.test("typeByName throws when a name is ambiguous", () => {
  const b = new Builder();
  b.add(new Struct("dup", 4, []));
  b.add(new Typedef("dup", new Int("int", 4, 1)));
  const spec = parseSpec(b.marshal());
  assertEquals(spec.typesByName("dup").length, 2);
  assertThrows(() => spec.typeByName("dup"), RangeError, "Ambiguous");
  assertInstanceOf(spec.typeByName("dup", Typedef), Typedef);
});

Deno.test({
  name: "loadKernelSpec is cached and finds kernel types lazily",
  ignore: !hasVmlinux,
  fn() {
    const spec = loadKernelSpec();
    assertStrictEquals(loadKernelSpec(), spec);
    const task = spec.typeByName("task_struct", Struct)!;
    assert(task.size > 1000);
    const pid = task.members.find((m) => m.name === "pid")!;
    assertEquals(pid.type.name, "pid_t");
    assert(spec.typeCount > 10000);
  },
});

Deno.test("loadKernelModuleSpec names a missing module in NotSupportedError", () => {
  assertThrows(() => loadKernelModuleSpec("no_such_module_btf"), NotSupportedError);
  assertThrows(() => loadKernelModuleSpec("../etc"), TypeError);
});

Deno.test("split BTF on top of a base: ids, strings, lookups, bpftool -B", () => {
  const basePath = testdata("maps_globals-el.o");
  const base = loadSpec(basePath);
  const ev = base.typeByName("event", Struct)!;
  const u32 = base.typeByName("__u32", Typedef)!;
  const b = new Builder({ base });
  const wrapper = new Struct("wrapper", 24, [
    new Member("ev", ev, 0),
    new Member("extra", u32, 128),
  ]);
  const wid = b.add(wrapper);
  assertEquals(wid, base.nextTypeId);
  b.add(new Pointer(wrapper));
  b.add(new Enum("split_enum", 4, [new EnumValue("SPLIT_A", 7n)]));
  const bytes = b.marshal();
  const split = parseSpec(bytes, { base });
  assertEquals(split.firstTypeId, base.nextTypeId);
  assertEquals(split.typeCount, 3);
  const w = split.typeByName("wrapper", Struct)!;
  assertStrictEquals(w.members[0].type, ev);
  assertStrictEquals(split.typeById(3), base.typeById(3));
  assertEquals(split.typesByName("event").length, 1);
  assertEquals([...split].length, 3);
  if (bpftool) {
    const file = Deno.makeTempFileSync({ suffix: ".btf" });
    const baseFile = Deno.makeTempFileSync({ suffix: ".btf" });
    try {
      // bpftool wants raw base BTF: write the object's .BTF as a file of its own.
      Deno.writeFileSync(baseFile, new Uint8Array(sectionOf(basePath)));
      Deno.writeFileSync(file, bytes);
      assertSameLines(formatRaw(split), bpftoolRaw(file, baseFile), "split");
    } finally {
      Deno.removeSync(file);
      Deno.removeSync(baseFile);
    }
  }
});

/** The .BTF section of an object, byte for byte. */
function sectionOf(path: string): Uint8Array {
  return elfSections(Deno.readFileSync(path)).sections.get(".BTF")!;
}

Deno.test("raw tables walk the same members the objects show", () => {
  const spec = loadSpec(testdata("btf_kinds-el.o"));
  const { words, offsets, firstId, count } = spec.raw;
  let members = 0;
  for (let i = 0; i < count; i++) {
    const info = words[offsets[i] + 1];
    const kind = (info >>> 24) & 0x1f;
    if (kind === Kind.Struct || kind === Kind.Union) members += info & 0xffff;
  }
  let fromObjects = 0;
  for (let id = firstId; id < firstId + count; id++) {
    const t = spec.typeById(id);
    if (t instanceof Struct || t instanceof Union) fromObjects += t.members.length;
  }
  assertEquals(members, fromObjects);
});

Deno.test("corrupt headers are FormatErrors with offsets", () => {
  const good = new Builder();
  good.add(new Int("int", 4, 1));
  const bytes = good.marshal();
  const bad = (mutate: (b: Uint8Array, v: DataView) => void, offset?: number) => {
    const b = bytes.slice();
    mutate(b, new DataView(b.buffer));
    const e = assertThrows(() => parseSpec(b), FormatError);
    if (offset !== undefined) assertEquals(e.offset, offset);
  };
  bad((b) => (b[0] = 0), 0);
  bad((b) => (b[2] = 2), 2);
  bad((b) => (b[3] = 1), 3);
  bad((_, v) => v.setUint32(4, 3, true), 4);
  bad((_, v) => v.setUint32(12, 1 << 20, true), 8);
  bad((_, v) => v.setUint32(20, 1 << 20, true), 16);
  bad((_, v) => v.setUint32(12, 13, true));
  bad((b) => (b[b.length - 1] = 0x41));
  assertThrows(() => parseSpec(bytes.subarray(0, 10)), FormatError);
  assertThrows(() => parseSpec("x" as unknown as Uint8Array), TypeError);
});

Deno.test("impossible counts, bad ids and self-referencing modifiers are FormatErrors", () => {
  const b = new Builder();
  const c = new Const(new Int("int", 4, 1));
  b.add(c);
  const bytes = b.marshal();
  const v = new DataView(bytes.buffer);
  // Types: [1] CONST -> 2, [2] INT. Header 24 bytes; CONST at 24.
  const selfRef = bytes.slice();
  new DataView(selfRef.buffer).setUint32(24 + 8, 1, true);
  // Parsing checks structure; references are checked before anything follows them.
  const lazy = parseSpec(selfRef);
  assertThrows(() => lazy.typeById(1), FormatError, "cycle");
  assertThrows(() => lazy.validate(), FormatError, "cycle");
  assertThrows(() => parseSpec(selfRef).nameOf(1), FormatError, "cycle");
  assertThrows(() => formatRaw(parseSpec(selfRef)), FormatError, "cycle");
  const badId = bytes.slice();
  new DataView(badId.buffer).setUint32(24 + 8, 99, true);
  assertThrows(() => parseSpec(badId).validate(), FormatError, "Type id 99");
  assertThrows(() => parseSpec(badId).typeByName("int"), FormatError, "Type id 99");
  const badKind = bytes.slice();
  new DataView(badKind.buffer).setUint32(24 + 4, 25 << 24, true);
  assertThrows(() => parseSpec(badKind), FormatError, "Unknown BTF kind");
  const vlen = bytes.slice();
  new DataView(vlen.buffer).setUint32(24 + 4, (Kind.Struct << 24) | 0xffff, true);
  assertThrows(() => parseSpec(vlen), FormatError, "overruns");
  const badName = bytes.slice();
  new DataView(badName.buffer).setUint32(24, 1 << 30, true);
  assertThrows(() => parseSpec(badName).validate(), FormatError, "String offset");
  assertEquals(v.getUint16(0, true), 0xeb9f);
});

Deno.test("type ids belong to the spec that decoded the type, not to copies or other parses", () => {
  const bytes = Deno.readFileSync(testdata("maps_globals-el.o"));
  const spec = loadSpec(testdata("maps_globals-el.o"));
  const again = loadSpec(testdata("maps_globals-el.o"));
  const ev = spec.typeByName("event", Struct)!;
  const id = spec.typeId(ev)!;
  assert(id > 0 && bytes.length > 0);
  assertEquals(again.typeId(ev), undefined);
  assertEquals(again.typeId(again.typeById(id)), id);
  const copy = copyType(ev);
  assertEquals(spec.typeId(copy), undefined);
  // A copy's references are resolved objects: its members read the same as the original's.
  assertEquals(
    copy.members.map((m) => [m.name, m.type.name, m.offset]),
    ev.members.map((m) => [m.name, m.type.name, m.offset]),
  );
});

Deno.test("names that are not ASCII decode as UTF-8", () => {
  const int = new Int("entier_signé", 4, IntEncoding.Signed);
  const s = new Struct("größe", 8, [new Member("ä", int, 0), new Member("plain", int, 32)]);
  const spec = parseSpec(marshalTypes([int, s]));
  const back = spec.typeByName("größe", Struct)!;
  assertEquals(back.members.map((m) => m.name), ["ä", "plain"]);
  assertEquals(back.members[0].type.name, "entier_signé");
  const ascii = parseSpec(
    marshalTypes([new Struct("plain_struct", 4, [new Member("x", new Int("int", 4), 0)])]),
  );
  const plain = ascii.typeByName("plain_struct", Struct)!;
  assertEquals(ascii.nameOf(ascii.typeId(plain)!), "plain_struct");
  assertEquals(plain.members[0].name, "x");
  assertThrows(() => ascii.string(ascii.stringsLength), RangeError);
});

Deno.test("formatRaw validates first, even when no name is ever decoded", () => {
  // Raw BTF by hand: one anonymous pointer to type 7, which does not exist; one empty string.
  const bytes = new Uint8Array(24 + 12 + 1);
  const v = new DataView(bytes.buffer);
  v.setUint16(0, 0xeb9f, true);
  bytes[2] = 1;
  v.setUint32(4, 24, true); // hdr_len
  v.setUint32(8, 0, true); // type_off
  v.setUint32(12, 12, true); // type_len
  v.setUint32(16, 12, true); // str_off
  v.setUint32(20, 1, true); // str_len
  v.setUint32(24 + 4, Kind.Pointer << 24, true);
  v.setUint32(24 + 8, 7, true);
  assertThrows(() => formatRaw(parseSpec(bytes)), FormatError, "Type id 7 out of range");
});

Deno.test("name lookups give the same ids before and after the name index is built", () => {
  const path = testdata("maps_globals-el.o");
  const indexed = loadSpec(path);
  const names = [...new Set([...indexed.types()].map((t) => t.name))].filter((n) => n !== "");
  assert(names.length > 8);
  // The first lookups of a spec scan; later ones build and use the hash index.
  for (const n of names) indexed.typeIdsByName(n);
  for (const n of [...names, "no_such_type"]) {
    assertEquals(loadSpec(path).typeIdsByName(n), indexed.typeIdsByName(n), n);
  }
});
