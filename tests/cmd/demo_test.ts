// cmd/demo: runs `deno task demo` next to a busy child with a distinctive name until a table
// names it, then stops it with SIGINT; without -A it says what is missing.
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { kernelTest } from "../_harness.ts";

const root = new URL("../../", import.meta.url).pathname;
const dec = new TextDecoder();

kernelTest(
  "demo: the table names the process that made the syscalls; Ctrl-C detaches",
  async () => {
    const dir = Deno.makeTempDirSync({ prefix: "demo-test-" });
    // `yes` writing to /dev/null makes a write(2) per buffer: thousands of syscalls a second.
    const busy = `${dir}/ebpfdemobusy`;
    Deno.copyFileSync("/usr/bin/yes", busy);
    Deno.chmodSync(busy, 0o755);
    const child = new Deno.Command(busy, { stdout: "null", stderr: "null" }).spawn();
    try {
      // Reads tables until one shows the busy child, then stops the demo as Ctrl-C does: no
      // step waits a fixed time. --duration only bounds a run that never shows it.
      const demo = new Deno.Command(Deno.execPath(), {
        args: ["task", "demo", "--duration", "120"],
        cwd: root,
        stdout: "piped",
        stderr: "piped",
        env: { NO_COLOR: "1" },
      }).spawn();
      const stderr = new Response(demo.stderr).text();
      const reader = demo.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let out = "";
      let row: string[] | undefined;
      const busyRow = () => {
        const tables = out.split("Top processes by system calls").slice(1, -1); // complete ones
        return tables.flatMap((t) => t.split("\n")).map((l) => l.trim().split(/\s+/))
          .find(([pid, comm, rate]) =>
            Number(pid) === child.pid && comm === "ebpfdemobusy" && Number(rate) > 100
          );
      };
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        out += value;
        if (row === undefined && (row = busyRow()) !== undefined) demo.kill("SIGINT");
      }
      const status = await demo.status;
      assertEquals(status.code, 0, out + (await stderr));
      assert(row !== undefined, `no table shows the busy child:\n${out}`);
      const [, , rate, total] = row!;
      assert(Number(total) >= Number(rate), row!.join(" "));
      assertStringIncludes(out, "Detached.");
    } finally {
      child.kill();
      await child.status;
      Deno.removeSync(dir, { recursive: true });
    }
  },
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
  async () => {
    const dir = Deno.makeTempDirSync({ prefix: "demo-hist-test-" });
    const busy = `${dir}/ebpfdemohist`;
    Deno.copyFileSync("/usr/bin/yes", busy);
    Deno.chmodSync(busy, 0o755);
    const child = new Deno.Command(busy, { stdout: "null", stderr: "null" }).spawn();
    try {
      // The timing is attached before the counter: once a table counts the child's calls,
      // they were timed too. Then Ctrl-C, and the histogram comes last.
      const demo = new Deno.Command(Deno.execPath(), {
        args: ["task", "demo", "--hist", "--pid", String(child.pid), "--duration", "120"],
        cwd: root,
        stdout: "piped",
        stderr: "piped",
        env: { NO_COLOR: "1" },
      }).spawn();
      const stderr = new Response(demo.stderr).text();
      const reader = demo.stdout.pipeThrough(new TextDecoderStream()).getReader();
      const counted = new RegExp(`^\\s*${child.pid}\\s+ebpfdemohist\\s+[1-9]\\d*\\s+\\d+$`, "m");
      let out = "";
      let stopped = false;
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        out += value;
        if (!stopped && counted.test(out)) {
          stopped = true;
          demo.kill("SIGINT");
        }
      }
      const status = await demo.status;
      assertEquals(status.code, 0, out + (await stderr));
      assert(stopped, `no table counts the child:\n${out}`);
      const at = out.indexOf(`System call latency of process ${child.pid}, `);
      assert(at > out.lastIndexOf("Top processes by system calls"), out);
      const [title, header, ...rows] = out.slice(at).split("\n");
      const calls = Number(/, (\d+) calls timed:$/.exec(title)?.[1]);
      assert(calls > 0, title);
      assertEquals(header, "     usecs               : count    distribution");
      // The rows' counts add up to the calls timed; each row is print_log2_hist's.
      const histRows = rows.slice(0, rows.indexOf("Detached."));
      const counts = histRows.map((r) => {
        const m = /^ {0,9}\d+ -> \d+ +: (\d+) +\|[* ]{40}\|$/.exec(r);
        assert(m !== null, `not a histogram row: ${JSON.stringify(r)}`);
        return Number(m![1]);
      });
      assertEquals(counts.reduce((a, b) => a + b, 0), calls);
      assert(counts.at(-1)! > 0, "rows end at the last used slot");
    } finally {
      child.kill();
      await child.status;
      Deno.removeSync(dir, { recursive: true });
    }
  },
);
