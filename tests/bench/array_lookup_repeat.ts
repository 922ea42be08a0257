// Runs array_lookup_bench.ts several times and prints, for each benchmark, the lowest and
// the median of its per-run average time per operation, with both ratios to each C
// baseline: on a shared machine one run's ratio moves by several percent.
//   deno run --allow-all tests/bench/array_lookup_repeat.ts [runs]
const here = new URL(".", import.meta.url).pathname;
const runs = Number(Deno.args[0] ?? 7);

const build = new Deno.Command("bash", { args: [`${here}build.sh`] }).outputSync();
if (!build.success) throw new Error(new TextDecoder().decode(build.stderr));

interface Bench {
  name: string;
  results: { ok?: { avg: number } }[];
}
const perOp = new Map<string, number[]>();
for (let i = 0; i < runs; i++) {
  const out = new Deno.Command(Deno.execPath(), {
    args: ["bench", "--allow-all", "--json", `${here}array_lookup_bench.ts`],
    stdout: "piped",
    stderr: "inherit",
  }).outputSync();
  if (!out.success) Deno.exit(out.code);
  const text = new TextDecoder().decode(out.stdout);
  const report = JSON.parse(text.slice(text.search(/^\{/m))) as { benches: Bench[] };
  for (const b of report.benches) {
    const avg = b.results[0]?.ok?.avg;
    if (avg === undefined) throw new Error(`${b.name} failed`);
    const ops = Number(/\[×(\d+)\]$/.exec(b.name)?.[1] ?? 1);
    const name = b.name.replace(/ \[×\d+\]$/, "");
    perOp.set(name, [...perOp.get(name) ?? [], avg / ops]);
  }
}

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { min: s[0], median: s[Math.floor(s.length / 2)] };
};
const byName = new Map([...perOp].map(([n, xs]) => [n, stats(xs)]));
const pick = (prefix: string) => [...byName].find(([n]) => n.startsWith(prefix))?.[1];
const bases = {
  "C lookup 192 B": pick("C: ARRAY lookup, reused attr"),
  "C lookup 32 B": pick("C: ARRAY lookup, 32-byte"),
  "C update 192 B": pick("C: ARRAY update, reused attr"),
  "C update 32 B": pick("C: ARRAY update, 32-byte"),
};
console.log(`${runs} runs; per op: min / median of the runs' averages`);
for (const [name, s] of byName) {
  const group = /update/.test(name) ? ["C update 192 B", "C update 32 B"] as const : [
    "C lookup 192 B",
    "C lookup 32 B",
  ] as const;
  const ratios = group.map((g) => {
    const b = bases[g];
    return b ? `vs ${g} ${(s.min / b.min).toFixed(3)} / ${(s.median / b.median).toFixed(3)}` : "";
  });
  console.log(
    `${name.padEnd(56)} ${s.min.toFixed(1)} / ${s.median.toFixed(1)} ns  ${ratios.join("  ")}`,
  );
}
