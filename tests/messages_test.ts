// Messages that say what to do, each tried as a user would: pins outside a bpffs, an array
// index past max_entries, info types printed by name, a name a collection lacks, and keys
// that would be stored as another key.
import { assert, assertEquals, assertStringIncludes, assertThrows } from "@std/assert";
import { BpfMap, MapSpec, MapType, ProgramType } from "../mod.ts";
import { Int, IntEncoding } from "../btf/mod.ts";
import { Errno, SyscallError } from "../errors.ts";
import { loadCollectionSpec } from "../elf/mod.ts";
import { newCollection } from "../prog/mod.ts";
import { filesystemOf } from "../_internal/pin.ts";
import { ensureBpffs, kernelTest, testdata } from "./_harness.ts";

const array = (maxEntries: number) =>
  new MapSpec({ name: "arr", type: MapType.Array, keySize: 4, valueSize: 4, maxEntries });

kernelTest("messages: a pin outside a bpffs names the path and says to use one", () => {
  const dir = Deno.makeTempDirSync({ prefix: "pin-msg-" });
  using m = BpfMap.create(array(4));
  try {
    const fs = filesystemOf(dir)!;
    assert(fs !== undefined && fs.type !== "bpf", `${dir} is on ${fs?.type}`);
    const e = assertThrows(() => m.pin(`${dir}/counts`), SyscallError);
    assertStringIncludes(e.message, `the map cannot be pinned at '${dir}/counts'`);
    assertStringIncludes(e.message, `'${fs.mountPoint}' is on ${fs.type}, not on a bpffs`);
    assertStringIncludes(e.message, "mount -t bpf bpf /sys/fs/bpf");
    const get = assertThrows(() => BpfMap.loadPinned(`${dir}/counts`), SyscallError);
    assertStringIncludes(get.message, `no map can be opened at '${dir}/counts'`);
    assertStringIncludes(get.message, "not on a bpffs");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

kernelTest("messages: pins on a bpffs say what is missing or in the way", () => {
  const dir = `${ensureBpffs()}/pin-msg-${Deno.pid}`;
  Deno.mkdirSync(dir);
  using m = BpfMap.create(array(4));
  try {
    const noDir = assertThrows(() => m.pin(`${dir}/no/such/counts`), SyscallError);
    assertEquals(noDir.errno, Errno.ENOENT);
    assertStringIncludes(noDir.message, `the directory '${dir}/no/such' does not exist`);
    m.pin(`${dir}/counts`);
    const twice = assertThrows(() => m.pin(`${dir}/counts`), SyscallError);
    assertStringIncludes(twice.message, `'${dir}/counts': a file already exists there`);
    // Collections read ENOENT as "not pinned yet": the errno stays.
    const missing = assertThrows(() => BpfMap.loadPinned(`${dir}/other`), SyscallError);
    assertEquals(missing.errno, Errno.ENOENT);
    assertStringIncludes(
      missing.message,
      `no map can be opened at '${dir}/other': nothing is pinned there`,
    );
    using again = BpfMap.loadPinned(`${dir}/counts`);
    assertEquals(again.info().id, m.info().id);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

kernelTest("messages: an array index past the end names max_entries; a full hash says so", () => {
  using arr = BpfMap.create(array(4));
  arr.update(3, 1);
  const e = assertThrows(() => arr.update(10, 1), SyscallError);
  assertEquals(e.code, "E2BIG");
  assertStringIncludes(e.message, "key 10 is past the array's max_entries 4 (keys are 0 to 3)");
  using hash = BpfMap.create(
    new MapSpec({ name: "small", type: MapType.Hash, keySize: 4, valueSize: 4, maxEntries: 2 }),
  );
  hash.update(1, 1);
  hash.update(2, 2);
  const full = assertThrows(() => hash.update(3, 3), SyscallError);
  assertStringIncludes(full.message, 'map "small" is full at max_entries 2');
});

kernelTest("messages: MapInfo and ProgramInfo print their type by name", async () => {
  const spec = await loadCollectionSpec(testdata("demo_syscalls-el.o"));
  using coll = newCollection(spec);
  const info = coll.maps.calls_by_pid.info();
  assertEquals(info.type, MapType.Hash);
  const shown = Deno.inspect(info, { colors: false });
  assert(shown.startsWith("MapInfo {"), shown);
  assertStringIncludes(shown, "type: MapType.Hash,");
  assertStringIncludes(shown, `id: ${info.id},`);
  // The number stays what JSON, keys and spreading see.
  assertEquals(JSON.parse(JSON.stringify(info, (_k, v) => typeof v === "bigint" ? 0 : v)).type, 1);
  assertEquals(Object.keys(info)[0], "type");
  assertEquals({ ...info }.type, MapType.Hash);
  const prog = coll.programs.count_syscalls.info();
  const progShown = Deno.inspect(prog, { colors: false });
  assert(progShown.startsWith("ProgramInfo {"), progShown);
  const name = Object.keys(ProgramType).find((k) =>
    ProgramType[k as keyof typeof ProgramType] === prog.type
  );
  assertStringIncludes(progShown, `type: ProgramType.${name},`);
  assertEquals(prog.type, ProgramType.TracePoint);
});

kernelTest("messages: a name a collection lacks lists the names it has", async () => {
  const spec = await loadCollectionSpec(testdata("demo_syscalls-el.o"));
  using coll = newCollection(spec);
  const map = assertThrows(() => coll.maps.calls_by_pids, TypeError);
  assertEquals(
    map.message,
    'The collection has no map "calls_by_pids": it has "calls_by_pid", ".rodata"',
  );
  assertThrows(() => coll.programs.count, TypeError, 'it has "count_syscalls"');
  // What generic code does with a record still works.
  assert(!("nope" in coll.maps) && "calls_by_pid" in coll.maps);
  assertEquals(Object.keys(coll.maps), ["calls_by_pid", ".rodata"]);
  assertEquals(Object.keys({ ...coll.programs }), ["count_syscalls"]);
  assertEquals(Object.entries(coll.programs).length, 1);
  // deno-lint-ignore no-prototype-builtins -- the proxy must still answer Object.prototype methods
  assertEquals(coll.maps.hasOwnProperty("nope"), false);
  assertStringIncludes(Deno.inspect(coll.maps, { colors: false }), "calls_by_pid");
  assertStringIncludes(JSON.stringify(Object.keys(coll.programs)), "count_syscalls");
  assertEquals(typeof JSON.stringify(coll.programs), "string");
  assert((await Promise.resolve(coll.maps)) === coll.maps, "a record is not a thenable");
  assertEquals(String(coll.maps), "[object Object]");
  assertEquals(coll.maps[Symbol.iterator as unknown as string], undefined);
});

kernelTest("messages: a bigint or negative key is a TypeError before any syscall", () => {
  const arr = BpfMap.create(array(4));
  assertThrows(() => arr.update(1n, 1), TypeError, 'Key 1n of map "arr" is a bigint');
  assertThrows(() => arr.lookup(-1), TypeError, 'Key -1 of map "arr" is negative');
  assertThrows(() => arr.delete(-2n), TypeError, "is a bigint");
  arr.update(1, 5);
  assertEquals(arr.lookup<Uint8Array>(1)![0], 5);
  // Once closed, any syscall would throw ClosedError: these throw before reaching one.
  arr.close();
  assertThrows(() => arr.lookup(-1), TypeError, "negative");
  assertThrows(() => arr.update(2n, 1), TypeError, "bigint");

  // A 64-bit key takes bigints, and a key whose BTF type is signed takes negative numbers.
  using wide = BpfMap.create(
    new MapSpec({ name: "wide", type: MapType.Hash, keySize: 8, valueSize: 4, maxEntries: 4 }),
  );
  wide.update(1n << 40n, 1);
  assertThrows(() => wide.update(-1n, 1), TypeError, "negative");
  using signed = BpfMap.create(
    new MapSpec({
      name: "signed",
      type: MapType.Hash,
      keySize: 4,
      valueSize: 4,
      maxEntries: 4,
      key: new Int("int", 4, IntEncoding.Signed),
      value: new Int("unsigned int", 4),
    }),
  );
  signed.update(-5, 7);
  assertEquals(signed.lookup(-5), 7);
});
