// BpfMap.entries() over batches (BPF_MAP_LOOKUP_BATCH) for hash and array maps: every entry
// once, across more than one batch, decoded as lookup() decodes; a map changed during the
// walk; maps without batches, and a kernel that refuses them, walk with nextkey+lookup.
import { assert, assertEquals, assertThrows } from "@std/assert";
import { BpfMap, btf, MapSpec, MapType } from "../../mod.ts";
import { type Attr, BpfCmd, currentBackend, possibleCpus, setBackend } from "../../ffi.ts";
import { ClosedError, Errno } from "../../errors.ts";
import { assertNoFdLeak, kernelTest } from "../_harness.ts";
import { mapTypeName } from "../../map/map_type.ts";

/** Runs `fn` with `answer` in front of the kernel; returns how often each command ran. */
function counting<T>(
  fn: () => T,
  answer?: (cmd: number, attr: Attr) => number | undefined,
): { result: T; calls: Map<number, number> } {
  const calls = new Map<number, number>();
  const inner = currentBackend();
  const restore = setBackend({
    bpf(cmd, attr) {
      calls.set(cmd, (calls.get(cmd) ?? 0) + 1);
      return answer?.(cmd, attr) ?? inner.bpf(cmd, attr);
    },
    address: (b) => inner.address(b),
  });
  try {
    return { result: fn(), calls };
  } finally {
    restore();
  }
}

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

/** A value of `size` bytes that names `key` and `salt`. */
function valueOf(key: number, size: number, salt = 0): Uint8Array {
  const v = new Uint8Array(size);
  for (let i = 0; i < size; i++) v[i] = (key * 7 + i * 13 + salt) & 0xff;
  return v;
}

const BATCH = 1024;
const batchTypes = [
  MapType.Hash,
  MapType.PerCPUHash,
  MapType.LRUHash,
  MapType.LRUCPUHash,
  MapType.Array,
  MapType.PerCPUArray,
];

for (const type of batchTypes) {
  kernelTest(
    `entries(): ${mapTypeName(type)} of 2,500 entries, ` +
      "every one once, in batches and without a nextkey walk",
    async () => {
      await assertNoFdLeak(() => {
        const n = 2500;
        // LRU maps evict before they are full: leave them room.
        const lru = type === MapType.LRUHash || type === MapType.LRUCPUHash;
        using m = BpfMap.create(
          new MapSpec({ type, keySize: 4, valueSize: 12, maxEntries: lru ? 4 * n : n }),
        );
        const expected = new Map<number, string>();
        for (let k = 0; k < n; k++) {
          const value = valueOf(k, m.fullValueSize);
          m.update(k, value);
          expected.set(k, hex(value));
        }
        const { result, calls } = counting(() =>
          [...m.entries()].map(([k, v]) =>
            [new DataView(k.buffer, k.byteOffset).getUint32(0, true), hex(v)] as const
          )
        );
        assertEquals(result.length, n, "every entry once");
        assertEquals(new Map(result), expected);
        assertEquals(calls.get(BpfCmd.MAP_GET_NEXT_KEY) ?? 0, 0, "no nextkey walk");
        assertEquals(calls.get(BpfCmd.MAP_LOOKUP_ELEM) ?? 0, 0, "no lookup per entry");
        const batches = calls.get(BpfCmd.MAP_LOOKUP_BATCH) ?? 0;
        // Arrays fill each batch; hash maps stop a batch at a bucket that does not fit.
        assert(
          batches >= Math.ceil(n / BATCH) && batches <= 2 * Math.ceil(n / BATCH) + 1,
          `${batches} batches`,
        );
      });
    },
  );
}

kernelTest("entries(): BTF keys and values decode as lookup() decodes, per CPU too", async () => {
  await assertNoFdLeak(() => {
    const u32 = new btf.Int("u32", 4);
    const pair = new btf.Struct("pair", 8, [
      new btf.Member("a", u32, 0),
      new btf.Member("b", u32, 32),
    ]);
    for (const type of [MapType.Hash, MapType.PerCPUArray]) {
      const n = 1500;
      using m = BpfMap.create(
        new MapSpec({ type, keySize: 4, valueSize: 8, maxEntries: n, key: u32, value: pair }),
      );
      const perCpu = type === MapType.PerCPUArray;
      for (let k = 0; k < n; k++) {
        const v = { a: k, b: k * 3 };
        m.update(
          k,
          perCpu ? Array.from({ length: possibleCpus() }, (_, c) => ({ ...v, b: v.b + c })) : v,
        );
      }
      const got = new Map(m.entries<number, unknown>());
      assertEquals(got.size, n);
      for (let k = 0; k < n; k++) assertEquals(got.get(k), m.lookup(k), `key ${k}`);
      assertEquals(
        got.get(5),
        perCpu
          ? Array.from({ length: possibleCpus() }, (_, c) => ({ a: 5, b: 15 + c }))
          : { a: 5, b: 15 },
      );
    }
  });
});

