// btf/ is a spec-layer package: its import graph must never reach ffi.ts.
import { assert, assertEquals } from "@std/assert";

function reachable(entry: string): string[] {
  const out = new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  const info = JSON.parse(new TextDecoder().decode(out.stdout));
  return (info.modules as { specifier: string }[]).map((m) => m.specifier);
}

Deno.test("btf/mod.ts does not reach ffi.ts or any object-layer file", () => {
  const mods = reachable(new URL("../../btf/mod.ts", import.meta.url).pathname);
  const ours = mods.filter((m) => m.startsWith("file://"));
  assert(ours.some((m) => m.endsWith("/btf/spec.ts")));
  assertEquals(ours.filter((m) => /\/(ffi|handle)\.ts$|\/_internal\//.test(m)), []);
  // btf → asm is allowed (.BTF.ext and CO-RE act on instructions).
  for (const m of ours) assert(/\/(btf\/[a-z_]+|asm\/[a-z_]+|errors)\.ts$/.test(m), m);
});

Deno.test("btf/handle.ts is the one btf file that reaches ffi.ts", () => {
  const mods = reachable(new URL("../../btf/handle.ts", import.meta.url).pathname);
  assert(mods.some((m) => m.endsWith("/ffi.ts")));
});
