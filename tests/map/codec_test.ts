import { assertEquals, assertThrows } from "@std/assert";
import { btf, codecFor, decodeValue, encodeValue } from "../../mod.ts";
import { char, color, inner, u16, u32, u64, u8, val, written } from "./_types.ts";

const { Array: ArrayType, Member, Struct, Union, Int, IntEncoding, Enum, EnumValue, Pointer } = btf;

/** The bytes the C compiler lays out for `written` (see _types.ts), built by hand. */
function expectedBytes(): Uint8Array {
  const b = new Uint8Array(56);
  const v = new DataView(b.buffer);
  v.setUint8(0, 1);
  v.setBigUint64(8, 0x1122334455667788n, true);
  v.setUint16(16, 0xbeef, true);
  v.setUint8(18, 7);
  v.setUint32(20, 123456, true);
  [1, 2, 3].forEach((x, i) => v.setUint32(24 + 4 * i, x, true));
  v.setUint32(36, 0x10, true);
  b.set([0x68, 0x69], 40);
  v.setUint32(48, (5 | (17 << 3) | (0xabcdef << 8)) >>> 0, true);
  v.setInt32(52, -42, true);
  return b;
}

Deno.test("codec: nested struct, arrays, enum, string, bitfields encode to C's layout", () => {
  const codec = codecFor(val);
  assertEquals(codec.size, 56);
  assertEquals(encodeValue(codec, written), expectedBytes());
  assertEquals(decodeValue(codec, expectedBytes()), written);
});

Deno.test("codec: padding is written as zeros, over whatever was there", () => {
  const codec = codecFor(val);
  const bytes = new Uint8Array(56).fill(0xff);
  codec.encode(written, new DataView(bytes.buffer), bytes, 0, "v");
  assertEquals(bytes, expectedBytes());
});

Deno.test("codec: scalars by size and signedness", () => {
  const s8 = new Int("s8", 1, IntEncoding.Signed);
  assertEquals(decodeValue(codecFor(s8), encodeValue(codecFor(s8), -1)), -1);
  assertEquals(decodeValue(codecFor(u8), encodeValue(codecFor(u8), 255)), 255);
  assertEquals(
    decodeValue(codecFor(u64), encodeValue(codecFor(u64), 2n ** 64n - 1n)),
    2n ** 64n - 1n,
  );
  const s64 = new Int("s64", 8, IntEncoding.Signed);
  assertEquals(decodeValue(codecFor(s64), encodeValue(codecFor(s64), -5n)), -5n);
  const bool = new Int("_Bool", 1, IntEncoding.Bool);
  assertEquals(decodeValue(codecFor(bool), encodeValue(codecFor(bool), true)), true);
  const u128 = new Int("u128", 16);
  assertEquals(decodeValue(codecFor(u128), encodeValue(codecFor(u128), 1n << 100n)), 1n << 100n);
  const f64 = new btf.Float("double", 8);
  assertEquals(decodeValue(codecFor(f64), encodeValue(codecFor(f64), 1.5)), 1.5);
  const ptr = new Pointer(u8);
  assertEquals(decodeValue(codecFor(ptr), encodeValue(codecFor(ptr), 0xdeadn)), 0xdeadn);
  // An enum value without a name decodes to its number; names and numbers both encode.
  assertEquals(decodeValue(codecFor(color), encodeValue(codecFor(color), 3)), 3);
  assertEquals(encodeValue(codecFor(color), "GREEN"), new Uint8Array([2, 0, 0, 0]));
  const signed = new Enum("e", 4, [new EnumValue("MINUS", -1n)], true);
  assertEquals(decodeValue(codecFor(signed), encodeValue(codecFor(signed), "MINUS")), "MINUS");
  assertEquals(decodeValue(codecFor(signed), encodeValue(codecFor(signed), -2)), -2);
});

