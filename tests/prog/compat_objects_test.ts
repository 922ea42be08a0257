// The compat_ testdata objects: maps declared in the idioms of public collections (bcc
// libbpf-tools' perf arrays, cilium's typed ring buffer, the kernel's arena selftests with
// __ulong) load through newCollection, and their programs' output reads back.
import { assert, assertEquals, assertThrows } from "@std/assert";
import { FormatError, NotSupportedError, SyscallError } from "../../errors.ts";
import { loadCollectionSpec, parseCollectionSpec } from "../../elf/mod.ts";
import {
  BpfMap,
  codecFor,
  decodeValue,
  MapSpec,
  MapType,
  PerfReader,
  type PerfRecord,
  PinType,
  requireMapType,
  RingReader,
} from "../../map/mod.ts";
import { newCollection } from "../../prog/mod.ts";
import { possibleCpus } from "../../ffi.ts";
import { assertNoFdLeak, ensureBpffs, kernelTest, testdata } from "../_harness.ts";

/** Why this kernel has no arena maps (Linux 6.9), from the library's own probe; or undefined. */
function arenaMissing(): string | undefined {
  try {
    requireMapType(MapType.Arena);
    return undefined;
  } catch (e) {
    if (e instanceof NotSupportedError) return e.message;
    throw e;
  }
}

const BPF_F_MMAPABLE = 1 << 10;
/** Where compat_arena.c maps its arena: 1 TiB + 4 GiB. */
const ARENA_ADDRESS = (1n << 40n) | (1n << 32n);
/** A socket filter's skb->len in a test run: the data minus the Ethernet header. */
const ETH = 14;

const spec = (name: string, order = "el") => loadCollectionSpec(testdata(`${name}-${order}.o`));

Deno.test("compat objects: specs keep what the ELF says, in both byte orders", async () => {
  for (const order of ["el", "eb"]) {
    const perf = await spec("compat_perf_array", order);
    const m = perf.maps.events;
    assertEquals([m.type, m.keySize, m.valueSize, m.maxEntries], [MapType.PerfEventArray, 4, 4, 0]);
    const nosize = await spec("compat_perf_array_nosize", order);
    const bare = nosize.maps.bare_events;
    assertEquals([bare.keySize, bare.valueSize, bare.maxEntries], [0, 0, 0]);
    const typed = nosize.maps.typed_events;
    assertEquals([typed.keySize, typed.valueSize, String(typed.value)], [4, 16, "struct event"]);
    const ring = await spec("compat_ringbuf_type", order);
    const events = ring.maps.events;
    assertEquals(
      [events.type, events.keySize, events.valueSize, events.maxEntries, String(events.value)],
      [MapType.RingBuf, 0, 32, 1 << 24, "struct event"],
    );
    assertEquals(ring.maps.odd_size.maxEntries, 10000);
    const arena = (await spec("compat_arena", order)).maps.arena;
    assertEquals(
      [arena.type, arena.keySize, arena.valueSize, arena.maxEntries, arena.flags, arena.mapExtra],
      [MapType.Arena, 0, 0, 2, BPF_F_MMAPABLE, ARENA_ADDRESS],
    );
  }
});

Deno.test("compat objects: __ulong() reads like __uint() in every field", async () => {
  for (const order of ["el", "eb"]) {
    const maps = (await spec("compat_ulong_fields", order)).maps;
    const fields = (m: MapSpec) => ({ ...m, name: "" });
    assertEquals(fields(maps.by_ulong), fields(maps.by_uint), order);
    assertEquals(
      [maps.by_ulong.type, maps.by_ulong.maxEntries, maps.by_ulong.valueSize, maps.by_ulong.flags],
      [MapType.Hash, 64, 12, 1],
    );
    assertEquals(maps.bloom.mapExtra, 5n);
  }
});

