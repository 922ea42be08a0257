import { assert, assertEquals, assertThrows } from "@std/assert";
import { BpfMap, MapSpec, MapType, UpdateFlags } from "../../mod.ts";
import {
  ClosedError,
  KeyExistError,
  KeyNotExistError,
  NotSupportedError,
  PermissionError,
  SyscallError,
} from "../../errors.ts";
import { possibleCpus, setBackend } from "../../ffi.ts";
import { assertNoFdLeak, ensureBpffs, kernelTest, openFdCount } from "../_harness.ts";

const u32 = (n: number) => new Uint8Array(new Uint32Array([n]).buffer);
const u64 = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset).getBigUint64(0, true);
const asU32 = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset).getUint32(0, true);

function spec(type: MapType, keySize: number, valueSize: number, maxEntries: number, flags = 0) {
  return new MapSpec({ name: "test_map", type, keySize, valueSize, maxEntries, flags });
}

kernelTest("BpfMap: hash map create, update, lookup, delete, errors", async () => {
  await assertNoFdLeak(() => {
    using m = BpfMap.create(spec(MapType.Hash, 4, 8, 16));
    assertEquals(m.lookup(1), undefined);
    m.update(1, 100n);
    m.update(u32(2), 200);
    assertEquals(u64(m.lookup(1)!), 100n);
    assertEquals(u64(m.lookup(2)!), 200n);
    assertThrows(() => m.update(1, 5n, UpdateFlags.NoExist), KeyExistError);
    assertThrows(() => m.update(3, 5n, UpdateFlags.Exist), KeyNotExistError);
    assertEquals(m.delete(1), true);
    assertEquals(m.delete(1), false);
    assertEquals(u64(m.lookupAndDelete(2)!), 200n);
    assertEquals(m.lookup(2), undefined);
    // Wrong sizes are caught before any syscall.
    assertThrows(() => m.lookup(new Uint8Array(3)), RangeError, "must be 4 bytes");
    assertThrows(() => m.update(1, new Uint8Array(4)), RangeError, "must be 8 bytes");
    assertThrows(() => m.lookup(1.5), TypeError);
    assertThrows(() => m.lookup(2 ** 33), RangeError);
    const out = new Uint8Array(8);
    assertEquals(m.lookupInto(9, out), false);
    m.update(9, 9n);
    assertEquals(m.lookupInto(9, out), true);
    assertEquals(u64(out), 9n);
  });
});

kernelTest("BpfMap: use after close is a ClosedError", () => {
  const m = BpfMap.create(spec(MapType.Array, 4, 4, 1));
  m.close();
  m.close();
  assert(m.closed);
  assertThrows(() => m.lookup(0), ClosedError);
  assertThrows(() => m.update(0, 1), ClosedError);
  assertThrows(() => m.info(), ClosedError);
});

kernelTest("BpfMap: a closed map never reaches a map that reuses its fd number", () => {
  const m = BpfMap.create(spec(MapType.Hash, 4, 8, 4));
  const fd = m.fd;
  m.close();
  using other = BpfMap.create(spec(MapType.Hash, 4, 8, 4));
  assertEquals(other.fd, fd, "the kernel hands out the lowest free fd again");
  const out = new Uint8Array(8);
  assertThrows(() => m.update(1, 5n), ClosedError);
  assertThrows(() => m.update(1, 5n, UpdateFlags.NoExist), ClosedError);
  assertThrows(() => m.lookupInto(1, out), ClosedError);
  assertThrows(() => m.lookupBytes(1), ClosedError);
  assertThrows(() => m.lookupAndDelete(1), ClosedError);
  assertThrows(() => m.delete(1), ClosedError);
  assertEquals(other.nextKey(), undefined, "nothing was written to the other map");
  other.update(1, 6n);
  assertThrows(() => m.delete(1), ClosedError);
  assertEquals(u64(other.lookup(1)!), 6n, "nor deleted from it");
});

