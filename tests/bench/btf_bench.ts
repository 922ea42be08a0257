// BTF parse + walk of vmlinux: this package against libbpf (btf__parse + a walk over every
// type and member, tests/bench/btf_parse.c), same run. Peak memory is measured in child
// processes and printed first.
//   deno bench -A tests/bench/btf_bench.ts     (after tests/bench/build.sh)
import { parseSpec } from "../../btf/mod.ts";
import { walkObjects, walkRaw } from "./btf_walk.ts";

const VMLINUX = "/sys/kernel/btf/vmlinux";
const here = (p: string) => new URL(p, import.meta.url).pathname;
const so = here(".build/btf_parse.so");
const exe = here(".build/btf_parse");

const lib = Deno.dlopen(
  so,
  {
    btf_parse_walk: { parameters: ["buffer"], result: "u64" },
  } as const,
);
const pathArg = new TextEncoder().encode(VMLINUX + "\0");

// The same checksum on both sides shows the walks read the same fields.
const cSum = Number(lib.symbols.btf_parse_walk(pathArg));
const tsSum = walkRaw(parseSpec(Deno.readFileSync(VMLINUX)));
if (cSum !== tsSum) throw new Error(`Checksums differ: libbpf ${cSum}, ours ${tsSum}`);

function peak(cmd: string, args: string[]): number {
  const out = new Deno.Command(cmd, { args, stdout: "piped" }).outputSync();
  const text = new TextDecoder().decode(out.stdout);
  const m = text.match(/VmHWM:\s+(\d+) kB/);
  if (!out.success || !m) throw new Error(`${cmd} ${args.join(" ")} failed: ${text}`);
  return Number(m[1]);
}
const deno = Deno.execPath();
const mem = here("btf_mem.ts");
const cPeak = peak(exe, [VMLINUX]);
// Deno 2 lets only -A read /proc/self/status.
const allow = "-A";
const denoIdle = peak(deno, ["run", allow, mem, "none"]);
const rawPeak = peak(deno, ["run", allow, mem, "raw"]);
const objPeak = peak(deno, ["run", allow, mem, "objects"]);
const mb = (kb: number) => `${(kb / 1024).toFixed(1)} MiB`;
console.log(
  `peak memory (VmHWM) to parse and walk vmlinux:\n` +
    `  libbpf (C process):          ${mb(cPeak)}\n` +
    `  deno, nothing parsed:        ${mb(denoIdle)}\n` +
    `  deno, parse + raw walk:      ${mb(rawPeak)} (+${mb(rawPeak - denoIdle)} over idle)\n` +
    `  deno, parse + object walk:   ${mb(objPeak)} (+${mb(objPeak - denoIdle)} over idle)\n` +
    `  vmlinux BTF size:            ${mb(Deno.statSync(VMLINUX).size / 1024)}`,
);

Deno.bench({
  name: "libbpf btf__parse + walk (C)",
  group: "parse and walk vmlinux",
  baseline: true,
  fn() {
    lib.symbols.btf_parse_walk(pathArg);
  },
});

Deno.bench({
  name: "parseSpec + raw walk",
  group: "parse and walk vmlinux",
  fn() {
    walkRaw(parseSpec(Deno.readFileSync(VMLINUX)));
  },
});

Deno.bench({
  name: "parseSpec + object walk (every type and member decoded)",
  group: "parse and walk vmlinux",
  fn() {
    walkObjects(parseSpec(Deno.readFileSync(VMLINUX)));
  },
});

Deno.bench({
  name: "parseSpec + typeByName(task_struct) + its members",
  group: "parse and look up one type",
  fn() {
    const spec = parseSpec(Deno.readFileSync(VMLINUX));
    const t = spec.typeByName("task_struct");
    if (!t || t.kind !== "struct" || t.members.length === 0) throw new Error("task_struct");
  },
});
