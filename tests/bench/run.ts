// Runs the benchmarks and prints each one's time per operation and its ratio to the C
// baseline of its group. Bench names end in "[×N]" when one iteration performs N operations.
//   deno task bench [files...]
const here = new URL(".", import.meta.url).pathname;

const build = new Deno.Command("bash", { args: [`${here}build.sh`] }).outputSync();
if (!build.success) {
  console.error(new TextDecoder().decode(build.stderr));
  Deno.exit(1);
}

const files = Deno.args.length > 0
  ? Deno.args
  : [...Deno.readDirSync(here)].filter((e) => e.name.endsWith("_bench.ts")).map((e) =>
    `${here}${e.name}`
  ).sort();

const out = new Deno.Command(Deno.execPath(), {
  args: ["bench", "--allow-all", "--json", ...files],
  stdout: "piped",
  stderr: "inherit",
}).outputSync();
if (!out.success) Deno.exit(out.code);

interface BenchResult {
  origin: string;
  group: string | null;
  name: string;
  baseline: boolean;
  results: { ok?: { avg: number; n: number } }[];
}
// Bench files may print their own figures (peak memory, say) before the JSON report.
const stdout = new TextDecoder().decode(out.stdout);
const jsonStart = stdout.search(/^\{/m);
if (jsonStart > 0) console.log(stdout.slice(0, jsonStart).trimEnd());
const report = JSON.parse(stdout.slice(jsonStart)) as { benches: BenchResult[] };

const perOp = (b: BenchResult): number | undefined => {
  const avg = b.results[0]?.ok?.avg;
  if (avg === undefined) return undefined;
  const m = /\[×(\d+)\]$/.exec(b.name);
  return avg / (m ? Number(m[1]) : 1);
};

const fmt = (ns: number) =>
  ns >= 1e6
    ? `${(ns / 1e6).toFixed(2)} ms`
    : ns >= 1e3
    ? `${(ns / 1e3).toFixed(3)} µs`
    : `${ns.toFixed(1)} ns`;

const rows: string[][] = [["benchmark", "per op", "vs C baseline"]];
for (const b of report.benches) {
  const ns = perOp(b);
  if (ns === undefined) {
    rows.push([b.name, "failed", ""]);
    continue;
  }
  const base = report.benches.find((x) => x.baseline && x.group === b.group && x.group !== null);
  const baseNs = base ? perOp(base) : undefined;
  const ratio = b.baseline ? "1.00 (baseline)" : baseNs ? `${(ns / baseNs).toFixed(2)}×` : "";
  rows.push([b.name, fmt(ns), ratio]);
}
const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i])).join("  "));
