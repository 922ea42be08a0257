// Opening a BPF object from memory: parseCollectionSpec against libbpf's
// bpf_object__open_mem (tests/bench/elf_open.c), same run, on every object of the benchmark
// corpus (testdata/corpus_*.c: objects written as public tools write them, against the
// kernel's vmlinux.h, unlike the rest of testdata), on the largest other testdata object and
// on the one with the most programs.
//   deno bench -A tests/bench/elf_bench.ts     (after tests/bench/build.sh)
//
// Before the Deno.bench groups it prints paired figures: batches of C and TypeScript opens
// alternate in one process, so that the load of a shared machine falls on both alike, and
// the medians and the minimums of the batches are compared. Averages on such a machine are
// mostly its noise. Run it several times and report the range of the ratios.
import { parseCollectionSpec } from "../../elf/mod.ts";
import { ElfFile } from "../../elf/elf_file.ts";

const here = (p: string) => new URL(p, import.meta.url).pathname;
const testdata = here("../../testdata/");

const lib = Deno.dlopen(
  here(".build/elf_open.so"),
  {
    elf_open_count: { parameters: ["buffer", "u32"], result: "i32" },
    elf_open_maps: { parameters: ["buffer", "u32"], result: "i32" },
  } as const,
);

const all = [...Deno.readDirSync(testdata)]
  .filter((e) => e.name.endsWith("-el.o"))
  .map((e) => {
    const bytes = Deno.readFileSync(testdata + e.name);
    let programs = -1;
    let maps = 0;
    let btf = 0;
    try {
      const spec = parseCollectionSpec(bytes);
      programs = Object.keys(spec.programs).length;
      maps = Object.keys(spec.maps).length;
      btf = new ElfFile(bytes).section(".BTF")?.size ?? 0;
    } catch {
      // Objects this reader refuses on purpose are not benchmarked.
    }
    return { name: e.name, bytes, programs, maps, btf };
  })
  .filter((o) => o.programs >= 0)
  .sort((a, b) => b.bytes.length - a.bytes.length || (a.name < b.name ? -1 : 1));
const corpus = all.filter((o) => o.name.startsWith("corpus_"));
const rest = all.filter((o) => !o.name.startsWith("corpus_"));
const largest = rest[0];
const most =
  [...rest].sort((a, b) => b.programs - a.programs || b.bytes.length - a.bytes.length)[0];
const objects = [...corpus, ...(most === largest ? [largest] : [largest, most])];

for (const { name, bytes, programs, maps, btf } of objects) {
  // Both sides must see the same programs, or the comparison means nothing.
  const cCount = lib.symbols.elf_open_count(bytes, bytes.length);
  if (cCount !== programs) {
    throw new Error(`${name}: libbpf opens ${cCount} programs, parseCollectionSpec ${programs}`);
  }
  const cMaps = lib.symbols.elf_open_maps(bytes, bytes.length);
  if (cMaps !== maps) {
    throw new Error(`${name}: libbpf opens ${cMaps} maps, parseCollectionSpec ${maps}`);
  }
  const c = () => {
    lib.symbols.elf_open_count(bytes, bytes.length);
  };
  const ts = () => {
    parseCollectionSpec(bytes);
  };
  const { a, b } = paired(c, ts);
  const us = (ns: number) => (ns / 1e3).toFixed(1);
  console.log(
    `elf: ${name} (${bytes.length} bytes, ${btf} of .BTF, ${programs} programs, ${maps} maps), ` +
      `alternating batches: ` +
      `median libbpf ${us(a.median)} µs, parseCollectionSpec ${us(b.median)} µs, ratio ` +
      `${(b.median / a.median).toFixed(2)}; min ${us(a.min)} / ${us(b.min)} µs, ratio ` +
      `${(b.min / a.min).toFixed(2)}`,
  );

  const group = `open ${name} from memory`;
  Deno.bench({
    name: `libbpf bpf_object__open_mem + close (C), ${name}`,
    group,
    baseline: true,
    fn: c,
  });
  Deno.bench({ name: `parseCollectionSpec, ${name}`, group, fn: ts });
}

interface Stats {
  median: number;
  min: number;
}

/** Per-operation median and minimum of `a` and `b` over batches run in turn. */
function paired(a: () => void, b: () => void): { a: Stats; b: Stats } {
  const BATCH = 50;
  const ROUNDS = 200;
  const batch = (f: () => void) => {
    const t = performance.now();
    for (let i = 0; i < BATCH; i++) f();
    return (performance.now() - t) * 1e6 / BATCH;
  };
  for (let i = 0; i < 20; i++) batch(a), batch(b);
  const as: number[] = [];
  const bs: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    // Which goes first alternates too, so neither always runs on the other's warm caches.
    if (r % 2 === 0) as.push(batch(a)), bs.push(batch(b));
    else bs.push(batch(b)), as.push(batch(a));
  }
  const stats = (xs: number[]): Stats => {
    xs.sort((x, y) => x - y);
    return { median: xs[xs.length >> 1], min: xs[0] };
  };
  return { a: stats(as), b: stats(bs) };
}
