// Opening a BPF object from memory: parseCollectionSpec against libbpf's
// bpf_object__open_mem (tests/bench/elf_open.c), same run, on the largest testdata object.
//   deno bench -A tests/bench/elf_bench.ts     (after tests/bench/build.sh)
import { parseCollectionSpec } from "../../elf/mod.ts";

const here = (p: string) => new URL(p, import.meta.url).pathname;
const testdata = here("../../testdata/");
const objects = [...Deno.readDirSync(testdata)]
  .filter((e) => e.name.endsWith("-el.o"))
  .map((e) => ({ name: e.name, size: Deno.statSync(testdata + e.name).size }))
  .sort((a, b) => b.size - a.size || (a.name < b.name ? -1 : 1));
const largest = objects[0].name;
const bytes = Deno.readFileSync(testdata + largest);

const lib = Deno.dlopen(
  here(".build/elf_open.so"),
  {
    elf_open_count: { parameters: ["buffer", "u32"], result: "i32" },
  } as const,
);

// Both sides must see the same programs, or the comparison means nothing.
const cCount = lib.symbols.elf_open_count(bytes, bytes.length);
const tsCount = Object.keys(parseCollectionSpec(bytes).programs).length;
if (cCount !== tsCount) {
  throw new Error(`${largest}: libbpf opens ${cCount} programs, parseCollectionSpec ${tsCount}`);
}
console.log(`elf: ${largest} (${bytes.length} bytes, ${tsCount} programs)`);

const group = `open ${largest} from memory`;
Deno.bench({
  name: "libbpf bpf_object__open_mem + close (C)",
  group,
  baseline: true,
  fn() {
    lib.symbols.elf_open_count(bytes, bytes.length);
  },
});
Deno.bench({
  name: "parseCollectionSpec",
  group,
  fn() {
    parseCollectionSpec(bytes);
  },
});
