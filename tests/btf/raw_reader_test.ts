// The raw-type reader (btf/_raw_reader.ts) against the type objects, on split BTF (ids of
// both the base and the split spec), and on hand-made words whose ids are out of range or
// cyclic, which it must report rather than follow.
import { assertEquals, assertThrows } from "@std/assert";
import {
  Array as ArrayType,
  Builder,
  Const,
  Int,
  loadSpec,
  Member,
  parseSpec,
  Pointer,
  sizeof,
  type Spec,
  Struct,
  Typedef,
  underlyingType,
  Var,
} from "../../btf/mod.ts";
import {
  kindAt,
  kindOf,
  MEMBER_SIZES,
  type RawPlace,
  resolvedSize,
  SIZEOF_SIZES,
  underlyingId,
} from "../../btf/_raw_reader.ts";
import { rawReader } from "../../btf/spec.ts";
import { Kind } from "../../btf/types.ts";
import { FormatError } from "../../errors.ts";
import { testdata } from "../_harness.ts";

/** A split spec on top of an object's BTF, whose types refer to the base's. */
function splitSpec(): { base: Spec; split: Spec } {
  const base = loadSpec(testdata("maps_globals-el.o"));
  const u32 = base.typeByName("__u32", Typedef)!;
  const b = new Builder({ base });
  const arr = new ArrayType(new Const(u32), u32, 3);
  const wrapper = new Struct("wrapper", 16, [new Member("a", arr, 0)]);
  b.add(new Typedef("wrapper_t", new Const(wrapper)));
  b.add(new Pointer(new Typedef("arr_t", arr)));
  b.add(new Var("v", wrapper, 1));
  return { base, split: parseSpec(b.marshal(), { base }) };
}

function sizeOrNegative(t: Parameters<typeof sizeof>[0]): number {
  try {
    return sizeof(t);
  } catch {
    return -1;
  }
}

Deno.test("raw reader: kinds, underlying ids and sizes as the objects give them, split BTF", () => {
  const { base, split } = splitSpec();
  const r = rawReader(split);
  const at: RawPlace = { tables: r, word: -1 };
  for (let id = 1; id < split.nextTypeId; id++) {
    const t = split.typeById(id);
    // The kind as the info word of the spec that holds the type says.
    const own = id < split.firstTypeId ? base.raw : split.raw;
    const info = own.words[own.offsets[id - own.firstId] + 1];
    assertEquals(kindOf(r, id), (info >>> 24) & 0x1f, `kind of ${id}`);
    const found = underlyingId(r, id, 32, at);
    assertEquals(found, split.typeId(underlyingType(t)), `${id}`);
    if (found === 0) assertEquals(at.word, -1);
    else assertEquals(kindAt(at.tables, at.word), kindOf(r, found));
    const size = resolvedSize(r, id, SIZEOF_SIZES, 32);
    assertEquals(size < 0 ? -1 : size, sizeOrNegative(t), `sizeof ${id}`);
  }
  assertEquals(kindOf(r, 0), 0);
  assertEquals(kindOf(r, split.nextTypeId), -1);
  assertEquals(resolvedSize(r, 0, SIZEOF_SIZES, 32), -1);
  // The split spec's types sit above the base's and resolve into them.
  const wrapper = split.typeIdsByName("wrapper")[0];
  assertEquals(wrapper >= base.nextTypeId, true);
  assertEquals(resolvedSize(r, split.typeIdsByName("arr_t")[0], MEMBER_SIZES, 32), 12);
  // A variable has a size for sizeof, none for a struct member's check.
  const v = split.typeIdsByName("v")[0];
  assertEquals(resolvedSize(r, v, SIZEOF_SIZES, 32), 16);
  assertEquals(resolvedSize(r, v, MEMBER_SIZES, 32), -1 - v);
});

/** Raw BTF of the given type words (no names) and one empty string. */
function rawBtf(words: number[]): Uint8Array {
  const bytes = new Uint8Array(24 + 4 * words.length + 1);
  const v = new DataView(bytes.buffer);
  v.setUint16(0, 0xeb9f, true);
  bytes[2] = 1;
  v.setUint32(4, 24, true); // hdr_len
  v.setUint32(8, 0, true); // type_off
  v.setUint32(12, 4 * words.length, true); // type_len
  v.setUint32(16, 4 * words.length, true); // str_off
  v.setUint32(20, 1, true); // str_len
  words.forEach((w, i) => v.setUint32(24 + 4 * i, w, true));
  return bytes;
}

Deno.test("raw reader: an id no type has stops the walks, a cycle is cut off", () => {
  // 1: typedef → 2, 2: array of 7 (which does not exist) × 4, 3: const → 3.
  const spec = parseSpec(rawBtf([
    0,
    Kind.Typedef << 24,
    2,
    0,
    Kind.Array << 24,
    0,
    7,
    1,
    4,
    0,
    Kind.Const << 24,
    3,
  ]));
  // Read before validation, as the ELF reader does.
  const r = rawReader(spec);
  assertEquals(kindOf(r, 7), -1);
  const at: RawPlace = { tables: r, word: 0 };
  assertEquals(underlyingId(r, 1, 32, at), 2);
  assertEquals(at.word >= 0, true);
  assertEquals(resolvedSize(r, 1, SIZEOF_SIZES, 32), -1 - 7);
  assertEquals(underlyingId(r, 3, 32, at), -1);
  assertEquals(at.word, -1);
  // Typedef 1 names array 2 of the missing 7: found as 7, no place.
  assertEquals(underlyingId(r, 7, 32, at), 7);
  assertEquals(at.word, -1);
  assertEquals(resolvedSize(r, 3, MEMBER_SIZES, 32), -1);
  assertThrows(() => spec.validate(), FormatError, "Type id 7 out of range");
});

Deno.test("raw reader: Spec.kindOf and nameOffsetOf refuse ids no type has", () => {
  const { split } = splitSpec();
  const b = new Builder();
  b.add(new Int("int", 4));
  const plain = parseSpec(b.marshal());
  assertEquals(plain.kindOf(1), Kind.Int);
  assertEquals(plain.nameOf(1), "int");
  assertEquals(plain.string(plain.nameOffsetOf(1)), "int");
  for (const spec of [split, plain]) {
    assertEquals([spec.kindOf(0), spec.nameOffsetOf(0)], [0, 0]);
    // -1 on a spec without a base was a TypeError (no base to ask).
    for (const bad of [-1, 0.5, spec.nextTypeId, NaN]) {
      assertThrows(() => spec.kindOf(bad), RangeError, "not found");
      assertThrows(() => spec.nameOffsetOf(bad), RangeError, "not found");
    }
  }
});
