// cmd/bpf2ts: bindings generated for testdata/cli_bindings.c pass deno check and deno lint,
// and a program using them loads the collection and reads BTF-typed values as typed objects;
// --type decoders, host byte order and target, stripped objects, fmt at Deno's defaults, and
// a program including a whole vmlinux.h are in bpf2ts_output_test.ts.
import { assertEquals, assertStringIncludes } from "@std/assert";
import { kernelTest } from "../_harness.ts";
import { generate, objectsFor } from "../../cmd/bpf2ts.ts";

import { deno, root } from "./_run.ts";

/** Generates bindings for `source` into a temporary directory inside the repository. */
function generateInto(dir: string, source: string, name: string): string {
  const r = deno([
    "run",
    "--allow-read",
    "--allow-write",
    "--allow-run",
    `${root}cmd/bpf2ts.ts`,
    `${root}${source}`,
    "--out",
    `${dir}/${name}.ts`,
    "--import",
    "../mod.ts",
  ], root);
  assertEquals(r.ok, true, r.out);
  return `${dir}/${name}.ts`;
}

Deno.test("bpf2ts: types follow what the map codecs decode to", () => {
  const objects = objectsFor(`${root}testdata/cli_bindings-el.o`, [], "both");
  const text = generate({ name: "cli_bindings", ...objects, importFrom: "../mod.ts", source: "x" });
  // u64 → bigint, char[] → string, enum → names, nested struct, union members optional,
  // bitfields numbers, _Bool boolean, typedef'd anonymous struct named by its typedef.
  assertStringIncludes(text, 'export type Color = "RED" | "GREEN" | "BLUE" | number;');
  assertStringIncludes(
    text,
    "export interface Sample {\n  total: bigint;\n  label: string;\n  color: Color;\n" +
      "  where: Point;\n  history: number[];\n  small: number;\n  flag: number;\n" +
      "  as_u32?: number;\n  as_bytes?: string;\n  seen: boolean;\n}",
  );
  assertStringIncludes(text, "export interface StatsT {\n  runs: number;\n  last_len: number;\n}");
  assertStringIncludes(text, "readonly samples: ebpf.TypedMap<number, Sample>;");
  assertStringIncludes(text, "readonly stats: ebpf.TypedMap<number, StatsT[]>;");
  assertStringIncludes(text, "readonly events: ebpf.BpfMap;");
  assertStringIncludes(text, "readonly origin: ebpf.Variable<Point>;");
  assertStringIncludes(text, "readonly runs_total: ebpf.Variable<bigint>;");
  assertStringIncludes(text, "readonly default_color: ebpf.Variable<Color>;");
  // Both byte orders asked for and embedded: the -el.o's twin was found.
  assertEquals(objects.little !== undefined && objects.big !== undefined, true);
});

