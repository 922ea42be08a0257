// newCollection of the largest testdata object the kernel accepts here, against libbpf's
// bpf_object__open_mem + bpf_object__load (tests/bench/collection_load.c), same run. Both
// sides parse the object from bytes in memory, create the maps and load every program (the
// verifier runs on both). Open + load is timed on its own; closing is timed apart, the same
// way on both sides. bpf_object__load alone (object opened outside the window) is compared
// with newCollection of a spec parsed outside the window: the pair the issue names.
//   deno bench -A tests/bench/collection_bench.ts     (after tests/bench/build.sh)
//   COLLECTION_BENCH_ROUNDS=300 COLLECTION_BENCH_ONLY=maps_globals deno bench -A \
//     --filter=nothing tests/bench/collection_bench.ts   (paired figures of one object only)
//
// Both loads are dominated by the kernel. Of prog_globals' ~16 ms, ~11 ms is one
// BPF_MAP_UPDATE_ELEM: the slot of its map of maps, which both loaders fill, and after
// which the kernel waits for an RCU grace period (maybe_wait_bpf_programs ->
// synchronize_rcu) so that no running program still sees the old inner map. The bench
// measures that update on its own too. The wait varies from ~2 to ~20 ms with the state of
// RCU on the machine; averages of a few dozen loads are mostly that noise.
//
// Before the Deno.bench groups it prints paired figures: C and TypeScript loads alternate
// (ABBA), so that the machine's load and the kernel's RCU grace periods fall on both alike,
// and medians and minimums are compared. A check first shows that both sides loaded the
// same programs (the kernel's tags, which hash the instructions with map fds zeroed) and
// created the same maps.
import * as elf from "../../elf/mod.ts";
import { type Collection, type CollectionSpec, newCollection } from "../../prog/mod.ts";
import { CORE_RELO_META } from "../../btf/mod.ts";
import { BpfMap, MapSpec, MapType } from "../../map/mod.ts";

type Parse = (bytes: Uint8Array) => CollectionSpec;
const parse = (elf as unknown as Record<string, Parse | undefined>).parseCollectionSpec;
if (!parse) throw new Error("elf.parseCollectionSpec has not landed: nothing to benchmark");

const here = (p: string) => new URL(p, import.meta.url).pathname;
const lib = Deno.dlopen(
  here(".build/collection_load.so"),
  {
    open_load: { parameters: ["buffer", "usize", "buffer"], result: "pointer" },
    open_only: { parameters: ["buffer", "usize", "buffer"], result: "pointer" },
    load_only: { parameters: ["pointer"], result: "i32" },
    close_object: { parameters: ["pointer"], result: "void" },
    describe_object: { parameters: ["pointer", "buffer", "i32"], result: "i32" },
  } as const,
);
type CObject = Deno.PointerValue;

// Maps pinned by name (maps_globals has one) are pinned by the first load and reused by
// every later one, on both sides, in a directory of the bench's own that it removes at exit.
const PIN_ROOT = `/sys/fs/bpf/ebpf_collection_bench_${Deno.pid}`;
Deno.mkdirSync(PIN_ROOT, { recursive: true });
globalThis.addEventListener("unload", () => Deno.removeSync(PIN_ROOT, { recursive: true }));
const cPinRoot = new TextEncoder().encode(PIN_ROOT + "\0");
const options = { pinPath: PIN_ROOT };

function cOpenLoad(bytes: Uint8Array): NonNullable<CObject> {
  const obj = lib.symbols.open_load(bytes, BigInt(bytes.length), cPinRoot);
  if (obj === null) throw new Error("libbpf could not open and load the object");
  return obj;
}

/**
 * What libbpf loaded, one sorted line per program and map. libbpf names the maps of data
 * sections after the object ("7f9f2c40.bss" for an object opened from memory): the section
 * name is what both sides share.
 */
function describeC(obj: CObject): string[] {
  const out = new Uint8Array(1 << 16);
  const n = lib.symbols.describe_object(obj, out, out.length);
  if (n < 0) throw new Error("describe_object failed");
  return new TextDecoder().decode(out.subarray(0, n)).trim().split("\n")
    .map((l) => l.replace(/^map [^ .]+(\.(?:bss|data|rodata|kconfig)[^ ]*) /, "map $1 ")).sort();
}

/** The same lines for a collection. */
function describeTs(coll: Collection): string[] {
  const lines = Object.entries(coll.programs).map(([name, p]) => `prog ${name} ${p.info().tag}`);
  for (const [name, m] of Object.entries(coll.maps)) {
    lines.push(`map ${name} ${m.type} ${m.keySize} ${m.valueSize} ${m.maxEntries}`);
  }
  return lines.sort();
}