Deno.test("compat objects: a __ulong() past 32 bits in a 32-bit field is a FormatError", async () => {
  // compat_arena's map_extra (an enum64) renamed to numa_node, a 32-bit field.
  const bytes = await Deno.readFile(testdata("compat_arena-el.o"));
  const [from, to] = ["\0map_extra\0", "\0numa_node\0"].map((t) => new TextEncoder().encode(t));
  let renamed = 0;
  for (let i = 0; i + from.length <= bytes.length; i++) {
    if (from.every((b, j) => bytes[i + j] === b)) {
      bytes.set(to, i); // in .BTF's strings, and in DWARF's, which nobody reads here
      renamed++;
    }
  }
  assert(renamed > 0);
  assertThrows(
    () => parseCollectionSpec(bytes),
    FormatError,
    'field "numa_node" of map "arena" is 1103806595072, more than 32 bits hold',
  );
});

/** The `struct event` of compat_perf_array.c: len, marker, seq. */
function perfEvent(r: PerfRecord): [number, number, bigint] {
  const v = new DataView(r.data.buffer, r.data.byteOffset, r.data.byteLength);
  return [v.getUint32(0, true), v.getUint32(4, true), v.getBigUint64(8, true)];
}

kernelTest("compat objects: a libbpf-tools perf array fills one ring per CPU", async () => {
  await assertNoFdLeak(async () => {
    using coll = newCollection(await spec("compat_perf_array"));
    const events = coll.maps.events;
    const info = events.info();
    assertEquals([info.keySize, info.valueSize, info.maxEntries], [4, 4, possibleCpus()]);
    assertEquals(events.maxEntries, possibleCpus());
    using reader = new PerfReader(events);
    const n = 50;
    for (let i = 0; i < n; i++) {
      coll.programs.emit_event.run({ data: new Uint8Array(ETH + i) });
    }
    const got: [number, number, bigint][] = [];
    assertEquals(reader.drain((r) => got.push(perfEvent(r))), n);
    got.sort((a, b) => Number(a[2] - b[2]));
    assertEquals(got, Array.from({ length: n }, (_, i) => [i, 0xc0ffee, BigInt(i)]));
    assertEquals(reader.lost, 0);
  });
});

kernelTest("compat objects: perf arrays without sizes, or typed by their event", async () => {
  const s = await spec("compat_perf_array_nosize");
  using coll = newCollection(s);
  for (const name of ["bare_events", "typed_events"]) {
    const info = coll.maps[name].info();
    assertEquals(
      [info.keySize, info.valueSize, info.maxEntries, info.btfKeyTypeId, info.btfValueTypeId],
      [4, 4, possibleCpus(), 0, 0],
      name,
    );
  }
  // The spec keeps the event type: records decode with it.
  const codec = codecFor(s.maps.typed_events.value);
  const read = (map: BpfMap, prog: string, len: number) => {
    using reader = new PerfReader(map);
    coll.programs[prog].run({ data: new Uint8Array(ETH + len) });
    const records: unknown[] = [];
    reader.drain((r) => records.push(decodeValue(codec, r.data)));
    return records;
  };
  assertEquals(read(coll.maps.bare_events, "emit_bare", 7), [{
    len: 7,
    marker: 0xba4e,
    stamp: 0n,
  }]);
  assertEquals(read(coll.maps.typed_events, "emit_typed", 9), [{
    len: 9,
    marker: 0x7e7,
    stamp: 0n,
  }]);
});

