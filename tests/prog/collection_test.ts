import { assert, assertEquals, assertThrows } from "@std/assert";
import { asm } from "../../mod.ts";
import {
  CollectionSpec,
  newCollection,
  ProgramSpec,
  ProgramType,
  VariableSpec,
} from "../../prog/mod.ts";
import { BpfMap, MapSpec, MapType, PinType } from "../../map/mod.ts";
import { VerifierError } from "../../errors.ts";
import { Struct } from "../../btf/mod.ts";
import { BtfHandle } from "../../btf/handle.ts";
import { parseCollectionSpec } from "../../elf/mod.ts";
import { assertNoFdLeak, ensureBpffs, kernelTest, openFdCount } from "../_harness.ts";

const { R0, R1, R2, R3, Mov, Return, LoadMem, LoadMapValue, LoadMapPtr, Call, JEq } = asm;

function prog(name: string, list: (asm.Instruction | asm.Label)[]): ProgramSpec {
  return new ProgramSpec({
    name,
    type: ProgramType.SocketFilter,
    license: "GPL",
    instructions: new asm.Instructions(list),
  });
}

/** .rodata with a 4-byte constant, .data with a counter, a program returning const + data. */
function globalsSpec(): CollectionSpec {
  const rodata = new MapSpec({
    name: ".rodata",
    type: MapType.Array,
    keySize: 4,
    valueSize: 8,
    maxEntries: 1,
    flags: 1 << 7, // BPF_F_RDONLY_PROG
    freeze: true,
    contents: [{ key: new Uint8Array(4), value: new Uint8Array([10, 0, 0, 0, 0, 0, 0, 0]) }],
  });
  const data = new MapSpec({
    name: ".data",
    type: MapType.Array,
    keySize: 4,
    valueSize: 4,
    maxEntries: 1,
    contents: [{ key: new Uint8Array(4), value: new Uint8Array([5, 0, 0, 0]) }],
  });
  return new CollectionSpec({
    maps: { ".rodata": rodata, ".data": data },
    variables: {
      limit: new VariableSpec({ name: "limit", map: rodata, offset: 4, size: 4 }),
      base: new VariableSpec({ name: "base", map: data, offset: 0, size: 4 }),
    },
    programs: {
      sum: prog("sum", [
        LoadMapValue(R1, ".rodata", 4),
        LoadMem(R0, R1, 0, asm.Size.Word),
        LoadMapValue(R2, ".data"),
        LoadMem(R2, R2, 0, asm.Size.Word),
        asm.Add.Reg(R0, R2),
        Return(),
      ]),
    },
  });
}

kernelTest("newCollection: global data, variables set before load", () => {
  const spec = globalsSpec();
  spec.variables.limit.set(30);
  {
    using coll = newCollection(spec);
    assertEquals(coll.programs.sum.run({ data: new Uint8Array(64) }).retval, 35);
    // .rodata is frozen: user space cannot write it any more.
    assertThrows(() => coll.maps[".rodata"].update(0, new Uint8Array(8)));
    coll.maps[".data"].update(0, 100);
    assertEquals(coll.programs.sum.run({ data: new Uint8Array(64) }).retval, 130);
  }
  // The spec is unchanged by loading: loading again starts from its values.
  using again = newCollection(spec);
  assertEquals(again.programs.sum.run({ data: new Uint8Array(64) }).retval, 35);
});

kernelTest("newCollection: program arrays are filled after the programs load", () => {
  const jt = new MapSpec({
    name: "jt",
    type: MapType.ProgramArray,
    keySize: 4,
    valueSize: 4,
    maxEntries: 2,
    contents: [{ key: 1, value: "callee" }],
  });
  const spec = new CollectionSpec({
    maps: { jt },
    programs: {
      caller: prog("caller", [
        LoadMapPtr(R2, "jt"),
        Mov.Imm(R3, 1),
        Call.Helper(12), // bpf_tail_call
        Mov.Imm(R0, 1),
        Return(),
      ]),
      callee: prog("callee", [Mov.Imm(R0, 77), Return()]),
    },
  });
  using coll = newCollection(spec);
  assertEquals(coll.programs.caller.run({ data: new Uint8Array(64) }).retval, 77);
});

