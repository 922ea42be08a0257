import { assert, assertEquals, assertNotEquals, assertThrows } from "@std/assert";
import { BpfMap, btf, encodeValue, MapSpec, MapType } from "../../mod.ts";
import { currentBackend, setBackend } from "../../ffi.ts";
import { assertNoFdLeak, kernelTest } from "../_harness.ts";
import { key, u16, u32, val, valueWriter, written } from "./_types.ts";

const bpftool = (...args: string[]) => {
  const out = new Deno.Command("bpftool", { args: ["-j", ...args], stdout: "piped" }).outputSync();
  if (!out.success) throw new Error(`bpftool ${args.join(" ")} failed`);
  return JSON.parse(new TextDecoder().decode(out.stdout));
};

function valSpec(type: MapType, maxEntries = 4) {
  return new MapSpec({
    name: "btf_val",
    type,
    keySize: 4,
    valueSize: 56,
    maxEntries,
    key,
    value: val,
  });
}

kernelTest("BTF map: round trip of nested structs, arrays, enums, strings, bitfields", async () => {
  await assertNoFdLeak(() => {
    using m = BpfMap.create(valSpec(MapType.Hash));
    const info = m.info();
    assertNotEquals(info.btfId, 0);
    assertNotEquals(info.btfKeyTypeId, 0);
    assertNotEquals(info.btfValueTypeId, 0);
    m.update(7, written);
    assertEquals(m.lookup(7), written);
    assertEquals(m.lookupBytes(7), encodeValue(m.valueCodec!, written));
    const other = { ...written, name: "other", col: "RED", arr: [9, 8, 7], bf3: 1 };
    m.update(8, other);
    assertEquals(new Map(m.entries()), new Map<unknown, unknown>([[7, written], [8, other]]));
    assertEquals([...m.keys()].sort(), [7, 8]);
    assertEquals(m.nextKey<number>(7) === 8 || m.nextKey<number>(8) === 7, true);
    assertEquals(m.lookupAndDelete(8), other);
    // The kernel's view, through bpftool: the members by name, from the BTF we loaded.
    const dump = bpftool("map", "dump", "id", String(info.id));
    const formatted = dump[0].formatted;
    assertEquals(formatted.key, 7);
    assertEquals(formatted.value.in, { a: 0xbeef, b: 7, c: 123456 });
    assertEquals(formatted.value.arr, [1, 2, 3]);
    assertEquals(formatted.value.col, "BLUE");
    assertEquals(formatted.value.neg, -42);
    // bpftool prints bitfields in hex.
    assertEquals([formatted.value.bf1, formatted.value.bf2, formatted.value.bf3], [
      "0x5",
      "0x11",
      "0xabcdef",
    ]);
    // A handle opened by id finds the codecs in the kernel's BTF.
    using again = BpfMap.fromId(info.id);
    assertEquals(again.lookup(7), written);
    using raw = BpfMap.create(valSpec(MapType.Hash), { raw: true });
    raw.update(1, encodeValue(m.valueCodec!, written));
    assert(raw.lookup(1) instanceof Uint8Array);
  });
});

kernelTest("BTF map: decoded bytes equal what a BPF program writes", async () => {
  await assertNoFdLeak(() => {
    using m = BpfMap.create(valSpec(MapType.Array));
    using prog = valueWriter(m, 2);
    assertEquals(prog.run({ data: new Uint8Array(64) }).retval, 0);
    assertEquals(m.lookup(2), written);
    assertEquals(m.lookupBytes(2), encodeValue(m.valueCodec!, written));
    // And the other way: what user space encodes, the program overwrites with equal bytes.
    m.update(3, written);
    const before = m.lookupBytes(3)!.slice();
    using prog3 = valueWriter(m, 3);
    prog3.run({ data: new Uint8Array(64) });
    assertEquals(m.lookupBytes(3), before);
  });
});

