// Map definition fix-ups (map/_create_fixups.ts): each map type declared the sloppy ways BPF
// C writes it, fixed up as libbpf and cilium/ebpf fix it at load. The same cases run twice:
// pure, against made-up host facts, and against the kernel, which must create each map with
// exactly the fixed-up attributes.
import { assert, assertEquals, assertThrows } from "@std/assert";
import {
  BpfMap,
  btf,
  haveMapType,
  MapSpec,
  type MapSpecInit,
  MapType,
  mapTypeName,
} from "../../mod.ts";
import { fixupMapSpec, type HostFacts, ringSize, takesBtf } from "../../map/_create_fixups.ts";
import { BtfHandle } from "../../btf/handle.ts";
import { Attr, bpfErrno, closeFd, pageSize, possibleCpus } from "../../ffi.ts";
import { BpfCmd } from "../../_internal/bpf_cmd.ts";
import { Errno } from "../../errors.ts";
import { assertNoFdLeak, kernelTest } from "../_harness.ts";
import { u32, u64 } from "./_types.ts";

const BPF_F_NO_PREALLOC = 1;
const BPF_F_MMAPABLE = 1 << 10;
const PAGE = 4096;

const int = new btf.Int("int", 4, btf.IntEncoding.Signed);
/** The record struct of a perf or ring buffer: 16 bytes, what `__type(value, ...)` names. */
const event = new btf.Struct("event", 16, [
  new btf.Member("len", u32, 0),
  new btf.Member("marker", u32, 32),
  new btf.Member("stamp", u64, 64),
]);
/** `struct bpf_devmap_val` / `struct bpf_cpumap_val`: a u32 and a program fd. */
const fdPair = (name: string) =>
  new btf.Struct(name, 8, [new btf.Member("a", u32, 0), new btf.Member("fd", int, 32)]);
const counter = new btf.Struct("counter", 8, [new btf.Member("n", u64, 0)]);
const innerArray = () =>
  new MapSpec({ type: MapType.Array, keySize: 4, valueSize: 4, maxEntries: 1 });

/** What the kernel must get; "cpus" is the number of possible CPUs. */
interface Want {
  keySize: number;
  valueSize: number;
  maxEntries: number | "cpus";
  flags: number;
  btfKey: boolean;
  btfValue: boolean;
}

interface Case {
  /** Which idiom the spec mirrors. */
  label: string;
  type: MapType;
  init: Omit<MapSpecInit, "type">;
  want: Want;
}

const none = { btfKey: false, btfValue: false };
const both = { btfKey: true, btfValue: true };