Deno.test("codec: unions, anonymous members, arrays of structs, byte arrays", () => {
  const u = new Union("u", 8, [new Member("x", u64, 0), new Member("y", u32, 0)]);
  const s = new Struct("s", 24, [
    new Member("", new Struct("", 4, [new Member("p", u16, 0), new Member("q", u16, 16)]), 0),
    new Member("u", u, 64),
    new Member("raw", new ArrayType(u8, u32, 4), 128),
    new Member("two", new ArrayType(inner, u32, 0), 192),
  ]);
  const codec = codecFor(s);
  const value = { p: 1, q: 2, u: { y: 9 }, raw: new Uint8Array([1, 2, 3, 4]), two: [] };
  const bytes = encodeValue(codec, value);
  assertEquals(decodeValue(codec, bytes), {
    p: 1,
    q: 2,
    u: { x: 9n, y: 9 },
    raw: [1, 2, 3, 4],
    two: [],
  });
  const pairs = codecFor(new ArrayType(inner, u32, 2));
  const two = [{ a: 1, b: 2, c: 3 }, { a: 4, b: 5, c: 6 }];
  assertEquals(decodeValue(pairs, encodeValue(pairs, two)), two);
});

Deno.test("codec: a wrong shape or size is a TypeError or RangeError naming the field", () => {
  const codec = codecFor(val);
  const bad = (patch: Record<string, unknown>) => ({ ...written, ...patch });
  assertThrows(() => encodeValue(codec, 5), TypeError, "must be an object");
  assertThrows(() => encodeValue(codec, bad({ extra: 1 })), TypeError, 'no member "extra"');
  const { flag: _, ...noFlag } = written;
  assertThrows(() => encodeValue(codec, noFlag), TypeError, 'lacks member "flag"');
  assertThrows(() => encodeValue(codec, bad({ flag: 256 })), RangeError, "value.flag");
  assertThrows(() => encodeValue(codec, bad({ flag: 1.5 })), TypeError, "value.flag");
  assertThrows(() => encodeValue(codec, bad({ arr: [1, 2] })), RangeError, "value.arr");
  assertThrows(() => encodeValue(codec, bad({ arr: [1, 2, "x"] })), TypeError, "value.arr[2]");
  assertThrows(() => encodeValue(codec, bad({ col: "PURPLE" })), TypeError, "value.col");
  assertThrows(() => encodeValue(codec, bad({ name: "much too long" })), RangeError, "value.name");
  assertThrows(() => encodeValue(codec, bad({ bf1: 8 })), RangeError, "value.bf1");
  assertThrows(() => encodeValue(codec, bad({ in: { a: 1, b: 2 } })), TypeError, "value.in");
  assertThrows(() => encodeValue(codec, new Uint8Array(3)), RangeError);
  const u = codecFor(new Union("u", 8, [new Member("x", u64, 0), new Member("y", u32, 0)]));
  assertThrows(() => encodeValue(u, { x: 1n, y: 2 }), TypeError, "both given");
  assertThrows(() => decodeValue(codec, new Uint8Array(8)), RangeError);
  assertThrows(() => codecFor(new btf.Fwd("later")), TypeError);
  assertThrows(() => codecFor(new btf.Void()), TypeError);
});

Deno.test("codec: char arrays are strings, UTF-8, NUL padded", () => {
  const name = codecFor(new ArrayType(char, u32, 6));
  assertEquals(encodeValue(name, "hé"), new Uint8Array([0x68, 0xc3, 0xa9, 0, 0, 0]));
  assertEquals(decodeValue(name, new Uint8Array([0x61, 0x62, 0, 0x63, 0, 0])), "ab");
  assertEquals(decodeValue(name, encodeValue(name, "abcdef")), "abcdef");
});

Deno.test("codec: u64 from a bigint or a number, at the edges of its range", () => {
  const codec = codecFor(u64);
  const bytesOf = (x: bigint) => {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, x), true);
    return b;
  };
  for (const x of [0n, 1n, 2n ** 32n + 5n, 2n ** 64n - 1n, -1n, -(2n ** 63n)]) {
    assertEquals(encodeValue(codec, x), bytesOf(x), `${x}n`);
  }
  for (const x of [0, 2 ** 32 + 5, Number.MAX_SAFE_INTEGER, -1, -(2 ** 32)]) {
    assertEquals(encodeValue(codec, x), bytesOf(BigInt(x)), `${x}`);
  }
  assertThrows(() => encodeValue(codec, 2n ** 64n), RangeError, "does not fit in 64 bits");
  assertThrows(() => encodeValue(codec, -(2n ** 63n) - 1n), RangeError, "does not fit");
  assertThrows(() => encodeValue(codec, 0.5), TypeError, "must be an integer");
});

