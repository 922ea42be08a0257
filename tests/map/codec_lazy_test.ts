// Codecs are made on first use: a map opened from the kernel fetches and parses its BTF
// only when a key or value is decoded or encoded, and a spec's sizes are still checked at
// create time.
import { assertEquals, assertThrows } from "@std/assert";
import { BpfMap, btf, MapSpec, MapType } from "../../mod.ts";
import { BpfCmd, currentBackend, setBackend } from "../../ffi.ts";
import { assertNoFdLeak, kernelTest } from "../_harness.ts";
import { key, val, written } from "./_types.ts";

/** Runs `fn` and returns the bpf commands it made, in order. */
function commands(fn: () => void): number[] {
  const seen: number[] = [];
  const inner = currentBackend();
  const restore = setBackend({
    bpf(cmd, attr) {
      seen.push(cmd);
      return inner.bpf(cmd, attr);
    },
    address: (b) => inner.address(b),
  });
  try {
    fn();
  } finally {
    restore();
  }
  return seen;
}

const spec = () =>
  new MapSpec({
    name: "lazy_val",
    type: MapType.Hash,
    keySize: 4,
    valueSize: 56,
    maxEntries: 2,
    key,
    value: val,
  });

kernelTest("codecs: an opened map reads its BTF on first decode, not when opened", async () => {
  await assertNoFdLeak(() => {
    using m = BpfMap.create(spec());
    m.update(1, written);
    const id = m.info().id;
    let again: BpfMap | undefined;
    const open = commands(() => again = BpfMap.fromId(id));
    assertEquals(open, [BpfCmd.MAP_GET_FD_BY_ID, BpfCmd.OBJ_GET_INFO_BY_FD]);
    using opened = again!;
    using clone = opened.clone();
    // Bytes and integers need no codec: writing them reads no BTF.
    const raw = commands(() => opened.update(2, new Uint8Array(56)));
    assertEquals(raw, [BpfCmd.MAP_UPDATE_ELEM]);
    const first = commands(() => assertEquals(clone.lookup(1), written));
    // The BTF object opened, its info and bytes read, and closed: once, for both handles.
    assertEquals(first.filter((c) => c === BpfCmd.BTF_GET_FD_BY_ID).length, 1);
    const later = commands(() => assertEquals(opened.lookup(1), written));
    assertEquals(later, [BpfCmd.MAP_LOOKUP_ELEM]);
    assertEquals(opened.valueCodec, clone.valueCodec);
  });
});

kernelTest("codecs: a BTF type of the wrong size is refused before the map is made", async () => {
  await assertNoFdLeak(() => {
    const s = spec();
    s.valueSize = 48;
    let made: number[] = [];
    assertThrows(
      () => made = commands(() => BpfMap.create(s)),
      RangeError,
      "the value type struct val is 56 bytes, but the value size is 48",
    );
    assertEquals(made, []);
    const k = spec();
    k.keySize = 8;
    assertThrows(() => BpfMap.create(k), RangeError, "key size is 8");
    // Types that have no codec (a function) keep raw bytes and are not size-checked.
    const f = spec();
    f.value = new btf.Func("f", new btf.FuncProto(new btf.Int("int", 4)));
    using m = BpfMap.create(f, { btf: undefined });
    assertEquals(m.valueCodec, undefined);
  });
});