/** One spec or more per map type (struct_ops has a path of its own), as C declares them. */
const CASES: Case[] = [
  {
    label: "hash with types: nothing to fix",
    type: MapType.Hash,
    init: { keySize: 4, valueSize: 8, maxEntries: 16, key: u32, value: u64 },
    want: { keySize: 4, valueSize: 8, maxEntries: 16, flags: 0, ...both },
  },
  ...[MapType.PerCPUHash, MapType.PerCPUArray, MapType.LRUHash, MapType.LRUCPUHash].map((
    type,
  ): Case => ({
    label: "sized by numbers: nothing to fix",
    type,
    init: { keySize: 4, valueSize: 8, maxEntries: 4 },
    want: { keySize: 4, valueSize: 8, maxEntries: 4, flags: 0, ...none },
  })),
  {
    label: "array sized by numbers: nothing to fix",
    type: MapType.Array,
    init: { keySize: 4, valueSize: 8, maxEntries: 4 },
    want: { keySize: 4, valueSize: 8, maxEntries: 4, flags: 0, btfKey: false, btfValue: false },
  },
  {
    label: "prog array with __array(values) and no key_size",
    type: MapType.ProgramArray,
    init: { valueSize: 4, maxEntries: 4 },
    want: { keySize: 4, valueSize: 4, maxEntries: 4, flags: 0, ...none },
  },
  {
    label: "prog array with __type(key, u32); __type(value, u32)",
    type: MapType.ProgramArray,
    init: { keySize: 4, valueSize: 4, maxEntries: 4, key: u32, value: u32 },
    want: { keySize: 4, valueSize: 4, maxEntries: 4, flags: 0, ...both },
  },
  {
    label: "perf event array, bcc libbpf-tools: key_size and value_size sizeof(u32)",
    type: MapType.PerfEventArray,
    init: { keySize: 4, valueSize: 4 },
    want: { keySize: 4, valueSize: 4, maxEntries: "cpus", flags: 0, ...none },
  },
  {
    label: "perf event array with the type only",
    type: MapType.PerfEventArray,
    init: {},
    want: { keySize: 4, valueSize: 4, maxEntries: "cpus", flags: 0, ...none },
  },
  {
    label: "perf event array typed __type(key, int); __type(value, struct event)",
    type: MapType.PerfEventArray,
    init: { keySize: 4, valueSize: 16, key: int, value: event, maxEntries: 1 },
    want: { keySize: 4, valueSize: 4, maxEntries: 1, flags: 0, ...none },
  },
  {
    label: "perf event array by hand: sizes of 4, and the event type beside them",
    type: MapType.PerfEventArray,
    init: { keySize: 4, valueSize: 4, value: event, maxEntries: 1 },
    want: { keySize: 4, valueSize: 4, maxEntries: 1, flags: 0, ...none },
  },
  {
    label: "stack trace, bcc profile: value_size of the stack depth and no key_size",
    type: MapType.StackTrace,
    init: { valueSize: 8 * 127, maxEntries: 16 },
    want: { keySize: 4, valueSize: 8 * 127, maxEntries: 16, flags: 0, ...none },
  },
  {
    label: "cgroup array with the type and max_entries only",
    type: MapType.CgroupArray,
    init: { maxEntries: 1 },
    want: { keySize: 4, valueSize: 4, maxEntries: 1, flags: 0, ...none },
  },
  {
    label: "LPM trie without BPF_F_NO_PREALLOC",
    type: MapType.LPMTrie,
    init: { keySize: 8, valueSize: 4, maxEntries: 16 },
    want: { keySize: 8, valueSize: 4, maxEntries: 16, flags: BPF_F_NO_PREALLOC, ...none },
  },
  {
    label: "array of maps with __array(values) and no key_size",
    type: MapType.ArrayOfMaps,
    init: { valueSize: 4, maxEntries: 2, innerMap: innerArray() },
    want: { keySize: 4, valueSize: 4, maxEntries: 2, flags: 0, ...none },
  },
  {
    label: "hash of maps with __type(key, u32) and no value size",
    type: MapType.HashOfMaps,
    init: { keySize: 4, key: u32, maxEntries: 2, innerMap: innerArray() },
    want: { keySize: 4, valueSize: 4, maxEntries: 2, flags: 0, ...none },
  },
  {
    label: "devmap with the type and max_entries only",
    type: MapType.DevMap,
    init: { maxEntries: 4 },
    want: { keySize: 4, valueSize: 4, maxEntries: 4, flags: 0, ...none },
  },
  {
    label: "sockmap with __type(key, u32); __type(value, u64)",
    type: MapType.SockMap,
    init: { keySize: 4, valueSize: 8, key: u32, value: u64, maxEntries: 4 },
    want: { keySize: 4, valueSize: 8, maxEntries: 4, flags: 0, ...none },
  },
  {
    label: "cpumap with __type(value, struct bpf_cpumap_val) and no max_entries",
    type: MapType.CPUMap,
    init: { keySize: 4, valueSize: 8, key: u32, value: fdPair("bpf_cpumap_val") },
    want: { keySize: 4, valueSize: 8, maxEntries: "cpus", flags: 0, ...none },
  },
  {
    label: "xskmap with __type(key, int); __type(value, int)",
    type: MapType.XSKMap,
    init: { keySize: 4, valueSize: 4, key: int, value: int, maxEntries: 4 },
    want: { keySize: 4, valueSize: 4, maxEntries: 4, flags: 0, ...none },
  },
  {
    label: "sockhash with a key size and no value size",
    type: MapType.SockHash,
    init: { keySize: 4, maxEntries: 4 },
    want: { keySize: 4, valueSize: 4, maxEntries: 4, flags: 0, ...none },
  },
  {
    label: "cgroup storage keyed by __type(key, u64), no max_entries",
    type: MapType.CgroupStorage,
    init: { keySize: 8, key: u64, valueSize: 8, value: u64 },
    want: { keySize: 8, valueSize: 8, maxEntries: 0, flags: 0, ...both },
  },
  {
    label: "reuseport sockarray with __type(key, u32); __type(value, u64)",
    type: MapType.ReusePortSockArray,
    init: { keySize: 4, key: u32, valueSize: 8, value: u64, maxEntries: 4 },
    want: { keySize: 4, valueSize: 8, maxEntries: 4, flags: 0, ...both },
  },
  {
    label: "per-CPU cgroup storage keyed by the cgroup id (u64)",
    type: MapType.PerCPUCgroupStorage,
    init: { keySize: 8, valueSize: 8 },
    want: { keySize: 8, valueSize: 8, maxEntries: 0, flags: 0, ...none },
  },
  {
    label: "queue with __type(key, u32) copied from a hash",
    type: MapType.Queue,
    init: { keySize: 4, key: u32, valueSize: 4, value: u32, maxEntries: 8 },
    want: { keySize: 0, valueSize: 4, maxEntries: 8, flags: 0, ...none },
  },
  {
    label: "stack with __type(value, u64)",
    type: MapType.Stack,
    init: { valueSize: 8, value: u64, maxEntries: 8 },
    want: { keySize: 0, valueSize: 8, maxEntries: 8, flags: 0, ...none },
  },
  ...[MapType.SkStorage, MapType.InodeStorage, MapType.TaskStorage, MapType.CgroupStorageNew]
    .map((type): Case => ({
      label: "local storage without BPF_F_NO_PREALLOC",
      type,
      init: { keySize: 4, valueSize: 8, key: int, value: counter },
      want: { keySize: 4, valueSize: 8, maxEntries: 0, flags: BPF_F_NO_PREALLOC, ...both },
    })),
  {
    label: "devmap hash with __type(value, struct bpf_devmap_val)",
    type: MapType.DevMapHash,
    init: { keySize: 4, valueSize: 8, key: u32, value: fdPair("bpf_devmap_val"), maxEntries: 4 },
    want: { keySize: 4, valueSize: 8, maxEntries: 4, flags: 0, ...none },
  },
  {
    label: "ring buffer, cilium examples/ringbuffer: __type(value, struct event)",
    type: MapType.RingBuf,
    init: { valueSize: 16, value: event, maxEntries: 1 << 16 },
    want: { keySize: 0, valueSize: 0, maxEntries: 1 << 16, flags: 0, ...none },
  },
  {
    label: "ring buffer of 10000 bytes: rounded up to 4 pages",
    type: MapType.RingBuf,
    init: { maxEntries: 10000 },
    want: { keySize: 0, valueSize: 0, maxEntries: 4 * PAGE, flags: 0, ...none },
  },
  {
    label: "bloom filter with __type(value, u32) and a key copied from a hash",
    type: MapType.BloomFilter,
    init: { keySize: 4, key: u32, valueSize: 4, value: u32, maxEntries: 64, mapExtra: 3n },
    want: { keySize: 0, valueSize: 4, maxEntries: 64, flags: 0, btfKey: false, btfValue: true },
  },
  {
    label: "user ring buffer of 5000 bytes: rounded up to 2 pages",
    type: MapType.UserRingbuf,
    init: { maxEntries: 5000 },
    want: { keySize: 0, valueSize: 0, maxEntries: 2 * PAGE, flags: 0, ...none },
  },
  {
    label: "arena without BPF_F_MMAPABLE, at an address",
    type: MapType.Arena,
    init: { maxEntries: 2, mapExtra: (1n << 40n) | (1n << 32n) },
    want: { keySize: 0, valueSize: 0, maxEntries: 2, flags: BPF_F_MMAPABLE, ...none },
  },
];

