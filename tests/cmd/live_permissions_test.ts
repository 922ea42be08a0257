// The live inspector without what it needs says so in one line and exits non-zero, without
// a stack trace: run as a child with `--allow-read` only (no --allow-ffi), and as root with
// every capability dropped (no CAP_BPF, no CAP_SYS_ADMIN).
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { kernelTest } from "../_harness.ts";

const live = new URL("../../cmd/live.ts", import.meta.url).pathname;
const root = new URL("../..", import.meta.url).pathname;

function runLive(denoArgs: string[], args: string[], wrapper: string[] = []) {
  const argv = [...wrapper, Deno.execPath(), "run", "--no-prompt", ...denoArgs, live, ...args];
  const out = new Deno.Command(argv[0], {
    args: argv.slice(1),
    cwd: root,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).outputSync();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr).trim(),
  };
}

function assertOneLine(stderr: string): void {
  assertEquals(stderr.split("\n").length, 1, `one line, got:\n${stderr}`);
  assert(!/\bat (file:|ext:|async )/.test(stderr), `no stack trace:\n${stderr}`);
}

Deno.test("live: without --allow-ffi it says so in one line", () => {
  for (const args of [["prog", "list"], ["map", "dump", "1"], ["net"], ["feature", "probe"]]) {
    const r = runLive(["--allow-read"], args);
    assertEquals(r.code, 1, args.join(" "));
    assertEquals(r.stdout, "");
    assertOneLine(r.stderr);
    assertStringIncludes(r.stderr, "--allow-ffi");
  }
});

Deno.test("live: a command line that makes no sense is exit code 2 with the usage", () => {
  const r = runLive(["--allow-read", "--allow-ffi"], ["prog", "show", "x1"]);
  assertEquals(r.code, 2);
  assertStringIncludes(r.stderr, "Invalid program id: 'x1'");
  assertStringIncludes(r.stderr, "Usage: live");
});

kernelTest("live: without CAP_BPF it says so in one line", () => {
  // Root without any capability: the kernel refuses bpf() (unprivileged BPF is off).
  const drop = ["setpriv", "--inh-caps=-all", "--ambient-caps=-all", "--bounding-set=-all", "--"];
  for (const args of [["prog", "list"], ["map", "show", "1"], ["btf", "list"]]) {
    const r = runLive(["-A"], args, drop);
    assertEquals(r.code, 1, `${args.join(" ")}: ${r.stderr}`);
    assertEquals(r.stdout, "");
    assertOneLine(r.stderr);
    assertStringIncludes(r.stderr, "Permission denied");
    assert(/CAP_(BPF|SYS_ADMIN)/.test(r.stderr), r.stderr);
  }
}, {
  skipIf: () => {
    const setting = Deno.readTextFileSync("/proc/sys/kernel/unprivileged_bpf_disabled").trim();
    return setting === "0" ? "unprivileged BPF is enabled: no EPERM to observe" : undefined;
  },
});
