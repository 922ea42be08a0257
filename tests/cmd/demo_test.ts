// cmd/demo: runs `deno task demo` next to a busy child with a distinctive name until a table
// names it, then stops it with SIGINT; without -A it says what is missing; --hist ends with the
// child's latency histogram.
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { kernelTest } from "../_harness.ts";

const root = new URL("../../", import.meta.url).pathname;
const dec = new TextDecoder();

/**
 * Runs `fn` beside a copy of `yes` named `name` writing to /dev/null: a write(2) per buffer,
 * thousands of system calls a second.
 */
async function withBusyChild(name: string, fn: (pid: number) => Promise<void>): Promise<void> {
  const dir = Deno.makeTempDirSync({ prefix: "demo-test-" });
  const busy = `${dir}/${name}`;
  Deno.copyFileSync("/usr/bin/yes", busy);
  Deno.chmodSync(busy, 0o755);
  const child = new Deno.Command(busy, { stdout: "null", stderr: "null" }).spawn();
  try {
    await fn(child.pid);
  } finally {
    child.kill();
    await child.status;
    Deno.removeSync(dir, { recursive: true });
  }
}

/**
 * Runs `deno task demo` with `args`, reads its output until `seen` says it shows what it
 * should, then stops it as Ctrl-C does, and reads the rest: no step waits a fixed time; the
 * demo's --duration only bounds a run that never shows it. Returns the output once the demo
 * exited 0, and whether it was stopped.
 */
async function runDemoUntil(
  args: string[],
  seen: (out: string) => boolean,
): Promise<{ out: string; stopped: boolean }> {
  const demo = new Deno.Command(Deno.execPath(), {
    args: ["task", "demo", ...args, "--duration", "120"],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const stderr = new Response(demo.stderr).text();
  const reader = demo.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  let stopped = false;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    out += value;
    if (!stopped && seen(out)) {
      stopped = true;
      demo.kill("SIGINT");
    }
  }
  const status = await demo.status;
  assertEquals(status.code, 0, out + (await stderr));
  return { out, stopped };
}

kernelTest(
  "demo: the table names the process that made the syscalls; Ctrl-C detaches",
  () =>
    withBusyChild("ebpfdemobusy", async (pid) => {
      let row: string[] | undefined;
      const busyRow = (out: string) => {
        const tables = out.split("Top processes by system calls").slice(1, -1); // complete ones
        return tables.flatMap((t) => t.split("\n")).map((l) => l.trim().split(/\s+/))
          .find(([p, comm, rate]) =>
            Number(p) === pid && comm === "ebpfdemobusy" && Number(rate) > 100
          );
      };
      const { out } = await runDemoUntil([], (out) => (row = busyRow(out)) !== undefined);
      assert(row !== undefined, `no table shows the busy child:\n${out}`);
      const [, , rate, total] = row!;
      assert(Number(total) >= Number(rate), row!.join(" "));
      assertStringIncludes(out, "Detached.");
    }),
);

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

kernelTest(
  "demo --hist: a latency histogram of the process's system calls after the tables",
  () =>
    withBusyChild("ebpfdemohist", async (pid) => {
      // The timing is attached before the counter: once a table counts the child's calls,
      // they were timed too. Then Ctrl-C, and the histogram comes last.
      const counted = new RegExp(`^\\s*${pid}\\s+ebpfdemohist\\s+[1-9]\\d*\\s+\\d+$`, "m");
      const { out, stopped } = await runDemoUntil(
        ["--hist", "--pid", String(pid)],
        (out) => counted.test(out),
      );
      assert(stopped, `no table counts the child:\n${out}`);
      const at = out.indexOf(`System call latency of process ${pid}, `);
      assert(at > out.lastIndexOf("Top processes by system calls"), out);
      const [title, header, ...rows] = out.slice(at).split("\n");
      const calls = Number(/, (\d+) calls timed:$/.exec(title)?.[1]);
      assert(calls > 0, title);
      assertEquals(header, "     usecs               : count    distribution");
      // The rows' counts add up to the calls timed; each row is print_log2_hist's.
      const counts = rows.slice(0, rows.indexOf("Detached.")).map((r) => {
        const m = /^ {0,9}\d+ -> \d+ +: (\d+) +\|[* ]{40}\|$/.exec(r);
        assert(m !== null, `not a histogram row: ${JSON.stringify(r)}`);
        return Number(m![1]);
      });
      assertEquals(counts.reduce((a, b) => a + b, 0), calls);
      assert(counts.at(-1)! > 0, "rows end at the last used slot");
    }),
);