kernelTest("BpfMap: bigint values are stored modulo 2^64, flags reset between calls", () => {
  using m = BpfMap.create(spec(MapType.Hash, 4, 8, 4));
  m.update(1, -1n);
  assertEquals(u64(m.lookup(1)!), 2n ** 64n - 1n);
  m.update(1, 2n ** 64n + 5n);
  assertEquals(u64(m.lookup(1)!), 5n);
  assertThrows(() => m.update(1, 7n, UpdateFlags.NoExist), KeyExistError);
  m.update(1, 7n); // no flags: BPF_ANY again
  assertThrows(() => m.update(2, 8n, UpdateFlags.Exist), KeyNotExistError);
  m.update(2, 8n);
  assertEquals([u64(m.lookup(1)!), u64(m.lookup(2)!)], [7n, 8n]);
});

kernelTest("BpfMap: number values of 8 bytes are stored as two's complement u64s", () => {
  using m = BpfMap.create(spec(MapType.Hash, 4, 8, 8));
  const values = [0, 1, 2 ** 32 + 5, Number.MAX_SAFE_INTEGER, -1, -(2 ** 32), -(2 ** 53) + 1];
  values.forEach((v, i) => m.update(i, v));
  assertEquals(
    values.map((_, i) => u64(m.lookup(i)!)),
    values.map((v) => BigInt.asUintN(64, BigInt(v))),
  );
  m.update(0, 2 ** 60); // past the safe integers, through BigInt as before
  assertEquals(u64(m.lookup(0)!), 2n ** 60n);
  assertThrows(() => m.update(0, 1.5), TypeError, "integer");
  // Each lookup is a copy of its own: a later update or lookup changes no earlier result.
  const first = m.lookup(1)!;
  m.update(1, 9);
  const second = m.lookup(1)!;
  assertEquals([u64(first), u64(second)], [1n, 9n]);
});

kernelTest("BpfMap: info, fromId, clone, name", () => {
  using m = BpfMap.create(
    new MapSpec({
      name: "my-map:with/odd chars and a long name",
      type: MapType.LRUHash,
      keySize: 8,
      valueSize: 16,
      maxEntries: 64,
    }),
  );
  const info = m.info();
  assertEquals(info.type, MapType.LRUHash);
  assertEquals([info.keySize, info.valueSize, info.maxEntries], [8, 16, 64]);
  assertEquals(info.name, "mymapwithoddcha");
  assert(info.id > 0);
  using again = BpfMap.fromId(info.id);
  assertEquals(again.info().id, info.id);
  assertEquals(again.keySize, 8);
  using copy = m.clone();
  assert(copy.fd !== m.fd);
  copy.update(7n, new Uint8Array(16).fill(3));
  assertEquals(m.lookup(7n), new Uint8Array(16).fill(3));
});

kernelTest("BpfMap: per-CPU values, one per possible CPU", () => {
  using m = BpfMap.create(spec(MapType.PerCPUArray, 4, 4, 2));
  const cpus = possibleCpus();
  assertEquals(m.fullValueSize, 8 * cpus);
  const values = Array.from({ length: cpus }, (_, i) => u32(1000 + i));
  m.update(1, values);
  assertEquals(m.lookupPerCPU(1)!.map(asU32), values.map(asU32));
  assertThrows(() => m.update(1, [u32(1), ...values]), RangeError, "per-CPU values");
  assertEquals(m.lookupPerCPU(9), undefined);
  using plain = BpfMap.create(spec(MapType.Array, 4, 4, 1));
  assertThrows(() => plain.lookupPerCPU(0), TypeError, "not per-CPU");
});

kernelTest("BpfMap: queue is FIFO, stack is LIFO", () => {
  using q = BpfMap.create(spec(MapType.Queue, 0, 4, 8));
  using s = BpfMap.create(spec(MapType.Stack, 0, 4, 8));
  for (const v of [1, 2, 3]) {
    q.push(v);
    s.push(v);
  }
  assertEquals(asU32(q.peek()!), 1);
  assertEquals([q.pop(), q.pop(), q.pop()].map((b) => asU32(b!)), [1, 2, 3]);
  assertEquals([s.pop(), s.pop(), s.pop()].map((b) => asU32(b!)), [3, 2, 1]);
  assertEquals(q.pop(), undefined);
  assertEquals(s.peek(), undefined);
});

