// libbpf's "?" section prefix (`SEC("?socket")`): the program is parsed like any other,
// with `autoload` false, and newCollection loads it only when its `only` option names it.
// libbpf itself (Debian's libbpf.so.1, through FFI) is the oracle for the flag.
import { assert, assertEquals } from "@std/assert";
import { parseCollectionSpec } from "../../elf/mod.ts";
import { newCollection } from "../../prog/mod.ts";
import { assertNoFdLeak, kernelTest, testdata } from "../_harness.ts";

const OBJECT = "elf4_autoload-el.o";

/** Each program's name and `bpf_program__autoload`, as libbpf opens `bytes`. */
function libbpfAutoload(bytes: Uint8Array): Record<string, boolean> | undefined {
  let lib;
  try {
    lib = Deno.dlopen(
      "libbpf.so.1",
      {
        bpf_object__open_mem: { parameters: ["buffer", "usize", "pointer"], result: "pointer" },
        bpf_object__next_program: { parameters: ["pointer", "pointer"], result: "pointer" },
        bpf_program__name: { parameters: ["pointer"], result: "pointer" },
        bpf_program__autoload: { parameters: ["pointer"], result: "bool" },
        bpf_object__close: { parameters: ["pointer"], result: "void" },
      } as const,
    );
  } catch {
    return undefined;
  }
  try {
    const obj = lib.symbols.bpf_object__open_mem(bytes, BigInt(bytes.length), null);
    assert(obj !== null, "libbpf cannot open the object");
    const out: Record<string, boolean> = {};
    try {
      for (
        let p = lib.symbols.bpf_object__next_program(obj, null);
        p !== null;
        p = lib.symbols.bpf_object__next_program(obj, p)
      ) {
        const name = Deno.UnsafePointerView.getCString(lib.symbols.bpf_program__name(p)!);
        out[name] = lib.symbols.bpf_program__autoload(p);
      }
    } finally {
      lib.symbols.bpf_object__close(obj);
    }
    return out;
  } finally {
    lib.close();
  }
}

Deno.test('elf: a SEC("?…") program is not autoloaded, as libbpf reads it', () => {
  const bytes = Deno.readFileSync(testdata(OBJECT));
  const spec = parseCollectionSpec(bytes);
  const ours = Object.fromEntries(Object.values(spec.programs).map((p) => [p.name, p.autoload]));
  assertEquals(ours, { always: true, on_demand: false, on_demand_xdp: false });
  // The big-endian object says the same.
  const eb = parseCollectionSpec(Deno.readFileSync(testdata("elf4_autoload-eb.o")));
  assertEquals(
    Object.fromEntries(Object.values(eb.programs).map((p) => [p.name, p.autoload])),
    ours,
  );
  // The "?" stays in the section name (as libbpf's bpf_program__section_name keeps it).
  assertEquals(spec.programs.on_demand.sectionName, "?socket");
  // A copy keeps the flag.
  assertEquals(spec.programs.on_demand.copy().autoload, false);
  const theirs = libbpfAutoload(bytes);
  if (theirs === undefined) {
    console.log("libbpf.so.1 not found: checked against the C source only");
    return;
  }
  assertEquals(ours, theirs);
});

kernelTest('newCollection skips SEC("?…") programs unless `only` names them', async () => {
  const spec = parseCollectionSpec(Deno.readFileSync(testdata(OBJECT)));
  await assertNoFdLeak(() => {
    using all = newCollection(spec);
    assertEquals(Object.keys(all.programs), ["always"]);
    assertEquals(Object.keys(all.maps), ["hits"]);
  });
  await assertNoFdLeak(() => {
    using some = newCollection(spec, { only: ["on_demand", "on_demand_xdp"] });
    assertEquals(Object.keys(some.programs).sort(), ["on_demand", "on_demand_xdp"]);
    assert(some.programs.on_demand.fd > 0 && some.programs.on_demand_xdp.fd > 0);
    // `only` creates only the maps its programs use: these use none.
    assertEquals(Object.keys(some.maps), []);
  });
  // Setting the flag by hand, as bpf_program__set_autoload does, is what newCollection reads.
  spec.programs.on_demand.autoload = true;
  spec.programs.always.autoload = false;
  await assertNoFdLeak(() => {
    using flipped = newCollection(spec);
    assertEquals(Object.keys(flipped.programs), ["on_demand"]);
  });
});
