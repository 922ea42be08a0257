// The TypeScript side of the cold-start benchmark (cold_start_bench.ts), run as a fresh
// `deno run -A cold_start.ts MODE …`, the same modes as cold_start.c:
//   none                   imports nothing (the fixed cost of `deno run`)
//   load OBJ PIN_ROOT      imports the package, reads OBJ, parseCollectionSpec, newCollection
//   parse OBJ...           imports the package, reads and parses every OBJ
// The clock starts at the top of this module, before a dynamic import() of the package's
// mod.ts: what the user's `import` costs is inside the window, as libbpf's relocation at exec
// is inside the C side's (main() runs after it, so a little less). "start" is the time from
// Deno's time origin to the top of this module: the runtime's own start, reported apart.
const t0 = performance.now();
const [mode, ...args] = Deno.args;
const since = () => (performance.now() - t0).toFixed(3);
if (mode !== "none") {
  const ebpf = await import("../../mod.ts");
  console.log(`imported ${since()}`);
  if (mode === "load" && args.length === 2) {
    const spec = ebpf.parseCollectionSpec(Deno.readFileSync(args[0]));
    console.log(`parsed ${since()}`);
    const coll = ebpf.newCollection(spec, { pinPath: args[1] });
    console.log(`loaded ${since()}`);
    coll.close();
  } else if (mode === "parse") {
    for (const path of args) ebpf.parseCollectionSpec(Deno.readFileSync(path));
    console.log(`parsed ${since()} ${args.length}`);
  } else {
    throw new Error(`cold_start.ts: unknown mode ${Deno.args.join(" ")}`);
  }
}
console.log(`start ${t0.toFixed(3)}`);