const specOf = (c: Case) => new MapSpec({ name: "fixup", type: c.type, ...c.init });

Deno.test("map fix-ups: every map type declared the sloppy way is fixed as the kernel needs", () => {
  const host: HostFacts = { possibleCpus: () => 3, pageSize: () => PAGE };
  const covered = new Set(CASES.map((c) => c.type));
  for (const type of Object.values(MapType)) {
    if (type === MapType.Unspecified || type === MapType.StructOpsMap) continue;
    assert(covered.has(type), `no case for map type ${type}`);
  }
  for (const c of CASES) {
    const spec = specOf(c);
    const before = spec.copy();
    const fixed = fixupMapSpec(spec, host);
    const f = fixed.fields;
    assertEquals(
      {
        keySize: f.keySize,
        valueSize: f.valueSize,
        maxEntries: f.maxEntries,
        flags: f.flags,
        btfKey: fixed.btfKey,
        btfValue: fixed.btfValue,
      },
      { ...c.want, maxEntries: c.want.maxEntries === "cpus" ? 3 : c.want.maxEntries },
      c.label,
    );
    assertEquals([f.type, f.name, f.mapExtra], [c.type, "fixup", spec.mapExtra], c.label);
    // Types are kept only where they still describe the slot: of its size, and not 0.
    const describes = (t: unknown, size: number) =>
      t !== undefined && size > 0 && btf.sizeof(t as btf.Type) === size ? t : undefined;
    assertEquals(fixed.key, describes(spec.key, f.keySize), c.label);
    assertEquals(fixed.value, describes(spec.value, f.valueSize), c.label);
    // The spec itself is left as the ELF said.
    assertEquals({ ...spec, innerMap: undefined }, { ...before, innerMap: undefined }, c.label);
  }
});

