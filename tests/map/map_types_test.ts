// The per-type sweep: every map type this kernel creates is created, inspected, iterated,
// pinned and reopened, and exercised with the operations its type supports.
import { assert, assertEquals, assertThrows } from "@std/assert";
import {
  BpfMap,
  btf,
  haveMapType,
  MAP_TYPE_MIN_KERNEL,
  MapSpec,
  type MapSpecInit,
  MapType,
  mapTypeName,
  UpdateFlags,
} from "../../mod.ts";
import { ClosedError, KeyExistError, KeyNotExistError, SyscallError } from "../../errors.ts";
import { possibleCpus } from "../../ffi.ts";
import { assertNoFdLeak, ensureBpffs, kernelAtLeast, kernelTest } from "../_harness.ts";
import { u32 } from "./_types.ts";

const BPF_F_NO_PREALLOC = 1;
const BPF_F_MMAPABLE = 1 << 10;
const BPF_F_ZERO_SEED = 1 << 6;
const u64 = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset).getBigUint64(0, true);

/** A storage map's value needs BTF; this one is a plain u64 counter. */
const counter = new btf.Struct("counter", 8, [new btf.Member("n", new btf.Int("u64", 8), 0)]);

interface Case {
  init: Omit<MapSpecInit, "type">;
  /** Type-specific checks on a fresh map. */
  check?: (m: BpfMap) => void;
}

/** Hash-like maps: create, update flags, lookup, delete, iterate, batch, error classes. */
function hashChecks(m: BpfMap): void {
  assertEquals(m.lookup(1), undefined);
  m.update(1, 10n, UpdateFlags.NoExist);
  assertThrows(() => m.update(1, 11n, UpdateFlags.NoExist), KeyExistError);
  assertThrows(() => m.update(2, 11n, UpdateFlags.Exist), KeyNotExistError);
  m.update(2, 20n);
  assertEquals(u64(m.lookup(1)!), 10n);
  assertEquals([...m.keys()].map((k) => k[0]).sort(), [1, 2]);
  assert(m.delete(1));
  assert(!m.delete(1));
  assertEquals(m.lookupAndDelete(2) && u64(m.lookupAndDelete(2) ?? new Uint8Array(8)), 0n);
  const keys = new Uint8Array(new Uint32Array([5, 6, 7]).buffer);
  const values = new Uint8Array(new BigUint64Array([50n, 60n, 70n]).buffer);
  assertEquals(m.updateBatch(keys, values), 3);
  const all = m.lookupBatch(2);
  assertEquals(all.count, 3);
  assertEquals(m.deleteBatch(keys), 3);
  assertEquals(m.nextKey(), undefined);
  assertThrows(() => m.update(new Uint8Array(3), 1n), RangeError);
  assertThrows(() => m.update(1, new Uint8Array(9)), RangeError);
}

function perCpuChecks(m: BpfMap): void {
  const cpus = possibleCpus();
  const values = Array.from(
    { length: cpus },
    (_, i) => new Uint8Array(new BigUint64Array([BigInt(i + 1)]).buffer),
  );
  m.update(0, values);
  assertEquals(m.lookupPerCPU(0)!.map(u64), values.map(u64));
  assertThrows(() => m.update(0, values.slice(1)), RangeError);
  // Batch values carry every CPU's value.
  const all = m.lookupBatch();
  assert(all.count >= 1);
  assertEquals(all.values.length, all.count * 8 * cpus);
}

