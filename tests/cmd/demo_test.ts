// cmd/demo: runs `deno task demo` for 2 seconds next to a busy child with a distinctive name
// and checks that the table names it; without -A it says what is missing.
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { kernelTest } from "../_harness.ts";

const root = new URL("../../", import.meta.url).pathname;
const dec = new TextDecoder();

kernelTest("demo: a 2 s run names the process that made the syscalls", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "demo-test-" });
  // `yes` writing to /dev/null makes a write(2) per buffer: thousands of syscalls a second.
  const busy = `${dir}/ebpfdemobusy`;
  Deno.copyFileSync("/usr/bin/yes", busy);
  Deno.chmodSync(busy, 0o755);
  const child = new Deno.Command(busy, { stdout: "null", stderr: "null" }).spawn();
  try {
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["task", "demo", "--duration", "2"],
      cwd: root,
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).output();
    const out = dec.decode(r.stdout);
    assertEquals(r.code, 0, out + dec.decode(r.stderr));
    const tables = out.split("Top processes by system calls").slice(1);
    assert(tables.length >= 2, `expected a table a second:\n${out}`);
    const row = tables.at(-1)!.split("\n").find((l) => l.includes("ebpfdemobusy"));
    assert(row !== undefined, `the busy child is missing:\n${out}`);
    const [pid, , rate, total] = (row as string).trim().split(/\s+/);
    assertEquals(Number(pid), child.pid);
    assert(Number(rate) > 100 && Number(total) >= Number(rate), row);
    assertStringIncludes(out, "Detached.");
  } finally {
    child.kill();
    await child.status;
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("demo: without -A it names what is missing", () => {
  const r = new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", "--allow-read", `${root}cmd/demo.ts`, "--duration", "1"],
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  assertEquals(r.code, 1);
  const err = dec.decode(r.stderr);
  assertStringIncludes(err, "The demo needs --allow-all");
  assertStringIncludes(err, "--allow-ffi");
});