Deno.test("map fix-ups: host facts are asked only when a rule needs them", () => {
  const host: HostFacts = {
    possibleCpus: () => {
      throw new Error("asked for CPUs");
    },
    pageSize: () => {
      throw new Error("asked for the page size");
    },
  };
  const hash = new MapSpec({ type: MapType.Hash, keySize: 4, valueSize: 4, maxEntries: 1 });
  assertEquals(fixupMapSpec(hash, host).fields.maxEntries, 1);
  const sized = new MapSpec({ type: MapType.PerfEventArray, maxEntries: 2 });
  assertEquals(fixupMapSpec(sized, host).fields.maxEntries, 2, "a given size is kept");
});

Deno.test("map fix-ups: what cannot be fixed is a RangeError saying what the type accepts", () => {
  const host: HostFacts = { possibleCpus: () => 2, pageSize: () => PAGE };
  const fails = (init: MapSpecInit, message: string) =>
    assertThrows(
      () => fixupMapSpec(new MapSpec({ name: "m", ...init }), host),
      RangeError,
      message,
    );
  fails(
    { type: MapType.PerfEventArray, keySize: 4, valueSize: 8 },
    'Map "m" (BPF_MAP_TYPE_PERF_EVENT_ARRAY): the value size must be 4 (or 0, to have it filled in), got 8',
  );
  // A size given by number is the user's word, even with a type beside it of another size.
  fails(
    { type: MapType.PerfEventArray, keySize: 4, valueSize: 8, value: event },
    "the value size must be 4",
  );
  fails({ type: MapType.DevMap, keySize: 4, valueSize: 12 }, "the value size must be 4 or 8");
  fails({ type: MapType.Queue, keySize: 4, valueSize: 4 }, "the key size must be 0, got 4");
  fails({ type: MapType.RingBuf }, "needs max_entries: the ring's size in bytes");
  fails(
    { type: MapType.TaskStorage, keySize: 4, valueSize: 8, maxEntries: 1024 },
    "max_entries must be 0 (the kernel sizes storage maps itself), got 1024",
  );
  fails({ type: MapType.Arena }, "needs max_entries: its size in pages");
  fails(
    { type: MapType.Arena, maxEntries: 1, mapExtra: 0x1000_0800n },
    "map_extra 0x10000800 is not page-aligned (4096 bytes)",
  );
  fails(
    { type: MapType.Arena, maxEntries: 2, mapExtra: 0xffff_f000n },
    "2 pages at 0xfffff000 cross a 4 GiB boundary",
  );
});

