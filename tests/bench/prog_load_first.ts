// The first Program.load (and close) of a fresh process, after the library is imported and the
// spec built: what one-time setup (opening libc, compiling the load path) adds to the kernel's
// own first load of a process. Prints the milliseconds; prog_load_bench.ts runs it.
//   deno run -A tests/bench/prog_load_first.ts
import { asm, Program, ProgramSpec, ProgramType } from "../../mod.ts";

const { R0, Mov, Add, Return } = asm;
const list = [Mov.Imm(R0, 0)];
for (let i = 1; i < 999; i++) list.push(Add.Imm(R0, i & 7));
list.push(Return());
const spec = new ProgramSpec({
  name: "bench",
  type: ProgramType.SocketFilter,
  license: "GPL",
  instructions: new asm.Instructions(list),
});
const start = performance.now();
Program.load(spec).close();
console.log((performance.now() - start).toFixed(3));
