// Program.load of a 1,000-instruction socket filter (and close) next to the raw
// BPF_PROG_LOAD syscall of the same bytes in C (prog_load.c), same run. The kernel's
// verifier is most of both; the difference is what the library adds per load. Each iteration
// also runs the other side's load, untimed, so both rows are timed after the same work (a
// verifier run evicts caches; on a busy machine consecutive rows would see different loads).
// First, in fresh processes taken in turns, the first load of a process: C against
// prog_load_first.ts (the library imported and the spec built before the clock starts).
import { asm, Program } from "../../mod.ts";
import { INSTRUCTION_COUNT, thousandInstructionSpec } from "./_thousand_instructions.ts";

const FRESH = 7;
const firstLoad = (cmd: string, args: string[]): number => {
  const out = new Deno.Command(cmd, { args, stdout: "piped", stderr: "inherit" }).outputSync();
  if (!out.success) throw new Error(`${cmd} ${args.join(" ")} failed`);
  return Number(new TextDecoder().decode(out.stdout).trim());
};
const cFirst: number[] = [];
const jsFirst: number[] = [];
for (let i = 0; i < FRESH; i++) {
  cFirst.push(firstLoad(new URL(".build/prog_load", import.meta.url).pathname, []));
  jsFirst.push(
    firstLoad(Deno.execPath(), [
      "run",
      "-A",
      new URL("prog_load_first.ts", import.meta.url).pathname,
    ]),
  );
}
const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[xs.length >> 1];
console.log(
  `first load + close of a fresh process, 1000 instructions, median of ${FRESH} (min): ` +
    `C ${median(cFirst).toFixed(2)} ms (${Math.min(...cFirst).toFixed(2)}), Program.load ` +
    `${median(jsFirst).toFixed(2)} ms (${Math.min(...jsFirst).toFixed(2)})`,
);

const COUNT = INSTRUCTION_COUNT;
const spec = thousandInstructionSpec;

const c = Deno.dlopen(new URL(".build/prog_load.so", import.meta.url).pathname, {
  prog_load_loop: { parameters: ["buffer", "i32", "i32"], result: "i32" },
});

const loaded = spec();
const bytes = loaded.instructions.marshal(asm.HOST_BYTE_ORDER);
if (bytes.length !== COUNT * 8) throw new Error(`${bytes.length / 8} instructions`);

Deno.bench({
  name: `C: raw BPF_PROG_LOAD + close, ${COUNT} instructions`,
  group: "prog_load",
  baseline: true,
  fn(b) {
    Program.load(loaded).close();
    b.start();
    const r = c.symbols.prog_load_loop(bytes, COUNT, 1);
    b.end();
    if (r !== 0) throw new Error("C load failed");
  },
});

Deno.bench({
  name: `Program.load + close, ${COUNT} instructions (the same spec each time)`,
  group: "prog_load",
  fn(b) {
    c.symbols.prog_load_loop(bytes, COUNT, 1);
    b.start();
    Program.load(loaded).close();
    b.end();
  },
});

Deno.bench({
  name: `new ProgramSpec + Program.load + close, ${COUNT} instructions (built each time)`,
  group: "prog_load",
  fn(b) {
    c.symbols.prog_load_loop(bytes, COUNT, 1);
    b.start();
    Program.load(spec()).close();
    b.end();
  },
});
