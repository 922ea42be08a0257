import { assertEquals } from "@std/assert";
import { formatTable, namesKernel, parseDenoTest } from "./_report.ts";

/** A `deno test` run as Deno 2.9 prints it with NO_COLOR=1, steps and failures included. */
const SAMPLE = `running 3 tests from ./tests/link/tracing_test.ts
kprobe attaches and fires ... ok (1s)
fentry sees its argument ... FAILED (20ms)
kprobe_multi attaches [skipped: kprobe_multi links (fprobe) not supported: requires Linux 5.18] ... ignored (0ms)
running 2 tests from ./tests/map/bpf_map_test.ts
batch ops ...
  lookup ... ok (3ms)
  delete ... FAILED (1ms)
batch ops ... FAILED (due to 1 failed step) (6ms)
plain ignore ... ignored (0ms)

 ERRORS 

fentry sees its argument => ./tests/link/tracing_test.ts:10:1
error: Error: boom

 FAILURES 

fentry sees its argument => ./tests/link/tracing_test.ts:10:1

FAILED | 1 passed (1 step) | 2 failed (1 step) | 2 ignored (2s)
`;

Deno.test("parseDenoTest: per-file outcomes, skip reasons, and Deno's own totals", () => {
  const r = parseDenoTest(SAMPLE);
  assertEquals(r.files.map((f) => f.file), [
    "./tests/link/tracing_test.ts",
    "./tests/map/bpf_map_test.ts",
  ]);
  assertEquals(r.files[0].passed, ["kprobe attaches and fires"]);
  assertEquals(r.files[0].failed, ["fentry sees its argument"]);
  assertEquals(r.files[0].skipped, [{
    name: "kprobe_multi attaches",
    reason: "kprobe_multi links (fprobe) not supported: requires Linux 5.18",
  }]);
  // Steps are indented and not counted; the failed parent is.
  assertEquals(r.files[1].passed, []);
  assertEquals(r.files[1].failed, ["batch ops"]);
  assertEquals(r.files[1].skipped, [{ name: "plain ignore", reason: "" }]);
  assertEquals(r.summary, { ok: false, passed: 1, failed: 2, ignored: 2 });
});

Deno.test("parseDenoTest: a run cut short has no summary", () => {
  const r = parseDenoTest("running 1 test from ./a_test.ts\nx ... ok (1ms)\n");
  assertEquals(r.summary, undefined);
  assertEquals(r.files[0].passed, ["x"]);
});

Deno.test("formatTable: a row per file and a total", () => {
  const table = formatTable(parseDenoTest(SAMPLE)).split("\n");
  assertEquals(table, [
    "file                        passed  failed  skipped",
    "tests/link/tracing_test.ts       1       1        1",
    "tests/map/bpf_map_test.ts        0       1        1",
    "total                            1       2        2",
  ]);
});

Deno.test("namesKernel: a skip reason names the kernel that has the feature", () => {
  assertEquals(namesKernel("BPF ISA v4 is not supported (requires Linux 6.6)"), true);
  assertEquals(namesKernel("kernel lacks may_goto (Linux 6.9)"), true);
  assertEquals(namesKernel("the kernel refuses to load fentry programs: EPERM"), false);
  assertEquals(namesKernel(""), false);
});