const CASES: Partial<Record<MapType, Case>> = {
  [MapType.Hash]: { init: { keySize: 4, valueSize: 8, maxEntries: 16 }, check: hashChecks },
  [MapType.LRUHash]: { init: { keySize: 4, valueSize: 8, maxEntries: 16 }, check: hashChecks },
  [MapType.Array]: {
    init: { keySize: 4, valueSize: 8, maxEntries: 4 },
    check(m) {
      assertEquals(u64(m.lookup(3)!), 0n, "arrays start zeroed");
      assertEquals(m.lookup(4), undefined, "out of range is absent");
      m.update(3, 33n);
      assertEquals(u64(m.lookup(3)!), 33n);
      assertThrows(() => m.update(0, 1n, UpdateFlags.NoExist), KeyExistError);
      assertThrows(() => m.delete(0), SyscallError, "EINVAL");
      assertEquals([...m.keys()].length, 4);
      assertEquals(m.lookupBatch().count, 4);
      m.freeze();
      assertThrows(() => m.update(0, 1n), Error, "frozen");
    },
  },
  [MapType.PerCPUHash]: { init: { keySize: 4, valueSize: 8, maxEntries: 4 }, check: perCpuChecks },
  [MapType.PerCPUArray]: { init: { keySize: 4, valueSize: 8, maxEntries: 4 }, check: perCpuChecks },
  [MapType.LRUCPUHash]: { init: { keySize: 4, valueSize: 8, maxEntries: 4 }, check: perCpuChecks },
  [MapType.ProgramArray]: { init: { keySize: 4, valueSize: 4, maxEntries: 4 } },
  [MapType.PerfEventArray]: { init: { keySize: 4, valueSize: 4, maxEntries: 4 } },
  [MapType.StackTrace]: { init: { keySize: 4, valueSize: 8 * 16, maxEntries: 16 } },
  [MapType.CgroupArray]: { init: { keySize: 4, valueSize: 4, maxEntries: 4 } },
  [MapType.LPMTrie]: {
    init: { keySize: 8, valueSize: 4, maxEntries: 16, flags: BPF_F_NO_PREALLOC },
    check(m) {
      const prefix = (len: number, a: number, b: number) =>
        new Uint8Array([len, 0, 0, 0, 10, a, b, 0]);
      m.update(prefix(8, 0, 0), 8);
      m.update(prefix(16, 1, 0), 16);
      const hit = (a: number, b: number) => m.lookup(prefix(32, a, b))?.[0];
      assertEquals(hit(1, 2), 16, "longest prefix wins");
      assertEquals(hit(2, 2), 8);
      assertEquals([...m.keys()].length, 2);
    },
  },
  [MapType.ArrayOfMaps]: {
    init: {
      keySize: 4,
      valueSize: 4,
      maxEntries: 2,
      innerMap: new MapSpec({ type: MapType.Array, keySize: 4, valueSize: 4, maxEntries: 1 }),
    },
    check(m) {
      using inner = BpfMap.create(
        new MapSpec({ type: MapType.Array, keySize: 4, valueSize: 4, maxEntries: 1 }),
      );
      m.update(1, inner.fd);
      // User space reads back the inner map's id.
      assertEquals(
        new DataView(m.lookup(1)!.buffer, m.lookup(1)!.byteOffset).getUint32(0, true),
        inner.info().id,
      );
    },
  },
  [MapType.HashOfMaps]: {
    init: {
      keySize: 4,
      valueSize: 4,
      maxEntries: 2,
      innerMap: new MapSpec({ type: MapType.Hash, keySize: 4, valueSize: 4, maxEntries: 1 }),
    },
    check(m) {
      using inner = BpfMap.create(
        new MapSpec({ type: MapType.Hash, keySize: 4, valueSize: 4, maxEntries: 1 }),
      );
      m.update(7, inner.fd);
      assertEquals([...m.keys()].map((k) => k[0]), [7]);
      assert(m.delete(7));
    },
  },
  [MapType.DevMap]: { init: { keySize: 4, valueSize: 4, maxEntries: 4 } },
  [MapType.DevMapHash]: { init: { keySize: 4, valueSize: 4, maxEntries: 4 } },
  [MapType.SockMap]: { init: { keySize: 4, valueSize: 4, maxEntries: 4 } },
  [MapType.SockHash]: { init: { keySize: 4, valueSize: 4, maxEntries: 4 } },
  [MapType.CPUMap]: { init: { keySize: 4, valueSize: 4, maxEntries: 2 } },
  [MapType.XSKMap]: { init: { keySize: 4, valueSize: 4, maxEntries: 4 } },
  [MapType.CgroupStorage]: { init: { keySize: 8, valueSize: 8, maxEntries: 0 } },
  [MapType.PerCPUCgroupStorage]: { init: { keySize: 8, valueSize: 8, maxEntries: 0 } },
  [MapType.ReusePortSockArray]: { init: { keySize: 4, valueSize: 4, maxEntries: 4 } },
  [MapType.Queue]: {
    init: { keySize: 0, valueSize: 4, maxEntries: 3 },
    check(m) {
      assertThrows(() => m.has(1), TypeError, "not a bloom filter");
      for (const v of [1, 2, 3]) m.push(v);
      assertThrows(() => m.push(4), SyscallError, "E2BIG");
      m.push(4, UpdateFlags.Exist); // overwrites the oldest
      assertEquals([m.pop()![0], m.pop()![0], m.peek()![0], m.pop()![0], m.pop()], [
        2,
        3,
        4,
        4,
        undefined,
      ]);
    },
  },
  [MapType.Stack]: {
    init: { keySize: 0, valueSize: 4, maxEntries: 3 },
    check(m) {
      for (const v of [1, 2, 3]) m.push(v);
      assertEquals([m.pop()![0], m.pop()![0], m.pop()![0], m.pop()], [3, 2, 1, undefined]);
    },
  },
  [MapType.SkStorage]: {
    init: {
      keySize: 4,
      valueSize: 8,
      maxEntries: 0,
      flags: BPF_F_NO_PREALLOC,
      key: u32,
      value: counter,
    },
  },
  [MapType.InodeStorage]: {
    init: {
      keySize: 4,
      valueSize: 8,
      maxEntries: 0,
      flags: BPF_F_NO_PREALLOC,
      key: u32,
      value: counter,
    },
  },
  [MapType.TaskStorage]: {
    init: {
      keySize: 4,
      valueSize: 8,
      maxEntries: 0,
      flags: BPF_F_NO_PREALLOC,
      key: u32,
      value: counter,
    },
  },
  [MapType.CgroupStorageNew]: {
    init: {
      keySize: 4,
      valueSize: 8,
      maxEntries: 0,
      flags: BPF_F_NO_PREALLOC,
      key: u32,
      value: counter,
    },
  },
  [MapType.RingBuf]: { init: { maxEntries: 4096 } },
  [MapType.UserRingbuf]: { init: { maxEntries: 4096 } },
  [MapType.BloomFilter]: {
    // BPF_F_ZERO_SEED makes the hashes, and so the false positives, the same on each run.
    init: { keySize: 0, valueSize: 4, maxEntries: 64, mapExtra: 3n, flags: BPF_F_ZERO_SEED },
    check(m) {
      const members = [42, 7, 1 << 20];
      assertEquals(members.map((v) => m.has(v)), [false, false, false], "empty");
      for (const v of members) m.push(v);
      assertEquals(members.map((v) => m.has(v)), [true, true, true], "members");
      // 3 of 64 entries, 3 hashes, 512 bits: a false positive here is one in millions.
      assertEquals([43, 8, 0, 99999].map((v) => m.has(v)), [false, false, false, false]);
      assert(m.has(new Uint8Array(new Uint32Array([7]).buffer)), "as bytes");
      assertThrows(() => m.has(new Uint8Array(3)), RangeError);
      assertThrows(() => m.lookup(0), TypeError, undefined, "bloom filters have no keys");
    },
  },
  [MapType.Arena]: { init: { maxEntries: 4, flags: BPF_F_MMAPABLE } },
  // The value type names the kernel's tcp_congestion_ops; the map's value is the kernel's
  // bigger bpf_struct_ops_tcp_congestion_ops wrapper (see struct_ops_map_test.ts).
  [MapType.StructOpsMap]: {
    init: {
      keySize: 4,
      maxEntries: 1,
      value: new btf.Struct("tcp_congestion_ops", 8, [
        new btf.Member("flags", new btf.Int("u64", 8), 0),
      ]),
    },
    check(m) {
      assert(m.valueSize > 8, `value size ${m.valueSize}`);
      assertEquals(m.info().valueSize, m.valueSize);
      assert(m.info().btfVmlinuxValueTypeId > 0);
      assert(m.lookup(0)!.every((b) => b === 0), "an unregistered ops table reads as zeros");
    },
  },
};

