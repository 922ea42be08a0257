// The first Program.load (and close) of a fresh process, after the library is imported and the
// spec built: what one-time setup (opening libc, compiling the load path) adds to the kernel's
// own first load of a process. Prints the milliseconds; prog_load_bench.ts runs it.
//   deno run -A tests/bench/prog_load_first.ts
import { Program } from "../../mod.ts";
import { thousandInstructionSpec } from "./_thousand_instructions.ts";

const spec = thousandInstructionSpec();
const start = performance.now();
Program.load(spec).close();
console.log((performance.now() - start).toFixed(3));