kernelTest(
  "BTF map: an object value is checked alike before and after its encode is compiled",
  () => {
    const pair = new btf.Struct("pair", 8, [
      new btf.Member("a", u32, 0),
      new btf.Member("b", u32, 32),
    ]);
    using m = BpfMap.create(
      new MapSpec({
        type: MapType.Array,
        keySize: 4,
        valueSize: 8,
        maxEntries: 2,
        key: u32,
        value: pair,
      }),
    );
    using plain = BpfMap.create(
      new MapSpec({ type: MapType.Array, keySize: 4, valueSize: 8, maxEntries: 2 }),
    );
    const bad = () => {
      assertThrows(() => m.update(1, { a: 1, b: 2, c: 3 }), TypeError, 'no member "c"');
      assertThrows(() => m.update(1, { a: 1 }), TypeError, 'lacks member "b"');
      assertThrows(() => m.update(1, { a: 1, b: 2 ** 32 }), RangeError, "Value.b");
      assertThrows(() => m.update(1, new Uint8Array(7)), RangeError, "8 bytes");
    };
    bad();
    // Past the call that compiles the struct's encode (its 32nd), and on each side of it.
    for (let i = 0; i < 40; i++) {
      m.update(0, { a: i, b: 2 * i });
      assertEquals(m.lookup(0), { a: i, b: 2 * i });
    }
    bad();
    assertEquals(m.lookup(1), { a: 0, b: 0 });
    assertThrows(() => plain.update(0, { a: 1, b: 2 }), TypeError, "without BTF types");
  },
);

kernelTest("BTF map: a wrong shape throws before any syscall", () => {
  using m = BpfMap.create(valSpec(MapType.Hash));
  const real = currentBackend();
  let calls = 0;
  const restore = setBackend({
    bpf: (cmd, attr) => (calls++, real.bpf(cmd, attr)),
    address: (b) => real.address(b),
  });
  try {
    assertThrows(() => m.update(1, { ...written, arr: [1] }), RangeError, "Value.arr");
    assertThrows(() => m.update(1, { ...written, nope: 1 }), TypeError, "nope");
    assertThrows(() => m.update("x", written), TypeError);
    assertThrows(() => m.update(1, new Uint8Array(55)), RangeError);
    assertThrows(() => m.lookup({ a: 1 }), TypeError);
    assertEquals(calls, 0);
  } finally {
    restore();
  }
  assertThrows(
    () =>
      BpfMap.create(
        new MapSpec({ type: MapType.Hash, keySize: 4, valueSize: 8, maxEntries: 1, value: val }),
      ),
    RangeError,
    "56 bytes",
  );
});

kernelTest("BTF map: types the kernel refuses for the map fall back to a map without BTF", () => {
  // Array keys must be a u32 in BTF; a struct of 4 bytes is refused with EINVAL.
  const pair = new btf.Struct("pair", 4, [
    new btf.Member("lo", u16, 0),
    new btf.Member("hi", u16, 16),
  ]);
  using m = BpfMap.create(
    new MapSpec({
      type: MapType.Array,
      keySize: 4,
      valueSize: 4,
      maxEntries: 2,
      key: pair,
      value: u32,
    }),
  );
  assertEquals(m.info().btfId, 0);
  m.update({ lo: 1, hi: 0 }, 99);
  assertEquals(m.lookup({ lo: 1, hi: 0 }), 99);
  assertEquals([...m.keys()], [{ lo: 0, hi: 0 }, { lo: 1, hi: 0 }]);
});

kernelTest("BTF map: keyBytes gives the keys as the kernel holds them, padding included", () => {
  // A 4-byte key of which the struct uses 2: a key written as bytes keeps its padding, which
  // decoding and encoding again would zero — and then miss the entry.
  const padded = new btf.Struct("padded", 4, [new btf.Member("id", u16, 0)]);
  using m = BpfMap.create(
    new MapSpec({
      type: MapType.Hash,
      keySize: 4,
      valueSize: 4,
      maxEntries: 4,
      key: padded,
      value: u32,
    }),
  );
  m.update(new Uint8Array([7, 0, 0xaa, 0xbb]), 1);
  m.update(new Uint8Array([9, 0, 0, 0]), 2);
  const raw = [...m.keyBytes()].map((k) => [...k]);
  const theirs = bpftool("map", "dump", "id", String(m.info().id)).map(
    (e: { key: string[] }) => e.key.map(Number),
  );
  assertEquals(
    raw.toSorted((a, b) => a[0] - b[0]),
    theirs.toSorted((a: number[], b: number[]) => a[0] - b[0]),
  );
  const ids = [...m.keys<{ id: number }>()].map((k) => k.id);
  assertEquals(ids.toSorted(), [7, 9]);
  for (const k of m.keyBytes()) assert(m.lookupBytes(k) !== undefined);
  assertEquals(m.lookup({ id: 7 }), undefined, "the re-encoded key has zero padding");
});
