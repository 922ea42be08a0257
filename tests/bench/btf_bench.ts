// BTF parse + walk of vmlinux: this package against libbpf (btf__parse + a walk over every
// type and member, tests/bench/btf_parse.c), same run. Peak memory is measured in child
// processes and printed first.
//   deno bench -A tests/bench/btf_bench.ts     (after tests/bench/build.sh)
import { loadSpec, parseSpec } from "../../btf/mod.ts";
import { walkObjects, walkRaw } from "./btf_walk.ts";

const VMLINUX = "/sys/kernel/btf/vmlinux";
const here = (p: string) => new URL(p, import.meta.url).pathname;
const so = here(".build/btf_parse.so");
const exe = here(".build/btf_parse");

const lib = Deno.dlopen(
  so,
  {
    btf_parse_walk: { parameters: ["buffer"], result: "u64" },
    btf_new_walk: { parameters: ["buffer", "u32"], result: "u64" },
  } as const,
);
const cPath = (p: string) => new TextEncoder().encode(p + "\0");
const sysPath = cPath(VMLINUX);

// A copy on a regular file system: sysfs hands out 4 KiB per read(), a file does not.
const COPY = Deno.makeTempFileSync({ prefix: "vmlinux-", suffix: ".btf" });
const bytes = Deno.readFileSync(VMLINUX);
Deno.writeFileSync(COPY, bytes);
const copyPath = cPath(COPY);
globalThis.addEventListener("unload", () => Deno.removeSync(COPY));

// The same checksum on both sides shows the walks read the same fields.
const cSum = Number(lib.symbols.btf_parse_walk(sysPath));
const tsSum = walkRaw(loadSpec(VMLINUX));
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
// Deno 2 lets only -A read /proc/self/status.
const cPeak = peak(exe, [VMLINUX]);
const denoIdle = peak(deno, ["run", "-A", mem, "none"]);
const rawPeak = peak(deno, ["run", "-A", mem, "raw"]);
const objPeak = peak(deno, ["run", "-A", mem, "objects"]);
const mib = (kb: number) => `${(kb / 1024).toFixed(1)} MiB`;
console.log(
  `peak memory (VmHWM) to parse and walk vmlinux, each in a fresh process:\n` +
    `  libbpf (C process):          ${mib(cPeak)}\n` +
    `  deno, nothing parsed:        ${mib(denoIdle)}\n` +
    `  deno, parse + raw walk:      ${mib(rawPeak)} (+${mib(rawPeak - denoIdle)} over idle)\n` +
    `  deno, parse + object walk:   ${mib(objPeak)} (+${mib(objPeak - denoIdle)} over idle)\n` +
    `  vmlinux BTF size:            ${mib(bytes.length / 1024)}`,
);

const g1 = "parse and walk /sys/kernel/btf/vmlinux";
Deno.bench({
  name: "libbpf btf__parse + walk (C)",
  group: g1,
  baseline: true,
  fn() {
    lib.symbols.btf_parse_walk(sysPath);
  },
});
Deno.bench({
  name: "loadSpec + raw walk",
  group: g1,
  fn() {
    walkRaw(loadSpec(VMLINUX));
  },
});
Deno.bench({
  name: "loadSpec + object walk (every type and member decoded)",
  group: g1,
  fn() {
    walkObjects(loadSpec(VMLINUX));
  },
});

const g2 = "parse and walk a copy of vmlinux BTF in a regular file";
Deno.bench({
  name: "libbpf btf__parse + walk (C), file",
  group: g2,
  baseline: true,
  fn() {
    lib.symbols.btf_parse_walk(copyPath);
  },
});
Deno.bench({
  name: "loadSpec + raw walk, file",
  group: g2,
  fn() {
    walkRaw(loadSpec(COPY));
  },
});

const g3 = "parse and walk vmlinux BTF already in memory";
Deno.bench({
  name: "libbpf btf__new + walk (C), memory",
  group: g3,
  baseline: true,
  fn() {
    lib.symbols.btf_new_walk(bytes, bytes.length);
  },
});
Deno.bench({
  name: "parseSpec + raw walk, memory",
  group: g3,
  fn() {
    walkRaw(parseSpec(bytes));
  },
});
Deno.bench({
  name: "parseSpec only, memory",
  group: g3,
  fn() {
    parseSpec(bytes);
  },
});

Deno.bench({
  name: "loadSpec + typeByName(task_struct) + its members",
  group: "parse and look up one type",
  fn() {
    const t = loadSpec(VMLINUX).typeByName("task_struct");
    if (!t || t.kind !== "struct" || t.members.length === 0) throw new Error("task_struct");
  },
});