kernelTest("entries(): a hash map changed during the walk gives no entry twice", async () => {
  await assertNoFdLeak(() => {
    const n = 3000;
    using m = BpfMap.create(
      new MapSpec({ type: MapType.Hash, keySize: 4, valueSize: 8, maxEntries: 2 * n }),
    );
    for (let k = 0; k < n; k++) m.update(k, BigInt(k));
    const seen = new Set<number>();
    const deleted = new Set<number>();
    let step = 0;
    for (const [key, value] of m.entries()) {
      const k = new DataView(key.buffer, key.byteOffset).getUint32(0, true);
      assert(!seen.has(k), `key ${k} given twice`);
      seen.add(k);
      if (k < n) {
        assertEquals(new DataView(value.buffer, value.byteOffset).getBigUint64(0, true), BigInt(k));
      }
      // Delete keys behind and ahead of the walk, and add new ones.
      if (++step % 5 === 0) {
        const victim = (k * 7919 + step) % n;
        if (m.delete(victim)) deleted.add(victim);
        m.update(n + step, 0n);
      }
    }
    for (let k = 0; k < n; k++) {
      if (!deleted.has(k)) assert(seen.has(k), `key ${k}, never deleted, was not given`);
    }
  });
});

kernelTest("entries(): maps without batches walk with nextkey+lookup", async () => {
  await assertNoFdLeak(() => {
    // An LPM trie has no batch lookup: its keys are { prefixlen, data }.
    using m = BpfMap.create(
      new MapSpec({
        type: MapType.LPMTrie,
        keySize: 8,
        valueSize: 4,
        maxEntries: 16,
        flags: 1, // BPF_F_NO_PREALLOC, which tries require
      }),
    );
    const expected = new Map<string, string>();
    for (let i = 0; i < 10; i++) {
      const key = new Uint8Array([32, 0, 0, 0, 10, 0, i, 1]);
      const value = valueOf(i, 4);
      m.update(key, value);
      expected.set(hex(key), hex(value));
    }
    const { result, calls } = counting(() =>
      [...m.entries()].map(([k, v]) => [hex(k), hex(v)] as const)
    );
    assertEquals(new Map(result), expected);
    assertEquals(calls.get(BpfCmd.MAP_LOOKUP_BATCH) ?? 0, 0);
    assertEquals(calls.get(BpfCmd.MAP_GET_NEXT_KEY), 11);
  });
});

kernelTest("entries(): a kernel refusing batches for a type walks, and is asked once", async () => {
  await assertNoFdLeak(() => {
    // Only this test makes LRU per-CPU hashes walk in this process: it is what it checks.
    using m = BpfMap.create(
      new MapSpec({ type: MapType.LRUCPUHash, keySize: 4, valueSize: 8, maxEntries: 64 }),
    );
    for (let k = 0; k < 20; k++) m.update(k, valueOf(k, m.fullValueSize));
    const refuse = (cmd: number) => cmd === BpfCmd.MAP_LOOKUP_BATCH ? -Errno.EINVAL : undefined;
    const first = counting(() => [...m.entries()], refuse);
    assertEquals(first.result.length, 20);
    for (const [k, v] of first.result) assertEquals(hex(v), hex(m.lookupBytes(k)!));
    assertEquals(first.calls.get(BpfCmd.MAP_LOOKUP_BATCH), 1, "asked once");
    assertEquals(first.calls.get(BpfCmd.MAP_GET_NEXT_KEY), 21, "then walked");
    const again = counting(() => [...m.entries()], refuse);
    assertEquals(again.result.length, 20);
    assertEquals(again.calls.get(BpfCmd.MAP_LOOKUP_BATCH) ?? 0, 0, "remembered for the type");
  });
});

kernelTest(
  "entries(): stops when left, takes iterator helpers, and names a closed map",
  async () => {
    await assertNoFdLeak(() => {
      const m = BpfMap.create(
        new MapSpec({ type: MapType.Hash, keySize: 4, valueSize: 8, maxEntries: 3000 }),
      );
      for (let k = 0; k < 3000; k++) m.update(k, BigInt(k));
      const { calls } = counting(() => {
        for (const _ of m.entries()) break;
      });
      assertEquals(calls.get(BpfCmd.MAP_LOOKUP_BATCH), 1, "one batch for one entry");
      assertEquals(m.entries().take(5).toArray().length, 5);
      const walk = m.entries();
      for (let i = 0; i < BATCH / 2; i++) walk.next();
      m.close();
      // The batch in hand is still given; the next one needs the map.
      assertThrows(() => {
        for (let i = 0; i < 3000; i++) walk.next();
      }, ClosedError);
    });
  },
);
