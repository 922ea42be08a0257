// asm/ runs in any JavaScript runtime: it may import nothing of ours but errors.ts.
import { assertEquals } from "@std/assert";

Deno.test("asm layering: asm/ imports only asm/ and errors.ts", () => {
  const root = new URL("../../", import.meta.url);
  const out = new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", new URL("asm/mod.ts", root).pathname],
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    modules: { specifier: string }[];
  };
  const outside = info.modules
    .map((m) => m.specifier)
    .filter((s) => !s.startsWith(new URL("asm/", root).href))
    .map((s) => s.startsWith(root.href) ? s.slice(root.href.length) : s);
  assertEquals(outside, ["errors.ts"]);
});