kernelTest("BpfMap: iteration visits each key once, also while deleting", () => {
  using m = BpfMap.create(spec(MapType.Hash, 4, 4, 256));
  for (let i = 0; i < 200; i++) m.update(i, i * 2);
  const seen = [...m.keys()].map(asU32).sort((a, b) => a - b);
  assertEquals(seen, Array.from({ length: 200 }, (_, i) => i));
  assertEquals([...m].length, 200);
  for (const [k, v] of m.entries()) assertEquals(asU32(v), asU32(k) * 2);

  // Delete every key as it is visited: the walk must still end and see each key once.
  const visited: number[] = [];
  for (const key of m.keys()) {
    visited.push(asU32(key));
    m.delete(key);
  }
  assertEquals(visited.sort((a, b) => a - b), Array.from({ length: 200 }, (_, i) => i));
  assertEquals(m.nextKey(), undefined);
});

kernelTest("BpfMap: batch update, lookup and delete", () => {
  using m = BpfMap.create(spec(MapType.Hash, 4, 8, 10_000));
  const n = 5000;
  const keys = new Uint8Array(n * 4);
  const values = new Uint8Array(n * 8);
  const kv = new DataView(keys.buffer);
  const vv = new DataView(values.buffer);
  for (let i = 0; i < n; i++) {
    kv.setUint32(i * 4, i, true);
    vv.setBigUint64(i * 8, BigInt(i) * 3n, true);
  }
  assertEquals(m.updateBatch(keys, values), n);
  const got = m.lookupBatch(512);
  assertEquals(got.count, n);
  assertEquals([got.keys.length, got.values.length], [n * 4, n * 8]);
  const back = new Map<number, bigint>();
  const gk = new DataView(got.keys.buffer);
  const gv = new DataView(got.values.buffer);
  for (let i = 0; i < got.count; i++) {
    back.set(gk.getUint32(i * 4, true), gv.getBigUint64(i * 8, true));
  }
  assertEquals(back.size, n);
  for (let i = 0; i < n; i++) assertEquals(back.get(i), BigInt(i) * 3n);
  assertEquals(m.deleteBatch(keys.subarray(0, 400)), 100);
  const some = m.lookupBatch();
  assertEquals([some.count, some.keys.length, some.values.length], [
    n - 100,
    (n - 100) * 4,
    (n - 100) * 8,
  ]);
  const drained = m.lookupBatch(1000, true);
  assertEquals(drained.count, n - 100);
  assertEquals(m.nextKey(), undefined);
});

kernelTest("BpfMap: lookupBatch of a full map gives every entry, in arrays of its count", () => {
  const n = 3000;
  using m = BpfMap.create(spec(MapType.Hash, 4, 8, n));
  const keys = new Uint8Array(new Uint32Array(Array.from({ length: n }, (_, i) => i * 7)).buffer);
  const values = new Uint8Array(
    new BigUint64Array(Array.from({ length: n }, (_, i) => BigInt(i * 7) << 32n)).buffer,
  );
  assertEquals(m.updateBatch(keys, values), n);
  const got = m.lookupBatch(256);
  assertEquals([got.count, got.keys.length, got.values.length], [n, n * 4, n * 8]);
  const gk = new DataView(got.keys.buffer, got.keys.byteOffset, got.keys.byteLength);
  const gv = new DataView(got.values.buffer, got.values.byteOffset, got.values.byteLength);
  const seen = new Set<number>();
  for (let i = 0; i < n; i++) {
    const key = gk.getUint32(i * 4, true);
    assertEquals(gv.getBigUint64(i * 8, true), BigInt(key) << 32n);
    seen.add(key);
  }
  assertEquals(seen.size, n);
});