Deno.test("codec: a member's error names the path of the call it failed in", () => {
  const pair = new Struct("pair", 8, [new Member("a", u32, 0), new Member("b", u32, 32)]);
  const codec = codecFor(pair);
  assertEquals(
    encodeValue(codec, { a: 1, b: 2 }, "first"),
    new Uint8Array([1, 0, 0, 0, 2, 0, 0, 0]),
  );
  assertThrows(() => encodeValue(codec, { a: 2 ** 40, b: 0 }, "first"), RangeError, "first.a");
  assertThrows(() => encodeValue(codec, { a: 0, b: "x" }, "second"), TypeError, "second.b");
  assertThrows(() => encodeValue(codec, { a: 0, b: 0, c: 1 }, "third"), TypeError, 'no member "c"');
});

Deno.test("codec: struct accessors with any member names and every integer width", () => {
  const s = (name: string, size: number) => new Int(name, size, IntEncoding.Signed);
  // Names no identifier could spell, and __proto__ (which keeps the generic accessors).
  const odd = codecFor(
    new Struct("odd", 32, [
      new Member('q"uo\\te', s("s8", 1), 0),
      new Member("u8", u8, 8),
      new Member("s16", s("s16", 2), 16),
      new Member("u16", u16, 32),
      new Member("s32", s("s32", 4), 64),
      new Member("u32 with space", u32, 96),
      new Member("s64", s("s64", 8), 128),
      new Member("u64", u64, 192),
    ]),
  );
  const value = {
    'q"uo\\te': -128,
    u8: 255,
    s16: -32768,
    u16: 65535,
    s32: -2147483648,
    "u32 with space": 4294967295,
    s64: -(2n ** 63n),
    u64: 2n ** 64n - 1n,
  };
  const proto = codecFor(new Struct("proto", 4, [new Member("__proto__", u32, 0)]));
  const nested = codecFor(val);
  // Codecs in use are compiled after some calls: every check runs before and after that.
  for (let round = 0; round < 40; round++) {
    const bytes = encodeValue(odd, value);
    const v = new DataView(bytes.buffer);
    assertEquals(
      [v.getInt8(0), v.getUint8(1), v.getInt16(2, true), v.getUint16(4, true), v.getInt32(8, true)],
      [-128, 255, -32768, 65535, -2147483648],
    );
    assertEquals(v.getUint32(12, true), 4294967295);
    assertEquals([v.getBigInt64(16, true), v.getBigUint64(24, true)], [
      -(2n ** 63n),
      2n ** 64n - 1n,
    ]);
    const back = decodeValue(odd, bytes) as Record<string, unknown>;
    assertEquals(back, value);
    assertEquals(Object.keys(back), Object.keys(value));
    // Out of range, a wrong type, an unknown or a missing member: the generic path's errors.
    assertThrows(() => encodeValue(odd, { ...value, u8: 256 }), RangeError, "value.u8 256");
    assertThrows(() => encodeValue(odd, { ...value, s64: 1.5 }), TypeError, "value.s64");
    assertThrows(() => encodeValue(odd, { ...value, x: 1 }), TypeError, 'member "x"');
    const { u16: _, ...lacking } = value;
    assertThrows(() => encodeValue(odd, lacking), TypeError, 'lacks member "u16"');
    const decoded = decodeValue(proto, new Uint8Array([9, 0, 0, 0])) as object;
    assertEquals(Object.entries(decoded), [["__proto__", 9]]);
    // Nested structs, arrays, enums, strings, bitfields and padding over old bytes.
    const over = new Uint8Array(56).fill(0xff);
    nested.encode(written, new DataView(over.buffer), over, 0, "v");
    assertEquals(over, expectedBytes());
    assertEquals(decodeValue(nested, expectedBytes()), written);
    assertEquals(Object.keys(decodeValue(nested, expectedBytes()) as object), Object.keys(written));
  }
});
