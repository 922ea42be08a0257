// Cold start: fresh processes that import the package, parse an object and load it as a
// collection, or parse many objects, this package in `deno run` against libbpf in a C process
// (cold_start.ts against cold_start.c), same run.
//   deno bench -A tests/bench/cold_start_bench.ts     (after tests/bench/build.sh)
//   COLD_START_ROUNDS=30 deno bench -A --filter=nothing tests/bench/cold_start_bench.ts
//
// Two clocks. In-process: from the top of the Deno script, before its dynamic import() of
// mod.ts (so the user's import of the package counts), and from the start of the C program's
// main(), to the object parsed and the collection loaded. Whole-process: from spawning the
// process to its exit, as this bench sees it, which adds each runtime's own start and exit;
// an empty `deno run` and an empty C program show that fixed part as rows of their own.
// Processes alternate C and Deno (ABBA), and the printed figures are medians and minimums;
// the Deno.bench rows are whole-process averages.
//
// What the import costs is taken apart by rows that import the package's module graph, the
// same code as one file (`deno bundle` of mod.ts, built here into .build/ at start; skipped,
// with the reason, where `deno bundle` fails), as many one-line modules as the graph has
// (Deno's cost per module, with no code in them), and only the entry points the load path
// needs ("./elf" and "./prog"); each against the empty C process. The first CO-RE load is
// taken apart by cold_start.ts's "phases" mode (see there).
const here = (p: string) => new URL(p, import.meta.url).pathname;
const exe = here(".build/cold_start");
const script = here("cold_start.ts");
const deno = Deno.execPath();
const testdata = here("../../testdata/");

const PIN_ROOT = `/sys/fs/bpf/ebpf_cold_start_bench_${Deno.pid}`;
Deno.mkdirSync(PIN_ROOT, { recursive: true });
globalThis.addEventListener("unload", () => Deno.removeSync(PIN_ROOT, { recursive: true }));

/** Runs one process; returns its wall time and the "NAME MS" figures it printed. */
function run(cmd: string, args: string[]): { wall: number; figures: Record<string, number> } {
  const t0 = performance.now();
  const out = new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).outputSync();
  const wall = performance.now() - t0;
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(
      `${cmd} ${args.join(" ")} failed:\n${text}${new TextDecoder().decode(out.stderr)}`,
    );
  }
  const figures: Record<string, number> = {};
  for (const line of text.trim().split("\n")) {
    const [name, ms] = line.split(" ");
    if (name) figures[name] = Number(ms);
  }
  return { wall, figures };
}
const c = (...args: string[]) => run(exe, args);
const ts = (...args: string[]) => run(deno, ["run", "-A", script, ...args]);

// Every testdata object libbpf opens (it opens no big-endian one): both sides parse these.
const all = [...Deno.readDirSync(testdata)].filter((e) => e.name.endsWith(".o"))
  .map((e) => testdata + e.name).sort();
const opened = new TextDecoder().decode(
  new Deno.Command(exe, { args: ["opens", ...all], stdout: "piped" }).outputSync().stdout,
).trim().split("\n").filter((l) => l !== "");
if (opened.length === 0) throw new Error("libbpf opened no testdata object");

/** The local modules of `module`'s graph as Deno loads it: how many, how many bytes. */
function graphOf(module: string): { modules: number; bytes: number } {
  const info = JSON.parse(
    new TextDecoder().decode(
      new Deno.Command(deno, { args: ["info", "--json", module], stdout: "piped" }).outputSync()
        .stdout,
    ),
  ) as { modules: { specifier: string; size?: number }[] };
  const local = info.modules.filter((m) => m.specifier.startsWith("file:"));
  return { modules: local.length, bytes: local.reduce((n, m) => n + (m.size ?? 0), 0) };
}
const graph = graphOf(here("../../mod.ts"));