kernelTest("newCollection: maps of maps name their inner maps", () => {
  const innerTemplate = new MapSpec({
    name: "inner",
    type: MapType.Array,
    keySize: 4,
    valueSize: 4,
    maxEntries: 1,
  });
  const inner = new MapSpec({
    name: "inner",
    type: MapType.Array,
    keySize: 4,
    valueSize: 4,
    maxEntries: 1,
    contents: [{ key: 0, value: 99 }],
  });
  const outer = new MapSpec({
    name: "outer",
    type: MapType.ArrayOfMaps,
    keySize: 4,
    valueSize: 4,
    maxEntries: 1,
    innerMap: innerTemplate,
    contents: [{ key: 0, value: "inner" }],
  });
  const key = new MapSpec({
    name: "zero",
    type: MapType.Array,
    keySize: 4,
    valueSize: 4,
    maxEntries: 1,
  });
  const spec = new CollectionSpec({
    maps: { inner, outer, zero: key },
    programs: {
      lookup: prog("lookup", [
        // r2 = &zero[0] (a 0 key on a map value), r1 = outer; r0 = lookup(outer, 0)
        LoadMapValue(R2, "zero"),
        LoadMapPtr(R1, "outer"),
        Call.Helper(1),
        JEq.Imm(R0, 0, "miss"),
        Mov.Reg(R1, R0),
        LoadMapValue(R2, "zero"),
        Call.Helper(1),
        JEq.Imm(R0, 0, "miss"),
        LoadMem(R0, R0, 0, asm.Size.Word),
        Return(),
        asm.Label("miss"),
        Mov.Imm(R0, 0),
        Return(),
      ]),
    },
  });
  using coll = newCollection(spec);
  assertEquals(coll.programs.lookup.run({ data: new Uint8Array(64) }).retval, 99);
});

kernelTest("newCollection: a failing last program leaves no fd open", async () => {
  const spec = globalsSpec();
  spec.programs.broken = prog("broken", [Mov.Reg(R0, R2), Return()]);
  const before = openFdCount();
  await assertNoFdLeak(() => {
    assertThrows(() => newCollection(spec), VerifierError);
  });
  assertEquals(openFdCount(), before);
});

kernelTest("newCollection: only some programs, and the maps they use", () => {
  const spec = globalsSpec();
  spec.maps.unused = new MapSpec({
    name: "unused",
    type: MapType.Hash,
    keySize: 4,
    valueSize: 4,
    maxEntries: 4,
  });
  spec.programs.plain = prog("plain", [Mov.Imm(R0, 2), Return()]);
  spec.programs.broken = prog("broken", [Mov.Reg(R0, R2), Return()]);
  using coll = newCollection(spec, { only: ["sum"] });
  assertEquals(Object.keys(coll.programs), ["sum"]);
  assertEquals(Object.keys(coll.maps).sort(), [".data", ".rodata"]);
  assertThrows(() => newCollection(spec, { only: ["nope"] }), ReferenceError);
});

kernelTest("newCollection: map replacements and maps pinned by name", () => {
  const dir = `${ensureBpffs()}/ebpf_coll_test_${Deno.pid}`;
  Deno.mkdirSync(dir, { recursive: true });
  try {
    const spec = globalsSpec();
    spec.variables.limit.set(10);
    spec.maps[".data"].pinning = PinType.ByName;
    {
      using coll = newCollection(spec, { pinPath: dir });
      coll.maps[".data"].update(0, 1000);
    }
    // Reused from the pin: the value written before survives, contents are not rewritten.
    {
      using coll = newCollection(spec, { pinPath: dir });
      assertEquals(coll.programs.sum.run({ data: new Uint8Array(64) }).retval, 1010);
    }
    // An incompatible pinned map is an error, not silently replaced.
    const bad = spec.copy();
    bad.maps[".data"].maxEntries = 2;
    assertThrows(() => newCollection(bad, { pinPath: dir }), TypeError, "incompatible");
    Deno.removeSync(`${dir}/_data`);
    // A replacement given by the caller is used as it is.
    using mine = BpfMap.create(spec.maps[".data"]);
    mine.update(0, 20);
    using coll = newCollection(spec, { mapReplacements: { ".data": mine } });
    assertEquals(coll.programs.sum.run({ data: new Uint8Array(64) }).retval, 30);
    assert(!mine.closed);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

kernelTest(
  "newCollection: BTF written for an earlier load is not reused once a type changed",
  async () => {
    const bytes = Deno.readFileSync(new URL("../../testdata/maps_globals-el.o", import.meta.url));
    const spec = parseCollectionSpec(bytes);
    const kernelMember = (coll: { maps: Record<string, BpfMap> }) => {
      using h = BtfHandle.fromId(coll.maps.events_by_pid.info().btfId);
      const ev = h.spec().typeByName("event", Struct)!;
      return ev.members.map((m) => m.name);
    };
    await assertNoFdLeak(() => {
      const only = ["on_getpid"];
      let before: string[];
      {
        using coll = newCollection(spec, { only });
        before = kernelMember(coll);
      }
      {
        // The same spec again: the same BTF (written once, reused).
        using coll = newCollection(spec, { only });
        assertEquals(kernelMember(coll), before);
      }
      const ev = spec.types!.typeByName("event", Struct)!;
      const old = ev.members[0].name;
      ev.members[0].name = old + "_renamed";
      try {
        using coll = newCollection(spec, { only });
        assertEquals(kernelMember(coll), [old + "_renamed", ...before.slice(1)]);
      } finally {
        ev.members[0].name = old;
      }
      using coll = newCollection(spec.copy(), { only });
      assertEquals(kernelMember(coll), before);
    });
  },
);
