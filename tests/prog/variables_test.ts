// Global variables after load: `coll.variables` reads and writes them in place in the
// mmap()ed data sections (BPF_F_MMAPABLE, decided at load), with no bpf() call per access,
// typed by BTF; .rodata is mapped read-only and refuses writes; a section that cannot be
// mapped falls back to lookup/update; close() unmaps. testdata/compat_globals.c writes its
// globals the way libbpf-bootstrap's minimal.c and bootstrap.c do.
import { assert, assertEquals, assertNotEquals, assertThrows } from "@std/assert";
import { type Attr, currentBackend, setBackend } from "../../ffi.ts";
import { BpfCmd } from "../../_internal/bpf_cmd.ts";
import { ClosedError, Errno } from "../../errors.ts";
import { loadCollectionSpec, parseCollectionSpec } from "../../elf/mod.ts";
import { BpfMap } from "../../map/mod.ts";
import { type Collection, newCollection, Variable } from "../../prog/mod.ts";
import { ensureBpffs, kernelTest, run, testdata } from "../_harness.ts";

const BPF_F_RDONLY_PROG = 1 << 7;
const BPF_F_MMAPABLE = 1 << 10;

/** How many bpf() calls `fn` makes, counted by a backend that forwards to the real one. */
function bpfCallsDuring(fn: () => void): number {
  const real = currentBackend();
  let calls = 0;
  const restore = setBackend({
    bpf(cmd: number, attr: Attr): number {
      calls++;
      return real.bpf(cmd, attr);
    },
    address: (buffer) => real.address(buffer),
  });
  try {
    fn();
  } finally {
    restore();
  }
  return calls;
}

/** Runs the syscall program with `struct event { int pid; u32 pad; u64 duration_ns; }`. */
function event(coll: Collection, pid: number, durationNs: bigint): number {
  const ctx = new Uint8Array(16);
  const view = new DataView(ctx.buffer);
  view.setInt32(0, pid, true);
  view.setBigUint64(8, durationNs, true);
  return coll.programs.handle_event.run({ context: ctx }).retval;
}

/** The permissions of this process's mappings of BPF maps, as /proc/self/maps lists them. */
function bpfMappings(): string[] {
  return Deno.readTextFileSync("/proc/self/maps").split("\n")
    .filter((l) => l.includes("bpf-map")).map((l) => l.split(" ")[1]).sort();
}