kernelTest("compat objects: a pinned perf array of 0 entries is reused as created", async () => {
  const dir = `${ensureBpffs()}/ebpf_compat_${Deno.pid}`;
  Deno.mkdirSync(dir);
  try {
    const s = await spec("compat_perf_array");
    s.maps.events.pinning = PinType.ByName;
    using first = newCollection(s, { pinPath: dir });
    // The spec still says 0 entries; the pin has one per CPU, which is what the spec makes.
    using second = newCollection(s, { pinPath: dir });
    assertEquals(second.maps.events.info().id, first.maps.events.info().id);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

kernelTest("compat objects: maps declared with __ulong() are created as declared", async () => {
  using coll = newCollection(await spec("compat_ulong_fields"));
  const a = coll.maps.by_ulong.info();
  const b = coll.maps.by_uint.info();
  assertEquals({ ...a, id: 0, name: "", btfId: 0 }, { ...b, id: 0, name: "", btfId: 0 });
  assertEquals([a.maxEntries, a.valueSize, a.flags], [64, 12, 1]);
  assertEquals(coll.maps.bloom.info().mapExtra, 5n);
});

kernelTest(
  "compat objects: a ring buffer typed by its record decodes with the spec's type",
  async () => {
    const s = await spec("compat_ringbuf_type");
    using coll = newCollection(s);
    const info = coll.maps.events.info();
    assertEquals(
      [info.keySize, info.valueSize, info.maxEntries, info.btfKeyTypeId, info.btfValueTypeId],
      [0, 0, 1 << 24, 0, 0],
    );
    assertEquals(coll.maps.odd_size.info().maxEntries, 16384, "10000 bytes: 4 pages");
    using reader = new RingReader(coll.maps.events);
    for (const len of [3, 60]) coll.programs.submit_event.run({ data: new Uint8Array(ETH + len) });
    const codec = codecFor(s.maps.events.value);
    const records: Record<string, unknown>[] = [];
    reader.drain((r) => records.push(decodeValue(codec, r) as Record<string, unknown>));
    // A u8 array holding text decodes as a string.
    const comm = "compat_ringbuf";
    assertEquals(records, [
      { pid: 42, comm, len: 3n },
      { pid: 42, comm, len: 60n },
    ]);
  },
);

kernelTest("compat objects: an arena at its __ulong address, shared with a program", async () => {
  await assertNoFdLeak(async () => {
    using coll = newCollection(await spec("compat_arena"));
    const arena = coll.maps.arena;
    const info = arena.info();
    assertEquals([info.type, info.flags, info.mapExtra], [
      MapType.Arena,
      BPF_F_MMAPABLE,
      ARENA_ADDRESS,
    ]);
    // The kernel's own text about the fd says the same (bpftool 7.1 does not show map_extra).
    const fdinfo = Deno.readTextFileSync(`/proc/self/fdinfo/${arena.fd}`);
    assertEquals(
      /^map_extra:\s*(0x[0-9a-f]+)$/m.exec(fdinfo)?.[1],
      `0x${ARENA_ADDRESS.toString(16)}`,
    );

    const memory = arena.mmap();
    assertEquals(memory.length, 2 * 4096);
    assertEquals(arena.mappedAddress, ARENA_ADDRESS);
    const view = new DataView(memory.buffer, memory.byteOffset, memory.byteLength);
    view.setBigUint64(4096 + 8, 1000n, true);

    const args = new DataView(new ArrayBuffer(24));
    args.setBigUint64(0, ARENA_ADDRESS + 4096n + 8n, true);
    args.setBigUint64(8, 5n, true);
    const out = coll.programs.arena_add.run({ context: new Uint8Array(args.buffer) });
    assertEquals(out.retval, 0);
    const seen = new DataView(out.context!.buffer).getBigUint64(16, true);
    assertEquals(seen, 1000n, "the program read what user space wrote");
    assertEquals(view.getBigUint64(4096 + 8, true), 1005n, "user space sees the program's write");

    // A second arena wanting the same address does not replace the first one's pages.
    using again = newCollection(await spec("compat_arena"));
    const e = assertThrows(() => again.maps.arena.mmap(), SyscallError);
    assertEquals(e.code, "EEXIST");
    assertEquals(view.getBigUint64(4096 + 8, true), 1005n);
  });
}, { skipIf: arenaMissing });

kernelTest("compat objects: a hand-made arena spec without flags or address maps too", () => {
  // What a user writes by hand: no BPF_F_MMAPABLE (the fix-up adds it), no address.
  using arena = BpfMap.create(new MapSpec({ name: "arena", type: MapType.Arena, maxEntries: 3 }));
  assertEquals([arena.flags, arena.info().flags], [BPF_F_MMAPABLE, BPF_F_MMAPABLE]);
  const memory = arena.mmap();
  assertEquals(memory.length, 3 * 4096);
  assert(arena.mappedAddress! > 0n);
  memory[3 * 4096 - 1] = 7;
  assertEquals(arena.mmap()[3 * 4096 - 1], 7, "the same mapping on each call");
  arena.close();
  assertEquals(memory.length, 0, "closing unmaps (the view is detached)");
}, { skipIf: arenaMissing });
