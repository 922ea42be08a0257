/**
 * Read-only data maps bound to every program, as libbpf binds them: checked against the
 * kernel's map list of each program, `bpftool prog show` (which prints the `bpf_metadata_*`
 * variables of bound `.rodata` maps) and the same object loaded by libbpf.
 */
import { assertEquals } from "@std/assert";
import { BpfMap, MapSpec, MapType } from "../../map/mod.ts";
import { newCollection, Program } from "../../prog/mod.ts";
import { isReadOnlyDataMap } from "../../prog/_rodata_binding.ts";
import { BpfCmd, currentBackend, setBackend } from "../../ffi.ts";
import { Errno } from "../../errors.ts";
import { ensureBpffs, kernelTest, testdata } from "../_harness.ts";
import { loadSpec, noElfReader } from "./_elf_loader.ts";

const OBJECT = testdata("compat_rodata_metadata-el.o");
const BPF_F_RDONLY_PROG = 1 << 7;

function spec(name: string, flags: number): MapSpec {
  return new MapSpec({ name, type: MapType.Array, keySize: 4, valueSize: 4, maxEntries: 1, flags });
}

Deno.test("isReadOnlyDataMap: .rodata and .rodata.* sections, not .kconfig or writable data", () => {
  assertEquals(isReadOnlyDataMap(".rodata", spec(".rodata", BPF_F_RDONLY_PROG)), true);
  assertEquals(
    isReadOnlyDataMap(".rodata.str1.1", spec(".rodata.str1.1", BPF_F_RDONLY_PROG)),
    true,
  );
  assertEquals(isReadOnlyDataMap(".kconfig", spec(".kconfig", BPF_F_RDONLY_PROG)), false);
  assertEquals(isReadOnlyDataMap(".rodatax", spec(".rodatax", BPF_F_RDONLY_PROG)), false);
  assertEquals(isReadOnlyDataMap(".data", spec(".data", 0)), false);
  // A map a user named .rodata but left writable is not a data section libbpf would bind.
  assertEquals(isReadOnlyDataMap(".rodata", spec(".rodata", 0)), false);
});

/** Names of a program's maps, with libbpf's object prefix ("compat_.rodata") dropped. */
function mapNames(ids: number[]): string[] {
  return ids.map((id) => {
    using m = BpfMap.fromId(id);
    const name = m.info().name;
    const dot = name.indexOf(".");
    return dot >= 0 ? name.slice(dot) : name;
  }).sort();
}

function bpftoolJson(...args: string[]) {
  const out = new Deno.Command("bpftool", { args: ["-j", ...args], stdout: "piped" }).outputSync();
  if (!out.success) throw new Error(`bpftool ${args.join(" ")} failed`);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

kernelTest("every program is bound to the .rodata* maps, used or not", async () => {
  using coll = newCollection(await loadSpec(OBJECT));
  const expected = [".rodata", ".rodata.limits"];
  assertEquals(mapNames(coll.programs.no_rodata.info().mapIds), expected);
  // Bound where the instructions also use it: listed once.
  assertEquals(mapNames(coll.programs.reads_rodata.info().mapIds), expected);
  assertEquals(coll.programs.reads_rodata.run({ data: new Uint8Array(14) }).retval, 10);
  // bpftool finds the metadata through the bound map of a program that never reads it.
  const shown = bpftoolJson("prog", "show", "id", String(coll.programs.no_rodata.info().id));
  assertEquals(shown.metadata, { tool: "compat" });
}, { skipIf: noElfReader });

kernelTest("programs list the same maps as when libbpf loads the object", async () => {
  const dir = `${ensureBpffs()}/ebpf_rodata_binding_${Deno.pid}`;
  const out = new Deno.Command("bpftool", { args: ["prog", "loadall", OBJECT, dir] })
    .outputSync();
  try {
    assertEquals(out.success, true, "bpftool prog loadall");
    using coll = newCollection(await loadSpec(OBJECT));
    for (const name of ["no_rodata", "reads_rodata"]) {
      using theirs = Program.loadPinned(`${dir}/${name}`);
      assertEquals(
        mapNames(coll.programs[name].info().mapIds),
        mapNames(theirs.info().mapIds),
        name,
      );
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}, { skipIf: noElfReader });

kernelTest("a kernel without BPF_PROG_BIND_MAP loads the programs unbound", async () => {
  const real = currentBackend();
  const restore = setBackend({
    bpf: (cmd, attr) => cmd === BpfCmd.PROG_BIND_MAP ? -Errno.EINVAL : real.bpf(cmd, attr),
    address: (b) => real.address(b),
  });
  try {
    using coll = newCollection(await loadSpec(OBJECT));
    assertEquals(mapNames(coll.programs.no_rodata.info().mapIds), []);
    assertEquals(mapNames(coll.programs.reads_rodata.info().mapIds), [
      ".rodata",
      ".rodata.limits",
    ]);
  } finally {
    restore();
  }
}, { skipIf: noElfReader });