/** The flags libbpf gives compat_globals' data sections, by section name. */
function libbpfDataFlags(): Record<string, number> {
  const dir = Deno.makeTempDirSync({ dir: ensureBpffs(), prefix: "ebpf_globals_" });
  try {
    run("bpftool", ["prog", "loadall", testdata("compat_globals-el.o"), dir]);
    const prog = JSON.parse(
      run("bpftool", ["-j", "prog", "show", "pinned", `${dir}/handle_event`]),
    );
    const flags: Record<string, number> = {};
    for (const id of prog.map_ids as number[]) {
      const map = JSON.parse(run("bpftool", ["-j", "map", "show", "id", String(id)]));
      // libbpf names them "<object prefix>.bss".
      flags[map.name.slice(map.name.indexOf("."))] = map.flags;
    }
    return flags;
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

kernelTest(
  "variables: data sections are created BPF_F_MMAPABLE; the spec keeps the ELF's flags",
  async () => {
    const spec = await loadCollectionSpec(testdata("compat_globals-el.o"));
    using coll = newCollection(spec);
    for (const name of [".bss", ".data", ".rodata"]) {
      const info = coll.maps[name].info();
      assertEquals(info.flags & BPF_F_MMAPABLE, BPF_F_MMAPABLE, `${name} flags ${info.flags}`);
      assertEquals(spec.maps[name].flags & BPF_F_MMAPABLE, 0, `spec of ${name}`);
    }
    assertEquals(coll.maps[".rodata"].info().flags, BPF_F_RDONLY_PROG | BPF_F_MMAPABLE);
    // libbpf (bpftool prog loadall) creates the same flags.
    assertEquals(libbpfDataFlags(), {
      ".bss": coll.maps[".bss"].info().flags,
      ".data": coll.maps[".data"].info().flags,
      ".rodata": coll.maps[".rodata"].info().flags,
    });
    assertEquals(Object.keys(coll.variables).sort(), [
      "events_counted",
      "events_seen",
      "last_pid",
      "min_duration_ns",
      "my_pid",
      "settings",
    ]);
    for (const v of Object.values(coll.variables)) {
      assert(v instanceof Variable);
      assert(v.mapped, `${v.name} is mapped`);
    }
  },
);

kernelTest(
  "variables: a counter the program increments and settings it reads, no bpf() per access",
  async () => {
    const spec = await loadCollectionSpec(testdata("compat_globals-el.o"));
    spec.variables.min_duration_ns.set(100n); // bootstrap.c's way: before load
    using coll = newCollection(spec);
    const v = coll.variables;
    // Typed by BTF: int → number, unsigned long long → bigint, short → negative numbers,
    // a struct → an object with its char array as a string.
    assertEquals(v.my_pid.get(), 0);
    assertEquals(v.events_seen.get(), 0n);
    assertEquals(v.last_pid.get(), -1);
    assertEquals(v.min_duration_ns.get(), 100n);
    assertEquals(v.settings.get(), { scale: 2, bias: 1, tag: "init" });
    assertEquals([v.min_duration_ns.readOnly, v.my_pid.readOnly], [true, false]);

    const tag = "i".charCodeAt(0);
    assertEquals(event(coll, 7, 200n), 7 * 2 + 1 + tag);
    const reads = bpfCallsDuring(() => {
      for (let i = 0; i < 1000; i++) {
        assertEquals(v.events_seen.get(), 1n);
        assertEquals(v.events_counted.get(), 1n);
        assertEquals(v.last_pid.get(), 7);
      }
    });
    assertEquals(reads, 0, "bpf() calls for 3000 reads");

    // minimal.c's pid filter, set after load: the program now skips other pids.
    const writes = bpfCallsDuring(() => {
      v.my_pid.set(42);
      assertEquals(v.my_pid.get(), 42);
    });
    assertEquals(writes, 0, "bpf() calls for a write and a read");
    assertEquals(event(coll, 7, 200n), 0);
    assertEquals([v.events_seen.get(), v.events_counted.get()], [2n, 1n]);
    assertEquals(event(coll, 42, 200n), 42 * 2 + 1 + tag);
    assertEquals(v.events_counted.get(), 2n);

    // A struct in .data, written whole: the program computes with the new fields, and the
    // variable beside it (which the program wrote) is untouched.
    const before = coll.maps[".data"].lookupBytes(0)!;
    assertEquals(bpfCallsDuring(() => v.settings.set({ scale: 3, bias: 0, tag: "x" })), 0);
    const after = coll.maps[".data"].lookupBytes(0)!;
    assertEquals(after.subarray(0, 4), before.subarray(0, 4), "last_pid and padding kept");
    assertNotEquals(after.subarray(4), before.subarray(4));
    assertEquals(v.last_pid.get(), 42);
    assertEquals(event(coll, 42, 200n), 42 * 3 + "x".charCodeAt(0));

    // Raw bytes work for any variable, in host order.
    v.my_pid.set(new Uint8Array([9, 0, 0, 0]));
    assertEquals(v.my_pid.get(), 9);
    assertEquals(v.events_seen.bytes(), new Uint8Array([4, 0, 0, 0, 0, 0, 0, 0]));

    // bootstrap.c's const volatile: the program keeps to the value set before load.
    assertEquals(event(coll, 9, 99n), 0);
    assertEquals(event(coll, 9, 100n), 9 * 3 + "x".charCodeAt(0));
  },
);

kernelTest(
  "variables: .rodata is mapped read-only and refuses writes; bad values write nothing",
  async () => {
    const before = bpfMappings();
    const spec = await loadCollectionSpec(testdata("compat_globals-el.o"));
    const coll = newCollection(spec);
    try {
      const v = coll.variables;
      assert(v.min_duration_ns.mapped && v.my_pid.mapped && v.settings.mapped);
      // One read-only shared mapping (.rodata), two writable ones (.bss, .data).
      assertEquals(bpfMappings(), [...before, "r--s", "rw-s", "rw-s"].sort());

      const e = assertThrows(() => v.min_duration_ns.set(5n), TypeError);
      assert(e.message.includes("'.rodata' is read-only after load"), e.message);
      assertEquals(v.min_duration_ns.get(), 0n);
      // The kernel agrees: the map is frozen.
      assertThrows(() => coll.maps[".rodata"].update(0, new Uint8Array(8)));

      v.my_pid.set(3);
      assertThrows(() => v.my_pid.set(2 ** 40), RangeError);
      assertThrows(() => v.my_pid.set("x" as unknown as number), TypeError);
      assertThrows(() => v.settings.set({ scale: 1 }), TypeError);
      assertThrows(() => v.settings.set(new Uint8Array(3)), RangeError);
      assertEquals(v.my_pid.get(), 3);
      assertEquals(v.settings.get(), { scale: 2, bias: 1, tag: "init" });
    } finally {
      coll.close();
    }
    // close() unmapped everything, and variables then throw.
    assertEquals(bpfMappings(), before);
    assertThrows(() => coll.variables.my_pid.get(), ClosedError);
    assertThrows(() => coll.variables.my_pid.set(1), ClosedError);
    assertThrows(() => coll.variables.min_duration_ns.get(), ClosedError);
    coll.close();
  },
);

kernelTest(
  "variables: a section that cannot be mmapped is read and written with syscalls",
  async () => {
    const spec = await loadCollectionSpec(testdata("compat_globals-el.o"));
    // A replacement created as the ELF says, without BPF_F_MMAPABLE.
    using bss = BpfMap.create(spec.maps[".bss"]);
    assertEquals(bss.flags & BPF_F_MMAPABLE, 0);
    using coll = newCollection(spec, { mapReplacements: { ".bss": bss } });
    const v = coll.variables;
    assertEquals([v.my_pid.mapped, v.settings.mapped], [false, true]);
    event(coll, 5, 0n);
    assert(bpfCallsDuring(() => assertEquals(v.events_seen.get(), 1n)) > 0);
    // Read-modify-write of the whole value: the counters beside my_pid survive.
    v.my_pid.set(5);
    assertEquals([v.my_pid.get(), v.events_seen.get(), v.events_counted.get()], [5, 1n, 1n]);
    assertEquals(event(coll, 6, 0n), 0);
    assertEquals(v.events_seen.get(), 2n);
    assertEquals(bss.lookupBytes(0)!.subarray(0, 4), new Uint8Array([5, 0, 0, 0]));
  },
);

kernelTest(
  "variables: a kernel without mmapable arrays gets the ELF's maps, and variables over syscalls",
  async () => {
    const spec = await loadCollectionSpec(testdata("compat_globals-el.o"));
    const real = currentBackend();
    let refused = 0;
    // A kernel older than 5.5: BPF_F_MMAPABLE is an unknown flag (EINVAL).
    const restore = setBackend({
      bpf(cmd: number, attr: Attr): number {
        const flags = new DataView(attr.bytes.buffer, attr.bytes.byteOffset).getUint32(16, true);
        if (cmd === BpfCmd.MAP_CREATE && (flags & BPF_F_MMAPABLE) !== 0) {
          refused++;
          return -Errno.EINVAL;
        }
        return real.bpf(cmd, attr);
      },
      address: (buffer) => real.address(buffer),
    });
    try {
      for (let i = 0; i < 2; i++) {
        using coll = newCollection(spec);
        assertEquals(coll.maps[".bss"].info().flags & BPF_F_MMAPABLE, 0);
        const v = coll.variables;
        assertEquals([v.my_pid.mapped, v.settings.mapped, v.min_duration_ns.mapped], [
          false,
          false,
          false,
        ]);
        v.my_pid.set(8);
        assertEquals(event(coll, 8, 0n), 8 * 2 + 1 + "i".charCodeAt(0));
        assertEquals([v.events_counted.get(), v.last_pid.get()], [1n, 8]);
        assertThrows(() => v.min_duration_ns.set(1n), TypeError, "read-only after load");
      }
    } finally {
      restore();
    }
    assertEquals(refused, 1, "probed once, never asked for again");
  },
);

kernelTest("variables: without BTF, bytes and numbers by size", async () => {
  const spec = await loadCollectionSpec(testdata("compat_globals-nobtf-el.o"));
  using coll = newCollection(spec);
  const v = coll.variables;
  assert(v.events_seen.mapped);
  assertEquals(v.events_seen.type, undefined);
  event(coll, 1, 0n);
  assertEquals(v.events_seen.get(), new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0]));
  v.my_pid.set(2);
  assertEquals(event(coll, 1, 0n), 0);
  v.events_seen.set(2n ** 40n);
  assertEquals(v.events_seen.bytes(), new Uint8Array([0, 0, 0, 0, 0, 1, 0, 0]));
  const e = assertThrows(() => v.settings.set(1), TypeError);
  assert(e.message.includes("without BTF: give bytes"), e.message);
});

Deno.test("variables: the big-endian object parses to the same layout (it is not loaded here)", async () => {
  const little = await loadCollectionSpec(testdata("compat_globals-el.o"));
  const big = parseCollectionSpec(Deno.readFileSync(testdata("compat_globals-eb.o")));
  const layout = (s: typeof little) =>
    Object.values(s.variables).map((v) => [v.name, v.mapName, v.offset, v.size, v.constant]);
  assertEquals(layout(big), layout(little));
  assertEquals(big.byteOrder, "big");
  // Values set before load are written in the object's byte order.
  big.variables.min_duration_ns.set(1n);
  assertEquals(big.variables.min_duration_ns.get(), new Uint8Array([0, 0, 0, 0, 0, 0, 0, 1]));
});