// The largest object both loaders accept with CO-RE, the largest with a map of maps and no
// CO-RE, and the largest with neither: libbpf parses vmlinux BTF for every object with CO-RE
// relocations, while this package keeps the parsed kernel BTF for the process, so the two
// show that cost apart; a map of maps costs both an RCU wait; without either, the loaders'
// own work shows. COLLECTION_BENCH_ONLY=NAME times the objects named so instead.
const dir = here("../../testdata/");
const candidates = [...Deno.readDirSync(dir)]
  .filter((e) => e.name.endsWith("-el.o"))
  .map((e) => ({ name: e.name, bytes: Deno.readFileSync(dir + e.name) }))
  .sort((a, b) => b.bytes.length - a.bytes.length);
const hasCore = (spec: CollectionSpec) =>
  Object.values(spec.programs).some((p) =>
    p.instructions.list.some((i) => i.meta?.[CORE_RELO_META] !== undefined)
  );
const hasMapInMap = (spec: CollectionSpec) =>
  Object.values(spec.maps).some((m) =>
    m.type === MapType.ArrayOfMaps || m.type === MapType.HashOfMaps
  );
const chosen: { name: string; bytes: Uint8Array; spec: CollectionSpec }[] = [];
const kinds = new Set<number>();
// COLLECTION_BENCH_ONLY=maps_globals times the objects whose names contain it instead.
const ONLY = Deno.env.get("COLLECTION_BENCH_ONLY");
for (const c of candidates) {
  if (ONLY !== undefined && !c.name.includes(ONLY)) continue;
  const obj = lib.symbols.open_load(c.bytes, BigInt(c.bytes.length), cPinRoot);
  if (obj === null) continue;
  let spec: CollectionSpec;
  try {
    spec = parse(c.bytes);
    using coll = newCollection(spec, options);
    const [want, got] = [describeC(obj), describeTs(coll)];
    if (want.join("\n") !== got.join("\n")) {
      throw new Error(
        `${c.name}: libbpf and newCollection loaded different things:\n` +
          `libbpf:\n  ${want.join("\n  ")}\nnewCollection:\n  ${got.join("\n  ")}`,
      );
    }
  } catch (e) {
    if (e instanceof Error && e.message.includes("loaded different things")) throw e;
    continue;
  } finally {
    lib.symbols.close_object(obj);
  }
  // The largest of each kind: with CO-RE, with a map of maps (and no CO-RE), and with
  // neither (no RCU wait: the loaders' own work shows).
  const kind = hasCore(spec) ? 0 : hasMapInMap(spec) ? 1 : 2;
  if (ONLY !== undefined) {
    chosen.push({ ...c, spec });
    continue;
  }
  if (!kinds.has(kind)) {
    chosen.push({ ...c, spec });
    kinds.add(kind);
  }
  if (kinds.size === 3) break;
}
if (chosen.length === 0) {
  throw new Error("No testdata object loads with both libbpf and newCollection");
}

const ROUNDS = Number(Deno.env.get("COLLECTION_BENCH_ROUNDS") ?? 150);

interface Sample {
  load: number;
  close: number;
}

/** Times open + load and close apart, in milliseconds. */
function timeC(bytes: Uint8Array): Sample {
  const t0 = performance.now();
  const obj = cOpenLoad(bytes);
  const t1 = performance.now();
  lib.symbols.close_object(obj);
  return { load: t1 - t0, close: performance.now() - t1 };
}

/** Times bpf_object__load alone, of an object opened outside the window. */
function timeCLoadOnly(bytes: Uint8Array): Sample {
  const obj = lib.symbols.open_only(bytes, BigInt(bytes.length), cPinRoot);
  if (obj === null) throw new Error("libbpf could not open the object");
  const t0 = performance.now();
  const r = lib.symbols.load_only(obj);
  const t1 = performance.now();
  lib.symbols.close_object(obj);
  if (r !== 0) throw new Error("libbpf could not load the object");
  return { load: t1 - t0, close: performance.now() - t1 };
}

function timeTs(load: () => Collection): Sample {
  const t0 = performance.now();
  const coll = load();
  const t1 = performance.now();
  coll.close();
  return { load: t1 - t0, close: performance.now() - t1 };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const quartiles = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return [s[Math.floor(s.length / 4)], s[Math.floor((3 * s.length) / 4)]];
};
const ms = (x: number) => x.toFixed(2);