kernelTest("map types: every type this kernel creates passes the common round trip", async () => {
  const dir = `${ensureBpffs()}/ebpf_sweep_${Deno.pid}`;
  Deno.mkdirSync(dir, { recursive: true });
  const created: string[] = [];
  const skipped: string[] = [];
  try {
    await assertNoFdLeak(() => {
      for (const [typeText, c] of Object.entries(CASES)) {
        const type = Number(typeText) as MapType;
        const name = mapTypeName(type);
        if (!haveMapType(type)) {
          skipped.push(name);
          continue;
        }
        const spec = new MapSpec({ name: `sweep_${type}`, type, ...c.init });
        const m = BpfMap.create(spec);
        try {
          const info = m.info();
          // struct_ops maps take their value size from the kernel's type, not the spec.
          const valueSize = type === MapType.StructOpsMap ? m.valueSize : spec.valueSize;
          assertEquals(
            [info.type, info.keySize, info.valueSize, info.maxEntries],
            [type, spec.keySize, valueSize, spec.maxEntries],
            name,
          );
          // Pin, reopen, compare, unpin.
          const path = `${dir}/${type}`;
          m.pin(path);
          using pinned = BpfMap.loadPinned(path);
          assertEquals(pinned.info().id, info.id, name);
          BpfMap.unpin(path);
          using byId = BpfMap.fromId(info.id);
          assertEquals(byId.type, type);
          c.check?.(m);
          created.push(name);
        } catch (e) {
          throw new Error(`${name}: ${e instanceof Error ? e.message : e}`, { cause: e });
        } finally {
          m.close();
        }
        assertThrows(() => m.info(), ClosedError, undefined, name);
        if (spec.keySize === 4) assertThrows(() => m.lookup(0), ClosedError, undefined, name);
        assertThrows(() => m.fd, ClosedError);
      }
    });
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
  // The kernel has every type its version should (6.18: all of today's uapi); the rest are
  // newer than it.
  const newer = Object.keys(CASES).map((t) => Number(t) as MapType)
    .filter((t) => !kernelAtLeast(MAP_TYPE_MIN_KERNEL[t])).map(mapTypeName);
  assertEquals(skipped, newer, `skipped: ${skipped.join(", ")}`);
  assertEquals(created.length + skipped.length, Object.keys(CASES).length);
});
