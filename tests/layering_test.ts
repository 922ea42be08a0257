// The layering of DESIGN.md, checked: the spec layer (asm/, btf/, elf/ and the spec files
// of map/ and prog/) never reaches ffi.ts, and asm/ imports nothing of ours but errors.ts.
import { assertEquals } from "@std/assert";

const root = new URL("..", import.meta.url);

interface ModuleGraph {
  modules: { specifier: string; dependencies?: { code?: { specifier: string } }[] }[];
}

function graphOf(entry: string): ModuleGraph {
  const out = new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", new URL(entry, root).pathname],
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

/** Our own modules reachable from `entry`, as paths relative to the repository root. */
function reachable(entry: string): string[] {
  return graphOf(entry).modules
    .map((m) => m.specifier)
    .filter((s) => s.startsWith(root.href))
    .map((s) => s.slice(root.href.length));
}

function specEntries(): string[] {
  const entries = ["asm/mod.ts", "btf/mod.ts", "elf/mod.ts"];
  for (const dir of ["map", "prog", "log"]) {
    for (const e of Deno.readDirSync(new URL(`${dir}/`, root))) {
      // Spec files are named for what they describe: *_spec.ts, and *_type.ts enum tables.
      if (/(^|_)(spec|type)s?\.ts$/.test(e.name)) entries.push(`${dir}/${e.name}`);
    }
  }
  return entries;
}

Deno.test("layering: the spec layer never reaches ffi.ts", () => {
  for (const entry of specEntries()) {
    const offenders = reachable(entry).filter((p) =>
      p === "ffi.ts" || p.startsWith("_internal/fd")
    );
    assertEquals(offenders, [], `${entry} reaches the syscall layer`);
  }
});

Deno.test("layering: asm/ imports nothing of ours but errors.ts", () => {
  const outside = reachable("asm/mod.ts").filter((p) => !p.startsWith("asm/") && p !== "errors.ts");
  assertEquals(outside, []);
});

Deno.test("layering: mod.ts loads without any permission", () => {
  const out = new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-prompt", `await import(${JSON.stringify(new URL("mod.ts", root).href)})`],
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  assertEquals(out.success, true, new TextDecoder().decode(out.stderr));
});

Deno.test("layering: importing mod.ts loads no node: module", () => {
  // A node: import, even of one function, makes Deno load its whole Node compatibility layer
  // at start-up (~50 ms for node:zlib): a cost on every process that imports the package.
  // Type-only references (`typeof import("node:…")`) load nothing, so only code edges count.
  const graph = graphOf("mod.ts");
  const bySpecifier = new Map(graph.modules.map((m) => [m.specifier, m]));
  const seen = new Set<string>();
  const stack = [new URL("mod.ts", root).href];
  while (stack.length > 0) {
    const s = stack.pop()!;
    if (seen.has(s)) continue;
    seen.add(s);
    for (const d of bySpecifier.get(s)?.dependencies ?? []) {
      if (d.code) stack.push(d.code.specifier);
    }
  }
  assertEquals([...seen].filter((s) => s.startsWith("node:")), []);
});
