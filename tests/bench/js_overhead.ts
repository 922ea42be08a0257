// What the library's own code adds to a call, without the kernel: each call runs with a
// backend that answers bpf() at once, so the figure hardly depends on how busy the machine
// is (the syscall's time does, a lot). Prints the fastest of 7 rounds, in ns per call.
// Compare with the syscall: an ARRAY lookup is ≈270 ns on a quiet machine here, so 10% is
// ≈27 ns; a 1,000-instruction BPF_PROG_LOAD ≈275 µs.
//   deno run -A tests/bench/js_overhead.ts
import { BpfMap, btf, MapSpec, MapType, Program } from "../../mod.ts";
import { BpfCmd, currentBackend, setBackend } from "../../ffi.ts";
import { thousandInstructionSpec } from "./_thousand_instructions.ts";

const u32 = new btf.Int("u32", 4);
const u64 = new btf.Int("u64", 8);
const pair = new btf.Struct("pair", 8, [new btf.Member("a", u32, 0), new btf.Member("b", u32, 32)]);
const array = (value?: btf.Type) =>
  BpfMap.create(
    new MapSpec({
      type: MapType.Array,
      keySize: 4,
      valueSize: 8,
      maxEntries: 1,
      ...(value ? { key: u32, value } : {}),
    }),
  );
const plain = array();
const u64Map = array(u64);
const pairMap = array(pair);
u64Map.update(0, 7n);
pairMap.update(0, { a: 7, b: 0 });
u64Map.lookup(0); // codecs are made on first use
pairMap.lookup(0);

const spec = thousandInstructionSpec();
Program.load(spec).close(); // probes settle against the real kernel

const real = currentBackend();
const fakeFd = plain.fd; // never closed: the Programs below are dropped, not closed
setBackend({
  bpf: (cmd) => (cmd === BpfCmd.PROG_LOAD ? fakeFd : 0),
  address: (b) => real.address(b),
});

const out = new Uint8Array(8);
const bytes = new Uint8Array(8);
let sink = 0;
const cases: [string, () => void, number][] = [
  ["BpfMap.lookupInto", () => void (plain.lookupInto(0, out) && sink++), 1e6],
  ["BpfMap.lookup, bytes out", () => void (sink += (plain.lookup(0) as Uint8Array)[0]), 1e6],
  ["BpfMap.lookup, BTF u64 (bigint out)", () => void (u64Map.lookup(0) && sink++), 1e6],
  ["BpfMap.lookup, BTF struct (object out)", () => void (pairMap.lookup(0) && sink++), 1e6],
  ["BpfMap.update, Uint8Array", () => plain.update(0, bytes), 1e6],
  ["BpfMap.update, bigint", () => plain.update(0, 7n), 1e6],
  ["BpfMap.update, number", () => plain.update(0, 7), 1e6],
  ["BpfMap.update, BTF u64 (bigint)", () => u64Map.update(0, 7n), 1e6],
  ["BpfMap.update, BTF struct (object)", () => pairMap.update(0, { a: 7, b: 0 }), 1e6],
  ["Program.load, 1,000 instructions", () => void Program.load(spec), 2000],
];
for (const [name, f, n] of cases) {
  let best = Infinity;
  for (let round = 0; round < 7; round++) {
    const t = performance.now();
    for (let i = 0; i < n; i++) f();
    best = Math.min(best, performance.now() - t);
  }
  const ns = (best * 1e6) / n;
  console.log(
    `${name.padEnd(40)} ${ns >= 1000 ? `${(ns / 1000).toFixed(1)} µs` : `${ns.toFixed(1)} ns`}`,
  );
}
if (sink < 0) console.log(sink);
Deno.exit(0); // the fake Programs' FDs must not be closed by their finalizers