kernelTest("bpf2ts: generated from C, checked, linted, loaded, typed values read", () => {
  const dir = Deno.makeTempDirSync({ dir: root, prefix: "bpf2ts-test-" });
  try {
    generateInto(dir, "testdata/cli_bindings.c", "bindings");
    // A user of the bindings: type annotations make deno check prove the types.
    Deno.writeTextFileSync(
      `${dir}/use.ts`,
      `import { type Color, loadCliBindings, type Point, type Sample } from "./bindings.ts";

using objs = loadCliBindings({ constants: { multiplier: 3, default_color: "BLUE" } });
const run = objs.programs.record.run({ data: new Uint8Array(40) });
// The program keys the sample by skb->len (the test packet less its Ethernet header).
const [[len, first]] = [...objs.maps.samples.entries()];
const s: Sample | undefined = objs.maps.samples.lookup(len);
if (s === undefined || JSON.stringify(s, (_k, v) => typeof v === "bigint" ? String(v) : v) !==
  JSON.stringify(first, (_k, v) => typeof v === "bigint" ? String(v) : v)) {
  throw new Error("lookup and iteration disagree");
}
const total: bigint = s.total;
const label: string = s.label;
const color: Color = s.color;
const where: Point = s.where;
const runs = objs.maps.stats.lookup(0)!.reduce((a, v) => a + v.runs, 0);
const runsTotal: bigint = objs.variables.runs_total.get();
objs.variables.origin.set({ x: 1, y: 2 });
const multiplier: number = objs.variables.multiplier.get();
console.log(JSON.stringify({
  retval: run.retval,
  len,
  total: String(total),
  label,
  color,
  where,
  history: s.history,
  small: s.small,
  flag: s.flag,
  seen: s.seen,
  asU32: s.as_u32,
  runs,
  runsTotal: String(runsTotal),
  origin: objs.variables.origin.get(),
  multiplier,
  // Read and written in place in the mmap()ed sections, read-only for .rodata.
  mapped: objs.variables.origin.mapped && objs.variables.runs_total.mapped,
  readOnly: [objs.variables.multiplier.readOnly, objs.variables.origin.readOnly],
}));
`,
    );
    const check = deno(["check", `${dir}/bindings.ts`, `${dir}/use.ts`], root);
    assertEquals(check.ok, true, check.out);
    const lint = deno(["lint", `${dir}/bindings.ts`], root);
    assertEquals(lint.ok, true, lint.out);
    const fmt = deno(["fmt", "--check", `${dir}/bindings.ts`], root);
    assertEquals(fmt.ok, true, fmt.out);
    // A type error in a user's code is caught: the bindings are typed, not `any`.
    Deno.writeTextFileSync(
      `${dir}/wrong.ts`,
      `import { loadCliBindings } from "./bindings.ts";
using objs = loadCliBindings();
const n: number = objs.maps.samples.lookup(1)!.total;
const pid: string = objs.variables.runs_total.get();
console.log(n, pid);
`,
    );
    const wrong = deno(["check", `${dir}/wrong.ts`], root);
    assertEquals(wrong.ok, false);
    assertStringIncludes(wrong.out, "Type 'bigint' is not assignable to type 'number'");
    assertStringIncludes(wrong.out, "Type 'bigint' is not assignable to type 'string'");

    const r = deno(["run", "-A", `${dir}/use.ts`], root);
    assertEquals(r.ok, true, r.out);
    assertEquals(JSON.parse(r.out), {
      retval: 0,
      len: 40 - 14,
      total: String((40 - 14) * 3 + 0x100000000),
      label: "sample",
      color: "BLUE",
      where: { x: -3, y: 7 },
      history: [1, 2, 3],
      small: 5,
      flag: 1,
      seen: true,
      asU32: 0x01020304,
      runs: 1,
      runsTotal: "1",
      origin: { x: 1, y: 2 },
      multiplier: 3,
      mapped: true,
      readOnly: [true, false],
    });
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("bpf2ts: bad input is an error with a message, not a crash", () => {
  const dir = Deno.makeTempDirSync({ prefix: "bpf2ts-bad-" });
  try {
    Deno.writeTextFileSync(`${dir}/broken.c`, "int f( {");
    const r = deno(["run", "-A", `${root}cmd/bpf2ts.ts`, `${dir}/broken.c`], root);
    assertEquals(r.ok, false);
    assertStringIncludes(r.out, "bpf2ts: Cannot compile");
    Deno.writeFileSync(`${dir}/junk.o`, new Uint8Array(100));
    const j = deno(["run", "-A", `${root}cmd/bpf2ts.ts`, `${dir}/junk.o`], root);
    assertEquals(j.ok, false);
    assertStringIncludes(j.out, "bpf2ts:");
    const u = deno(["run", "-A", `${root}cmd/bpf2ts.ts`, "--bogus"], root);
    assertStringIncludes(u.out, "Unknown option: '--bogus'");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("bpf2ts: the committed bindings embed the committed objects", () => {
  const cases: [string, string, string][] = [[
    "cmd/_demo_syscalls_bpf.ts",
    "testdata/demo_syscalls",
    "demoSyscallsObject",
  ]];
  for (const [bindings, object, fn] of cases) {
    const text = Deno.readTextFileSync(`${root}${bindings}`);
    assertStringIncludes(text, `export function ${fn}(`);
    const objects = objectsFor(`${root}${object}-el.o`);
    const again = generate({
      name: "demo_syscalls",
      ...objects,
      importFrom: "../mod.ts",
      source: "demo_syscalls-el.o",
    });
    assertEquals(text, again, `${bindings} is stale: regenerate it with deno task bpf2ts`);
  }
});
