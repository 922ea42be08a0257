// Codecs check the layout of the BTF they are built for: members past the end of their struct,
// bitfields wider than their storage, arrays whose sizes do not add up and anonymous members
// that contain themselves are refused with InconsistentLayoutError (or RangeError for the
// cycle) when the codec is built, never a DataView RangeError or a BigInt TypeError later.
import { assert, assertEquals, assertThrows } from "@std/assert";
import { btf, codecFor, decodeValue, encodeValue, InconsistentLayoutError } from "../../mod.ts";
import { FormatError } from "../../errors.ts";

const { Array: ArrayType, Builder, Member, Struct, Union, Int, Enum, EnumValue, parseSpec } = btf;

const u32 = new Int("u32", 4);
const u64 = new Int("u64", 8);
const u8 = new Int("u8", 1);

/** Whether building the codec throws InconsistentLayoutError with `what` in its message. */
function refused(type: btf.Type, what: string): void {
  const e = assertThrows(() => codecFor(type), InconsistentLayoutError, what);
  assert(e instanceof TypeError, "a TypeError, as other unusable types are");
}

Deno.test("codec layout: a member that ends past its struct is refused", () => {
  // Was: decoding read the neighbour's bytes (or threw a DataView RangeError at the end).
  refused(new Struct("s", 4, [new Member("a", u64, 0)]), 'member "a" of 8 bytes at byte 0');
  refused(new Struct("s", 8, [new Member("a", u32, 64)]), "ends past");
  refused(new Union("u", 2, [new Member("a", u32, 0)]), "ends past");
  // A member nested in an anonymous struct is checked against the outer struct's bytes.
  const anon = new Struct("", 8, [new Member("x", u64, 0)]);
  refused(new Struct("s", 8, [new Member("", anon, 32)]), "anonymous struct of 8 bytes");
});

Deno.test("codec layout: a bitfield wider than its storage or its struct is refused", () => {
  // Was: "Cannot convert undefined to a BigInt" from reading past the value.
  refused(new Struct("s", 4, [new Member("f", u32, 24, 16)]), "ends past the 4 bytes");
  refused(new Struct("s", 16, [new Member("f", u32, 0, 40)]), "wider than its 4-byte storage");
  refused(new Struct("s", 32, [new Member("f", new Int("i128", 16), 0, 100)]), "at most 64");
  refused(new Struct("s", 4, [new Member("f", u32, -8, 4)]), "offset -8");
  const e = new Enum("e", 1, [new EnumValue("A", 1n)]);
  refused(new Struct("s", 4, [new Member("f", e, 0, 9)]), "wider than its 1-byte storage");
});

Deno.test("codec layout: arrays whose size does not add up are refused", () => {
  refused(new ArrayType(u32, u32, -1), "-1 is not an element count");
  refused(new ArrayType(u32, u32, 1.5), "1.5 is not an element count");
  refused(new ArrayType(u64, u32, 2 ** 31), "out of range");
  // Zero-sized elements: a huge count would decode to a huge JavaScript array from 0 bytes.
  refused(new ArrayType(new Struct("empty", 0, []), u32, 1e9), "values from 0 bytes");
  // Nested: each level alone is short, together billions of values from no bytes (was: a
  // 20 s decode; the fuzz found it).
  const rows = new ArrayType(new Struct("empty", 0, []), u32, 60_000);
  refused(new ArrayType(rows, u32, 60_000), "decodes to 3600060001 values from 0 bytes");
  // Arrays of real elements are fine however long: their bytes bound their values.
  assertEquals(codecFor(new ArrayType(u8, u32, 1 << 20)).size, 1 << 20);
  refused(new Struct("s", -4, []), "size -4");
});

Deno.test("codec layout: an anonymous member that contains itself is refused, not a stack overflow", () => {
  const self = new Struct("", 0, []);
  self.members = [new Member("", self, 0)];
  assertThrows(() => codecFor(new Struct("outer", 0, [new Member("", self, 0)])), RangeError);
});

Deno.test("codec: a bitfield of a 16-byte integer decodes as a bigint, which encodes back", () => {
  // Was: a Number past 2^53, which encoding refused (the fuzz found it).
  const s = new Struct("s", 16, [new Member("f", new Int("u128", 16), 0, 60)]);
  const c = codecFor(s);
  const bytes = new Uint8Array(16).fill(0xff);
  const value = decodeValue(c, bytes) as { f: unknown };
  assertEquals(value.f, (1n << 60n) - 1n);
  assertEquals(
    encodeValue(c, value).subarray(0, 8),
    new Uint8Array([255, 255, 255, 255, 255, 255, 255, 15]),
  );
});

Deno.test("codec layout: well-formed types still encode and decode (tail bitfield, packed)", () => {
  const s = new Struct("s", 5, [
    new Member("a", u32, 0),
    new Member("lo", u8, 32, 3),
    new Member("hi", u8, 35, 5),
  ]);
  const c = codecFor(s);
  const bytes = encodeValue(c, { a: 7, lo: 5, hi: 31 });
  assertEquals(bytes, new Uint8Array([7, 0, 0, 0, 5 | (31 << 3)]));
  assertEquals(decodeValue(c, bytes), { a: 7, lo: 5, hi: 31 });
});

Deno.test("btf: parsed BTF with a member past its struct is a FormatError, as the kernel's verifier says", () => {
  // ("Member exceeds struct_size"). Codecs check all the same: types can be built by hand.
  for (
    const [bad, what] of [
      [
        new Struct("bad", 4, [new Member("a", u64, 0)]),
        "member 0 (bits 0..64) ends past its 4 bytes",
      ],
      [new Struct("bad", 4, [new Member("f", u32, 24, 16)]), "member 0 (bits 24..40)"],
      [new Union("bad", 2, [new Member("a", new ArrayType(u8, u32, 3), 0)]), "(bits 0..24)"],
    ] as const
  ) {
    const b = new Builder();
    const id = b.add(bad);
    const spec = parseSpec(b.marshal());
    assertThrows(() => spec.typeById(id), FormatError, what);
  }
  // Flexible array members end at the struct's end: fine.
  const flex = new Struct("flex", 4, [
    new Member("n", u32, 0),
    new Member("data", new ArrayType(u32, u32, 0), 32),
  ]);
  const b = new Builder();
  const id = b.add(flex);
  assertEquals(parseSpec(b.marshal()).typeById(id).name, "flex");
});

Deno.test("codec layout: two members of one name are refused (a value could not hold both)", () => {
  refused(new Struct("s", 8, [new Member("a", u32, 0), new Member("a", u32, 32)]), 'named "a"');
  // Also when one comes from an anonymous member, as C flattens it.
  const anon = new Union("", 4, [new Member("a", u32, 0)]);
  refused(new Struct("s", 8, [new Member("a", u32, 0), new Member("", anon, 32)]), 'named "a"');
});
