// BTF parse + walk of vmlinux: this package against libbpf (btf__parse + a walk over every
// type and member, tests/bench/btf_parse.c), same run. Memory is measured in fresh
// processes (btf_mem.ts and the C executable) and printed first.
//   deno bench -A tests/bench/btf_bench.ts     (after tests/bench/build.sh)
import { loadSpec, parseSpec, Struct } from "../../btf/mod.ts";
import { mapKernelBtf } from "../../btf/handle.ts";
import { walkObjects, walkRaw } from "./btf_walk.ts";
import { infoWords } from "./btf_floor.ts";

const VMLINUX = "/sys/kernel/btf/vmlinux";
const here = (p: string) => new URL(p, import.meta.url).pathname;
const so = here(".build/btf_parse.so");
const exe = here(".build/btf_parse");

const lib = Deno.dlopen(
  so,
  {
    btf_parse_walk: { parameters: ["buffer"], result: "u64" },
    btf_parse_walk_resolved: { parameters: ["buffer"], result: "u64" },
    btf_mmap_walk: { parameters: ["buffer"], result: "u64" },
    btf_new_walk: { parameters: ["buffer", "u32"], result: "u64" },
    btf_parse_find: { parameters: ["buffer", "buffer"], result: "u64" },
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

// Linux 6.16 lets /sys/kernel/btf/vmlinux be mapped; older kernels skip those rows.
const canMap = mapKernelBtf() !== undefined;

// The same checksums on both sides show that the walks read the same fields.
function check(what: string, c: bigint, ts: number): void {
  if (Number(c) !== ts) throw new Error(`${what} checksums differ: libbpf ${c}, ours ${ts}`);
}
check("raw walk", lib.symbols.btf_parse_walk(sysPath), walkRaw(loadSpec(VMLINUX)));
check("object walk", lib.symbols.btf_parse_walk_resolved(sysPath), walkObjects(loadSpec(VMLINUX)));
if (canMap) {
  check("mapped walk", lib.symbols.btf_mmap_walk(sysPath), walkRaw(parseSpec(mapKernelBtf()!)));
}
const taskMembers = loadSpec(VMLINUX).typeByName("task_struct", Struct)!.members.length;
check("task_struct", lib.symbols.btf_parse_find(sysPath, cPath("task_struct")), taskMembers);

interface Mem {
  hwm: number;
  anon: number;
  /** V8 heap committed and used, and memory outside it (Deno only; NaN for C). */
  heapTotal: number;
  heapUsed: number;
  external: number;
}
function memory(cmd: string, args: string[]): Mem {
  const out = new Deno.Command(cmd, { args, stdout: "piped" }).outputSync();
  const text = new TextDecoder().decode(out.stdout);
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(text)?.[1] ?? NaN);
  const m = {
    hwm: kb("VmHWM"),
    anon: kb("RssAnon"),
    heapTotal: kb("HeapTotal"),
    heapUsed: kb("HeapUsed"),
    external: kb("External"),
  };
  if (!out.success || Number.isNaN(m.hwm + m.anon)) {
    throw new Error(`${cmd} ${args.join(" ")} failed: ${text}`);
  }
  return m;
}
const deno = Deno.execPath();
const mem = here("btf_mem.ts");
// Deno 2 lets only -A read /proc/self/status.
const runs: [string, Mem, Mem][] = [];
const cIdle = memory(exe, ["none"]);
runs.push(["libbpf: btf__parse + raw walk", memory(exe, ["raw"]), cIdle]);
runs.push(["libbpf: btf__parse + resolving walk", memory(exe, ["resolved"]), cIdle]);
const denoIdle = memory(deno, ["run", "-A", mem, "none"]);
runs.push(["deno: loadSpec + raw walk", memory(deno, ["run", "-A", mem, "raw", "read"]), denoIdle]);
if (canMap) {
  runs.push(["deno: mapped + raw walk", memory(deno, ["run", "-A", mem, "raw", "map"]), denoIdle]);
}
runs.push([
  "deno: loadSpec + object walk",
  memory(deno, ["run", "-A", mem, "objects", "read"]),
  denoIdle,
]);
if (canMap) {
  runs.push([
    "deno: mapped + object walk",
    memory(deno, ["run", "-A", mem, "objects", "map"]),
    denoIdle,
  ]);
}
// The floor for the object walk (btf_floor.ts): as many objects with the fewest fields and
// no names, with the spec loaded, and alone in a process that loads no BTF.
runs.push([
  "floor: loadSpec + bare objects",
  memory(deno, ["run", "-A", mem, "floor"]),
  denoIdle,
]);
const INFO = Deno.makeTempFileSync({ prefix: "vmlinux-info-" });
Deno.writeFileSync(INFO, new Uint8Array(infoWords(loadSpec(VMLINUX)).buffer));
runs.push([
  "floor: bare objects alone, no BTF",
  memory(deno, ["run", "-A", mem, "floor-alone", INFO]),
  denoIdle,
]);
Deno.removeSync(INFO);
const mib = (kb: number) => (kb / 1024).toFixed(1).padStart(6);
console.log(
  `memory to parse and walk vmlinux (${
    mib(bytes.length / 1024).trim()
  } MiB of BTF), each in a fresh process, in MiB:\n` +
    `  ${"".padEnd(36)}  peak RSS  over idle  private over idle  ` +
    `V8 heap committed / used, external, over idle\n` +
    `  ${"libbpf, idle (nothing parsed)".padEnd(36)}  ${mib(cIdle.hwm)}\n` +
    `  ${"deno, idle (nothing parsed)".padEnd(36)}  ${mib(denoIdle.hwm)}\n` +
    runs.map(([name, m, idle]) =>
      `  ${name.padEnd(36)}  ${mib(m.hwm)}    ${mib(m.hwm - idle.hwm)}    ${
        mib(m.anon - idle.anon)
      }` + (Number.isNaN(m.heapTotal)
        ? ""
        : `            ${mib(m.heapTotal - idle.heapTotal)} / ${
          mib(m.heapUsed - idle.heapUsed).trim()
        }, ${mib(m.external - idle.external).trim()}`)
    ).join("\n"),
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
if (canMap) {
  Deno.bench({
    name: "libbpf mmap + btf__new + walk (C)",
    group: g1,
    fn() {
      lib.symbols.btf_mmap_walk(sysPath);
    },
  });
  Deno.bench({
    name: "mapKernelBtf + parseSpec + raw walk",
    group: g1,
    fn() {
      walkRaw(parseSpec(mapKernelBtf()!));
    },
  });
}

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

const g4 = "parse vmlinux and read every type, name and reference";
Deno.bench({
  name: "libbpf btf__parse + resolving walk (C)",
  group: g4,
  baseline: true,
  fn() {
    lib.symbols.btf_parse_walk_resolved(sysPath);
  },
});
Deno.bench({
  name: "loadSpec + object walk (every type and member decoded)",
  group: g4,
  fn() {
    walkObjects(loadSpec(VMLINUX));
  },
});
if (canMap) {
  Deno.bench({
    name: "mapKernelBtf + parseSpec + object walk",
    group: g4,
    fn() {
      walkObjects(parseSpec(mapKernelBtf()!));
    },
  });
}

const g5 = "parse vmlinux and look up one struct and its members";
const taskName = cPath("task_struct");
Deno.bench({
  name: "libbpf btf__parse + btf__find_by_name_kind(task_struct) (C)",
  group: g5,
  baseline: true,
  fn() {
    lib.symbols.btf_parse_find(sysPath, taskName);
  },
});
Deno.bench({
  name: "loadSpec + typeByName(task_struct) + its members",
  group: g5,
  fn() {
    const t = loadSpec(VMLINUX).typeByName("task_struct", Struct);
    if (!t || t.members.length === 0) throw new Error("task_struct");
  },
});
if (canMap) {
  Deno.bench({
    name: "mapKernelBtf + parseSpec + typeByName(task_struct) + its members",
    group: g5,
    fn() {
      const t = parseSpec(mapKernelBtf()!).typeByName("task_struct", Struct);
      if (!t || t.members.length === 0) throw new Error("task_struct");
    },
  });
}
