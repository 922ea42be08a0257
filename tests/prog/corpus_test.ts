// The benchmark corpus (testdata/corpus_*.c, written against the kernel's vmlinux.h as
// public tools are): each object's maps are what its BTF says, in both byte orders, value
// types of whole kernel structs included; and its programs load. The differential test
// compares the programs of the objects libbpf loads with libbpf's; corpus_tracing is not
// among them (bpftool cannot pin its programs that are not autoloaded), so it is loaded here.
import { assert, assertEquals } from "@std/assert";
import { bpftoolRaw, haveBpftool } from "../btf/_util.ts";
import { Struct } from "../../btf/mod.ts";
import { loadCollectionSpec } from "../../elf/mod.ts";
import { MapType } from "../../map/mod.ts";
import { newCollection, ProgramType } from "../../prog/mod.ts";
import { kernelTest, testdata } from "../_harness.ts";

const CORPUS = ["corpus_tracing", "corpus_net", "corpus_selftests", "corpus_probes"];

Deno.test({
  name: "corpus: map key and value sizes are the BTF types' sizes bpftool reports",
  ignore: !haveBpftool(),
  fn: async () => {
    for (const name of CORPUS) {
      const el = await loadCollectionSpec(testdata(`${name}-el.o`));
      const eb = await loadCollectionSpec(testdata(`${name}-eb.o`));
      assertEquals(Object.keys(eb.maps).sort(), Object.keys(el.maps).sort(), name);
      assertEquals(Object.keys(eb.programs).sort(), Object.keys(el.programs).sort(), name);
      const sizes = bpftoolSizes(testdata(`${name}-el.o`));
      let typed = 0;
      for (const m of Object.values(el.maps)) {
        const other = eb.maps[m.name];
        assertEquals([other.type, other.keySize, other.valueSize], [
          m.type,
          m.keySize,
          m.valueSize,
        ]);
        if (!(m.value instanceof Struct) || m.value.name === "") continue;
        const want = sizes.get(m.value.name);
        if (want === undefined) continue;
        assertEquals(m.valueSize, want, `${name}: ${m.name} value ${m.value.name}`);
        typed++;
      }
      assert(typed > 0, `${name}: no map value of a named struct`);
    }
    const tracing = await loadCollectionSpec(testdata("corpus_tracing-el.o"));
    assertEquals(String(tracing.maps.task_snapshots.value), "struct task_struct");
    assertEquals(tracing.maps.rb_per_cpu.type, MapType.ArrayOfMaps);
    assertEquals(tracing.maps.rb_per_cpu.contents, [
      { key: 0, value: "rb_cpu0" },
      { key: 1, value: "rb_cpu1" },
    ]);
  },
});

/** Struct sizes by name, from `bpftool btf dump file` of the object. */
function bpftoolSizes(path: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of bpftoolRaw(path).split("\n")) {
    const m = /^\[\d+\] STRUCT '([^']+)' size=(\d+)/.exec(line);
    if (m) out.set(m[1], Number(m[2]));
  }
  return out;
}

kernelTest("corpus: corpus_tracing loads every program it autoloads", async () => {
  const spec = await loadCollectionSpec(testdata("corpus_tracing-el.o"));
  const autoloaded = Object.values(spec.programs).filter((p) => p.autoload !== false);
  const optional = Object.values(spec.programs).filter((p) => p.autoload === false);
  assertEquals(optional.map((p) => p.sectionName).sort(), [
    "?fentry/do_unlinkat",
    "?fentry/tcp_sendmsg",
    "?fexit/do_unlinkat",
    "?fexit/tcp_close",
  ]);
  using coll = newCollection(spec);
  assertEquals(
    Object.keys(coll.programs).sort(),
    autoloaded.map((p) => p.name).sort(),
  );
  assertEquals(coll.programs.dump_task.type, ProgramType.Tracing);
  assertEquals(coll.programs.do_sample.type, ProgramType.PerfEvent);
  assertEquals(Object.keys(coll.maps).length, Object.keys(spec.maps).length);
});
