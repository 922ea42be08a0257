// newCollection of the largest testdata object the kernel accepts here, against libbpf's
// bpf_object__open_mem + bpf_object__load (tests/bench/collection_load.c), same run. Both
// sides parse the object from bytes in memory, create the maps, load every program (the
// verifier runs on both) and close everything.
//   deno bench -A tests/bench/collection_bench.ts     (after tests/bench/build.sh)
import * as elf from "../../elf/mod.ts";
import { type CollectionSpec, newCollection } from "../../prog/mod.ts";
import { CORE_RELO_META } from "../../btf/mod.ts";

type Parse = (bytes: Uint8Array) => CollectionSpec;
const parse = (elf as unknown as Record<string, Parse | undefined>).parseCollectionSpec;
if (!parse) throw new Error("elf.parseCollectionSpec has not landed: nothing to benchmark");

const here = (p: string) => new URL(p, import.meta.url).pathname;
const lib = Deno.dlopen(
  here(".build/collection_load.so"),
  {
    open_load_close: { parameters: ["buffer", "usize"], result: "i32" },
  } as const,
);

// The largest object both loaders accept, and the largest without CO-RE: libbpf parses
// vmlinux BTF for every object with CO-RE relocations, while this package keeps the parsed
// kernel BTF for the process, so the two show that cost apart.
const dir = here("../../testdata/");
const candidates = [...Deno.readDirSync(dir)]
  .filter((e) => e.name.endsWith("-el.o"))
  .map((e) => ({ name: e.name, bytes: Deno.readFileSync(dir + e.name) }))
  .sort((a, b) => b.bytes.length - a.bytes.length);
const hasCore = (spec: CollectionSpec) =>
  Object.values(spec.programs).some((p) =>
    p.instructions.list.some((i) => i.meta?.[CORE_RELO_META] !== undefined)
  );
const chosen: { name: string; bytes: Uint8Array; spec: CollectionSpec }[] = [];
for (const c of candidates) {
  if (lib.symbols.open_load_close(c.bytes, BigInt(c.bytes.length)) !== 0) continue;
  let spec: CollectionSpec;
  try {
    spec = parse(c.bytes);
    newCollection(spec).close();
  } catch {
    continue;
  }
  if (chosen.length === 0 || (hasCore(chosen[0].spec) && !hasCore(spec))) {
    chosen.push({ ...c, spec });
  }
  if (chosen.length === 2) break;
}
if (chosen.length === 0) {
  throw new Error("No testdata object loads with both libbpf and newCollection");
}

for (const { name, bytes, spec } of chosen) {
  const relos = Object.values(spec.programs).reduce(
    (n, p) => n + p.instructions.list.filter((i) => i.meta?.[CORE_RELO_META] !== undefined).length,
    0,
  );
  console.log(
    `${name}: ${bytes.length} bytes, ${Object.keys(spec.programs).length} programs, ` +
      `${Object.keys(spec.maps).length} maps, ${relos} CO-RE relocations`,
  );
  const group = `open + load + close ${name}`;
  Deno.bench({
    name: `libbpf bpf_object__open_mem + bpf_object__load (C) ${name}`,
    group,
    baseline: true,
    fn() {
      if (lib.symbols.open_load_close(bytes, BigInt(bytes.length)) !== 0) throw new Error("libbpf");
    },
  });
  Deno.bench({
    name: `parseCollectionSpec + newCollection ${name}`,
    group,
    fn() {
      newCollection(parse(bytes)).close();
    },
  });
  Deno.bench({
    name: `newCollection (spec parsed once) ${name}`,
    group,
    fn() {
      newCollection(spec).close();
    },
  });
}
