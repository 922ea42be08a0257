// The TypeScript side of the cold-start benchmark (cold_start_bench.ts), run as a fresh
// `deno run -A cold_start.ts [--from=MODULE] MODE …`, the modes of cold_start.c and more:
//   none                   imports nothing (the fixed cost of `deno run`)
//   import                 imports the package and nothing else
//   load OBJ PIN_ROOT      imports the package, reads OBJ, parseCollectionSpec, newCollection
//   phases OBJ PIN_ROOT    load, with the first load's one-time work done step by step before
//                          newCollection, and then a second newCollection in the same process
//   parse OBJ...           imports the package, reads and parses every OBJ
// --from imports MODULE in place of the package's mod.ts: a `deno bundle` of it, a module
// re-exporting the entry points a load needs, or (import mode) any module; phases needs
// mod.ts itself, whose kernel BTF cache it shares with btf/handle.ts.
// The clock starts at the top of this module, before a dynamic import() of the package's
// mod.ts: what the user's `import` costs is inside the window, as libbpf's relocation at exec
// is inside the C side's (main() runs after it, so a little less). "start" is the time from
// Deno's time origin to the top of this module: the runtime's own start, reported apart.
const t0 = performance.now();
const from = Deno.args[0]?.startsWith("--from=") ? Deno.args[0].slice(7) : undefined;
const [mode, ...args] = from === undefined ? Deno.args : Deno.args.slice(1);
const since = () => (performance.now() - t0).toFixed(3);
if (mode !== "none") {
  const ebpf: typeof import("../../mod.ts") = await import(from ?? "../../mod.ts");
  console.log(`imported ${since()}`);
  if (mode === "import" && args.length === 0) {
    // The import alone.
  } else if (mode === "load" && args.length === 2) {
    const spec = ebpf.parseCollectionSpec(Deno.readFileSync(args[0]));
    console.log(`parsed ${since()}`);
    const coll = ebpf.newCollection(spec, { pinPath: args[1] });
    console.log(`loaded ${since()}`);
    coll.close();
  } else if (mode === "phases" && args.length === 2 && from === undefined) {
    await phases(ebpf, args[0], args[1]);
  } else if (mode === "parse") {
    for (const path of args) ebpf.parseCollectionSpec(Deno.readFileSync(path));
    console.log(`parsed ${since()} ${args.length}`);
  } else {
    throw new Error(`cold_start.ts: unknown mode ${Deno.args.join(" ")}`);
  }
}
console.log(`start ${t0.toFixed(3)}`);

/**
 * The first load of a CO-RE object split into what newCollection does for the first time in
 * a process, each step through the public API and each leaving behind what the load then
 * reuses: the kernel's BTF mapped and indexed (the spec newCollection relocates against),
 * the programs' instructions read (the parse makes them on first use) and the candidates of
 * every relocated type searched in the kernel's BTF (one pass over its names, remembered per
 * spec), and every relocation computed (decoding the kernel types they reach, cached in the
 * spec). "loaded" is then the rest of the first load (maps, object BTF, programs;
 * code still cold), and "reloaded" a second load of the same spec in the same process.
 */
async function phases(ebpf: typeof import("../../mod.ts"), obj: string, pinPath: string) {
  // btf/handle.ts (the package's "./btf/handle" entry) is in mod.ts's graph already.
  const { mapKernelSpec } = await import("../../btf/handle.ts");
  console.log(`handle ${since()}`);
  const spec = ebpf.parseCollectionSpec(Deno.readFileSync(obj));
  console.log(`parsed ${since()}`);
  const vmlinux = mapKernelSpec();
  console.log(`kernelBtf ${since()}`);
  const programs = Object.values(spec.programs).map((p) => p.instructions);
  const cache = new ebpf.btf.CoreCandidateCache();
  cache.prefetch(programs, vmlinux);
  console.log(`candidates ${since()}`);
  for (const insns of programs) ebpf.btf.calcCoreRelocations(insns, vmlinux, { cache });
  console.log(`fixups ${since()}`);
  ebpf.newCollection(spec, { pinPath }).close();
  console.log(`loaded ${since()}`);
  ebpf.newCollection(spec, { pinPath }).close();
  console.log(`reloaded ${since()}`);
}