kernelTest("BpfMap: pin and loadPinned round trip; freeze", () => {
  const dir = `${ensureBpffs()}/ebpf_test_${Deno.pid}`;
  Deno.mkdirSync(dir, { recursive: true });
  try {
    using m = BpfMap.create(spec(MapType.Array, 4, 4, 4));
    m.update(2, 22);
    m.pin(`${dir}/arr`);
    using pinned = BpfMap.loadPinned(`${dir}/arr`);
    assertEquals(pinned.info().id, m.info().id);
    assertEquals(asU32(pinned.lookup(2)!), 22);
    BpfMap.unpin(`${dir}/arr`);
    assertThrows(() => BpfMap.loadPinned(`${dir}/arr`), SyscallError);

    m.freeze();
    const e = assertThrows(() => m.update(2, 1), PermissionError, "frozen");
    assertEquals((e.cause as SyscallError).code, "EPERM");
    assertEquals(asU32(m.lookup(2)!), 22);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

kernelTest("BpfMap: map-in-map with an inner map template", () => {
  const inner = spec(MapType.Array, 4, 4, 1);
  using outer = BpfMap.create(
    new MapSpec({
      type: MapType.ArrayOfMaps,
      keySize: 4,
      valueSize: 4,
      maxEntries: 2,
      innerMap: inner,
    }),
  );
  using a = BpfMap.create(inner);
  outer.update(0, a.fd);
  const id = asU32(outer.lookup(0)!);
  assertEquals(id, a.info().id);
  assertThrows(
    () =>
      BpfMap.create(
        new MapSpec({ type: MapType.HashOfMaps, keySize: 4, valueSize: 4, maxEntries: 1 }),
      ),
    TypeError,
  );
});

kernelTest("BpfMap: 10,000 create/close cycles and failed creations leak nothing", () => {
  const before = openFdCount();
  for (let i = 0; i < 10_000; i++) BpfMap.create(spec(MapType.Array, 4, 4, 1)).close();
  for (let i = 0; i < 100; i++) {
    // value_size 0 is invalid for a hash map.
    assertThrows(() => BpfMap.create(spec(MapType.Hash, 4, 0, 1)), SyscallError);
  }
  assertEquals(openFdCount(), before);
});

Deno.test("BpfMap: a kernel without the map type gives NotSupportedError", () => {
  const restore = setBackend({ bpf: () => -22, address: () => 1n });
  try {
    const e = assertThrows(
      () => BpfMap.create(spec(MapType.BloomFilter, 0, 4, 1)),
      NotSupportedError,
    );
    assertEquals(e.minKernel, "5.16");
  } finally {
    restore();
  }
});

kernelTest("BpfMap.create: writes spec contents and freezes, unless told not to", async () => {
  await assertNoFdLeak(() => {
    const contents = [{ key: 1, value: 10n }, { key: u32(2), value: new Uint8Array(8).fill(1) }];
    using h = BpfMap.create(new MapSpec({ ...spec(MapType.Hash, 4, 8, 4), contents }));
    assertEquals(u64(h.lookup(1)!), 10n);
    assertEquals(u64(h.lookup(2)!), 0x0101010101010101n);
    assertEquals([...h.keys()].length, 2);

    using frozen = BpfMap.create(
      new MapSpec({ ...spec(MapType.Array, 4, 8, 4), contents, freeze: true }),
    );
    assertEquals(u64(frozen.lookup(1)!), 10n);
    assertThrows(() => frozen.update(0, 1n), PermissionError, "frozen");

    // Left to the caller: nothing written, not frozen.
    using bare = BpfMap.create(
      new MapSpec({ ...spec(MapType.Array, 4, 8, 4), contents, freeze: true }),
      { contents: false },
    );
    assertEquals(u64(bare.lookup(1)!), 0n);
    bare.update(0, 1n);

    // Maps of maps take the inner map itself.
    using inner = BpfMap.create(spec(MapType.Array, 4, 4, 1));
    using outer = BpfMap.create(
      new MapSpec({
        ...spec(MapType.ArrayOfMaps, 4, 4, 2),
        innerMap: spec(MapType.Array, 4, 4, 1),
        contents: [{ key: 1, value: inner }],
      }),
    );
    assertEquals(asU32(outer.lookup(1)!), inner.info().id);
  });
});

kernelTest("BpfMap.create: bad contents throw and close the new map", async () => {
  await assertNoFdLeak(() => {
    const bad = [{ key: 1, value: new Uint8Array(3) }];
    assertThrows(
      () => BpfMap.create(new MapSpec({ ...spec(MapType.Hash, 4, 8, 4), contents: bad })),
      RangeError,
    );
    assertThrows(
      () =>
        BpfMap.create(
          new MapSpec({ ...spec(MapType.Array, 4, 8, 2), contents: [{ key: 5, value: 1n }] }),
        ),
      SyscallError,
      "E2BIG",
    );
    assertThrows(
      () =>
        BpfMap.create(
          new MapSpec({
            ...spec(MapType.ProgramArray, 4, 4, 2),
            contents: [{ key: 0, value: "prog" }],
          }),
        ),
      TypeError,
      "collection",
    );
  });
});