for (const { name, bytes, spec } of chosen) {
  const relos = Object.values(spec.programs).reduce(
    (n, p) => n + p.instructions.list.filter((i) => i.meta?.[CORE_RELO_META] !== undefined).length,
    0,
  );
  console.log(
    `${name}: ${bytes.length} bytes, ${Object.keys(spec.programs).length} programs, ` +
      `${Object.keys(spec.maps).length} maps, ${relos} CO-RE relocations; ` +
      "libbpf and newCollection load the same program tags and the same maps",
  );

  // Paired: every round runs C, ours, ours, C (or the mirror), so neither side always
  // goes first after the other's close.
  // Each Deno side is compared with the C side named after it: open + load with parse +
  // newCollection; bpf_object__load of an object just opened with newCollection of a spec
  // just parsed (both outside the window: what the issue names), and with one spec loaded
  // again and again (its written BTF is reused then).
  const sides = {
    "libbpf open_mem + load": () => timeC(bytes),
    "parseCollectionSpec + newCollection": () => timeTs(() => newCollection(parse(bytes), options)),
    "libbpf load alone": () => timeCLoadOnly(bytes),
    "newCollection of a fresh spec": () => {
      const fresh = parse(bytes);
      return timeTs(() => newCollection(fresh, options));
    },
    "newCollection, spec parsed once": () => timeTs(() => newCollection(spec, options)),
  };
  const baselineOf: Record<string, keyof typeof sides> = {
    "parseCollectionSpec + newCollection": "libbpf open_mem + load",
    "newCollection of a fresh spec": "libbpf load alone",
    "newCollection, spec parsed once": "libbpf load alone",
  };
  const names = Object.keys(sides) as (keyof typeof sides)[];
  const samples = new Map(names.map((n) => [n, [] as Sample[]]));
  for (let i = 0; i < 10; i++) for (const n of names) sides[n]();
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? names : [...names].reverse();
    for (const n of order) samples.get(n)!.push(sides[n]());
  }
  for (const n of names) {
    const s = samples.get(n)!;
    const loads = s.map((x) => x.load);
    const base = baselineOf[n];
    const cLoads = samples.get(base ?? n)!.map((x) => x.load);
    const cMed = median(cLoads);
    const cMin = Math.min(...cLoads);
    const [q1, q3] = quartiles(loads);
    const pairRatio = median(loads.map((x, i) => x / cLoads[i]));
    console.log(
      `  ${n.padEnd(36)} timed median ${ms(median(loads))} ms (IQR ${ms(q1)}–${ms(q3)}, min ${
        ms(Math.min(...loads))
      }), close median ${ms(median(s.map((x) => x.close)))} ms` +
        (base === undefined ? "" : `; vs ${base}: medians ${(median(loads) / cMed).toFixed(3)}×, ` +
          `mins ${(Math.min(...loads) / cMin).toFixed(3)}×, median of pairs ${
            pairRatio.toFixed(3)
          }×`),
    );
  }

  if (hasMapInMap(spec)) {
    // The kernel's share that no loader avoids: one update of a map-of-maps slot.
    const inner = new MapSpec({ type: MapType.Array, keySize: 4, valueSize: 4, maxEntries: 1 });
    const waits: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      using innerMap = BpfMap.create(inner);
      using outer = BpfMap.create(
        new MapSpec({ type: MapType.ArrayOfMaps, keySize: 4, valueSize: 4, maxEntries: 1 }),
        { innerMap },
      );
      const t0 = performance.now();
      outer.update(0, innerMap.fd);
      waits.push(performance.now() - t0);
    }
    const [q1, q3] = quartiles(waits);
    console.log(
      `  of which the kernel: one BPF_MAP_UPDATE_ELEM of a map-of-maps slot (synchronize_rcu) ` +
        `median ${ms(median(waits))} ms (IQR ${ms(q1)}–${ms(q3)}, min ${ms(Math.min(...waits))})`,
    );
  }

  // Deno.bench's averages, for `deno task bench`: more runs than its default, as each
  // takes milliseconds and the RCU wait above varies.
  const runs = { n: ROUNDS, warmup: 10 };
  const group = `open + load ${name}`;
  Deno.bench({
    name: `libbpf bpf_object__open_mem + bpf_object__load (C) ${name}`,
    group,
    baseline: true,
    ...runs,
    fn(b) {
      b.start();
      const obj = cOpenLoad(bytes);
      b.end();
      lib.symbols.close_object(obj);
    },
  });
  Deno.bench({
    name: `parseCollectionSpec + newCollection ${name}`,
    group,
    ...runs,
    fn(b) {
      b.start();
      const coll = newCollection(parse(bytes), options);
      b.end();
      coll.close();
    },
  });
  Deno.bench({
    name: `newCollection (spec parsed once) ${name}`,
    group,
    ...runs,
    fn(b) {
      b.start();
      const coll = newCollection(spec, options);
      b.end();
      coll.close();
    },
  });
}