// Inputs of the import rows, at fixed paths under .build/: Deno keys its code cache by
// path, so a fresh temporary name each run would leave a stale entry behind every time.
const work = here(".build/cold_start_imports/");
Deno.mkdirSync(work, { recursive: true });
// As many one-line modules as the graph has, and one module re-exporting them all.
const oneLiners = `${work}one_liners.ts`;
for (let i = 0; i < graph.modules; i++) {
  Deno.writeTextFileSync(`${work}one_liner_${i}.ts`, `export const v${i} = ${i};\n`);
}
Deno.writeTextFileSync(
  oneLiners,
  Array.from({ length: graph.modules }, (_, i) => `export * from "./one_liner_${i}.ts";\n`)
    .join(""),
);
// What the load path needs, through the package's own entry points "./elf" and "./prog"
// (parseCollectionSpec, newCollection) instead of mod.ts, which brings every other one too.
const entries = `${work}elf_and_prog.ts`;
Deno.writeTextFileSync(
  entries,
  `export * from "${here("../../elf/mod.ts")}";\nexport * from "${here("../../prog/mod.ts")}";\n`,
);
const entriesGraph = graphOf(entries);
// The same code as mod.ts's graph in one file; undefined (and said why) without `deno bundle`.
const bundle = ((): string | undefined => {
  const path = `${work}mod.bundle.js`;
  try {
    const out = new Deno.Command(deno, {
      args: ["bundle", "--quiet", "--platform=deno", "-o", path, here("../../mod.ts")],
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).outputSync();
    if (out.success) return path;
    const why = new TextDecoder().decode(out.stderr).trim().split("\n")[0];
    console.log(`deno bundle failed (${why}): the bundle rows are skipped`);
  } catch (e) {
    console.log(`deno bundle did not run (${e}): the bundle rows are skipped`);
  }
  return undefined;
})();
const bundleSize = bundle === undefined ? 0 : Deno.statSync(bundle).size;

// A CO-RE object (both sides load the kernel's BTF for it) and a plain one (no CO-RE, no map
// of maps, whose RCU wait would dominate).
const core = "core_kernel-el.o";
const plain = "link3_usdt-el.o";
const load = (o: string) => ["load", testdata + o, PIN_ROOT];
const kb = (n: number) => `${(n / 1024).toFixed(0)} KiB`;
/** A row: the C process's arguments, the Deno script's, and what the Deno side prints. */
interface Case {
  name: string;
  c: string[];
  deno: string[];
  steps: string[];
}
const cases: Case[] = [
  { name: "empty process", c: ["none"], deno: ["none"], steps: [] },
  {
    name: `import mod.ts: its graph, ${graph.modules} modules, ${kb(graph.bytes)}`,
    c: ["none"],
    deno: ["import"],
    steps: ["imported"],
  },
  ...(bundle === undefined ? [] : [{
    name: `import mod.ts bundled: one file, ${kb(bundleSize)}`,
    c: ["none"],
    deno: [`--from=${bundle}`, "import"],
    steps: ["imported"],
  }]),
  {
    name: `import ${graph.modules} one-line modules (the graph's count, no code)`,
    c: ["none"],
    deno: [`--from=${oneLiners}`, "import"],
    steps: ["imported"],
  },
  {
    name: `import the entry points elf and prog: ${entriesGraph.modules} modules, ${
      kb(entriesGraph.bytes)
    }`,
    c: ["none"],
    deno: [`--from=${entries}`, "import"],
    steps: ["imported"],
  },
  { name: `load ${core}`, c: load(core), deno: load(core), steps: ["parsed", "loaded"] },
  {
    name: `load ${core}, its first load in steps`,
    c: load(core),
    deno: ["phases", testdata + core, PIN_ROOT],
    steps: ["handle", "parsed", "kernelBtf", "candidates", "fixups", "loaded", "reloaded"],
  },
  ...(bundle === undefined ? [] : [{
    name: `load ${core}, mod.ts bundled`,
    c: load(core),
    deno: [`--from=${bundle}`, ...load(core)],
    steps: ["parsed", "loaded"],
  }]),
  {
    name: `load ${core}, imported from the entry points elf and prog`,
    c: load(core),
    deno: [`--from=${entries}`, ...load(core)],
    steps: ["parsed", "loaded"],
  },
  { name: `load ${plain}`, c: load(plain), deno: load(plain), steps: ["parsed", "loaded"] },
  {
    name: `parse ${opened.length} testdata objects`,
    c: ["parse", ...opened],
    deno: ["parse", ...opened],
    steps: ["parsed"],
  },
];

/** What each step of the phases mode is, printed beside its own time (from the step before). */
const PHASE_NOTES: Record<string, string> = {
  handle: "import of btf/handle.ts (in the graph already)",
  parsed: "parseCollectionSpec",
  kernelBtf: "vmlinux BTF mapped, parsed and indexed",
  candidates: "instructions read (lazy until now), CO-RE candidates searched",
  fixups: "CO-RE relocations computed",
  loaded: "the rest of the first newCollection",
  reloaded: "a second newCollection, same process",
};

const ROUNDS = Number(Deno.env.get("COLD_START_ROUNDS") ?? 10);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (xs: number[]) =>
  `${median(xs).toFixed(1).padStart(6)} ${Math.min(...xs).toFixed(1).padStart(6)}`;
const ratio = (a: number[], b: number[]) =>
  `${(median(a) / median(b)).toFixed(2)}× / ${(Math.min(...a) / Math.min(...b)).toFixed(2)}×`;

console.log(
  `cold start, fresh processes alternating C (libbpf) and deno run, ${ROUNDS} rounds; ` +
    "ms, median and min; ratio deno/C of medians / of mins",
);
for (const { name, c: cArgs, deno: dArgs, steps } of cases) {
  const cs: ReturnType<typeof run>[] = [];
  const ds: ReturnType<typeof run>[] = [];
  c(...cArgs), ts(...dArgs); // warm the page cache and Deno's caches
  for (let r = 0; r < ROUNDS; r++) {
    if (r % 2 === 0) cs.push(c(...cArgs)), ds.push(ts(...dArgs));
    else ds.push(ts(...dArgs)), cs.push(c(...cArgs));
  }
  const col = (rs: ReturnType<typeof run>[], key: string) => rs.map((x) => x.figures[key]);
  const walls = [cs.map((x) => x.wall), ds.map((x) => x.wall)];
  console.log(`  ${name}`);
  console.log(
    `    whole process            C ${fmt(walls[0])}   deno ${fmt(walls[1])}   ${
      ratio(walls[1], walls[0])
    }`,
  );
  console.log(`    deno: time origin → script top        ${fmt(col(ds, "start"))}`);
  if (steps.length === 0) continue;
  console.log(`    deno: script top → import() resolved  ${fmt(col(ds, "imported"))}`);
  if (dArgs.includes("phases")) {
    let before = "imported";
    for (const step of steps) {
      const took = ds.map((x) => x.figures[step] - x.figures[before]);
      console.log(`    deno: + ${fmt(took)}  ${PHASE_NOTES[step]}`);
      before = step;
    }
    const loaded = [col(cs, "loaded"), col(ds, "loaded")];
    console.log(
      `    main()/import → loaded   C ${fmt(loaded[0])}   deno ${fmt(loaded[1])}   ${
        ratio(loaded[1], loaded[0])
      }`,
    );
    continue;
  }
  for (const step of steps) {
    if (step === "imported") continue;
    const [cx, dx] = [col(cs, step), col(ds, step)];
    console.log(
      `    main()/import → ${step.padEnd(8)} C ${fmt(cx)}   deno ${fmt(dx)}   ${ratio(dx, cx)}`,
    );
  }
}

// Whole-process averages for `deno task bench`, C the baseline of each group.
for (const { name, c: cArgs, deno: dArgs } of cases) {
  const group = `cold start: ${name}`;
  const runs = { n: ROUNDS, warmup: 1 };
  Deno.bench({
    name: `C process: libbpf ${cArgs[0]} (whole process) ${name}`,
    group,
    baseline: true,
    ...runs,
    fn: () => void c(...cArgs),
  });
  Deno.bench({
    name: `deno run: ${dArgs.filter((a) => !a.startsWith("--")).at(0)} (whole process) ${name}`,
    group,
    ...runs,
    fn: () => void ts(...dArgs),
  });
}
