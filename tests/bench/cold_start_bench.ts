// Cold start: a fresh process that parses an object and loads it as a collection, and one that
// parses many objects, this package in `deno run` against libbpf in a C process
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

// A CO-RE object (both sides load the kernel's BTF for it) and a plain one (no CO-RE, no map
// of maps, whose RCU wait would dominate).
const objects = ["core_kernel-el.o", "link3_usdt-el.o"];
const cases: { name: string; args: string[] }[] = [
  { name: "empty process", args: ["none"] },
  ...objects.map((o) => ({ name: `load ${o}`, args: ["load", testdata + o, PIN_ROOT] })),
  { name: `parse ${opened.length} testdata objects`, args: ["parse", ...opened] },
];

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
for (const { name, args } of cases) {
  const cs: ReturnType<typeof run>[] = [];
  const ds: ReturnType<typeof run>[] = [];
  c(...args), ts(...args); // warm the page cache and Deno's caches
  for (let r = 0; r < ROUNDS; r++) {
    if (r % 2 === 0) cs.push(c(...args)), ds.push(ts(...args));
    else ds.push(ts(...args)), cs.push(c(...args));
  }
  const col = (rs: ReturnType<typeof run>[], key: string) => rs.map((x) => x.figures[key]);
  const walls = [cs.map((x) => x.wall), ds.map((x) => x.wall)];
  console.log(`  ${name}`);
  console.log(
    `    whole process            C ${fmt(walls[0])}   deno ${fmt(walls[1])}   ${
      ratio(walls[1], walls[0])
    }`,
  );
  if (args[0] === "none") {
    console.log(`    deno: time origin → script top        ${fmt(col(ds, "start"))}`);
    continue;
  }
  console.log(`    deno: time origin → script top        ${fmt(col(ds, "start"))}`);
  console.log(`    deno: script top → import() resolved  ${fmt(col(ds, "imported"))}`);
  for (const step of args[0] === "load" ? ["parsed", "loaded"] : ["parsed"]) {
    const [cx, dx] = [col(cs, step), col(ds, step)];
    console.log(
      `    main()/import → ${step.padEnd(8)} C ${fmt(cx)}   deno ${fmt(dx)}   ${ratio(dx, cx)}`,
    );
  }
}

// Whole-process averages for `deno task bench`, C the baseline of each group.
for (const { name, args } of cases) {
  const group = `cold start: ${name}`;
  const runs = { n: ROUNDS, warmup: 1 };
  Deno.bench({
    name: `C process: libbpf ${args[0]} (whole process) ${name}`,
    group,
    baseline: true,
    ...runs,
    fn: () => void c(...args),
  });
  Deno.bench({
    name: `deno run: ${args[0]} (whole process) ${name}`,
    group,
    ...runs,
    fn: () => void ts(...args),
  });
}