Deno.test("map fix-ups: ring sizes round up to a power-of-2 number of pages", () => {
  assertEquals(ringSize(4096, 4096), 4096);
  assertEquals(ringSize(1 << 24, 4096), 1 << 24);
  assertEquals(ringSize(1, 4096), 4096);
  assertEquals(ringSize(4097, 4096), 8192);
  assertEquals(ringSize(3 * 4096, 4096), 4 * 4096);
  assertEquals(ringSize(3 * 65536, 65536), 4 * 65536, "64 KiB pages");
  assertEquals(ringSize(2 ** 31 + 1, 4096), 2 ** 31 + 1, "no power of 2 fits: left as given");
});

kernelTest(
  "map fix-ups: the kernel creates every sloppy spec with the fixed-up fields",
  async () => {
    const created: string[] = [];
    await assertNoFdLeak(() => {
      // The ring cases' sizes are worked out for 4 KiB pages.
      assertEquals(pageSize(), PAGE);
      for (const c of CASES) {
        if (!haveMapType(c.type)) continue;
        const spec = specOf(c);
        using map = BpfMap.create(spec);
        const info = map.info();
        const maxEntries = c.want.maxEntries === "cpus" ? possibleCpus() : c.want.maxEntries;
        assertEquals(
          {
            keySize: info.keySize,
            valueSize: info.valueSize,
            maxEntries: info.maxEntries,
            // The kernel adds BPF_F_RDONLY_PROG to devmaps' flags itself.
            flags: info.flags & ~(1 << 7),
            btfKey: info.btfKeyTypeId !== 0,
            btfValue: info.btfValueTypeId !== 0,
          },
          { ...c.want, maxEntries },
          c.label,
        );
        // The object reports what the kernel made, not what the spec said.
        assertEquals(
          [map.keySize, map.valueSize, map.maxEntries, map.flags],
          [info.keySize, info.valueSize, info.maxEntries, info.flags & map.flags],
          c.label,
        );
        created.push(c.label);
      }
    });
    assert(created.length >= CASES.length - 2, `created only ${created.length} of ${CASES.length}`);
  },
);

/** BPF_MAP_CREATE with BTF type ids for key and value, bypassing the fix-ups' BTF choice. */
function createWithBtf(spec: MapSpec): number {
  const fields = fixupMapSpec(spec, { possibleCpus, pageSize }).fields;
  const sized = (n: number) =>
    n === 0
      ? new btf.Struct("empty", 0)
      : new btf.Array(new btf.Int("u8", 1), new btf.Int("u32", 4), n);
  const key = sized(fields.keySize);
  const value = sized(fields.valueSize);
  using handle = BtfHandle.load([key, value]);
  using inner = spec.innerMap ? BpfMap.create(spec.innerMap) : undefined;
  const attr = new Attr()
    .u32(0, fields.type).u32(4, fields.keySize).u32(8, fields.valueSize)
    .u32(12, fields.maxEntries).u32(16, fields.flags).u32(20, inner?.fd ?? 0)
    .u32(48, handle.fd).u32(52, fields.keySize ? handle.typeId(key)! : 0)
    .u32(56, handle.typeId(value)!).u64(64, fields.mapExtra);
  const r = bpfErrno(BpfCmd.MAP_CREATE, attr);
  if (r >= 0) closeFd(r);
  return r;
}

kernelTest(
  "map fix-ups: types the table gives no BTF ids are refused with them by the kernel",
  () => {
    // A control: the same construction of key and value types works for a hash map.
    assert(createWithBtf(specOf(CASES[0])) >= 0, "BTF ids for a hash map");
    const refused: string[] = [];
    for (const c of CASES) {
      // Arena maps accept BTF ids; libbpf leaves them out, and so does the table.
      if (takesBtf(c.type) || c.type === MapType.Arena || !haveMapType(c.type)) continue;
      // The kernel's map_check_no_btf says ENOTSUPP; queues, stacks and rings EINVAL.
      const r = createWithBtf(specOf(c));
      assert(r === -Errno.ENOTSUPP || r === -Errno.EINVAL, `${c.label}: ${r}`);
      refused.push(mapTypeName(c.type));
    }
    assertEquals(new Set(refused).size, 15, refused.join(", "));
  },
);
