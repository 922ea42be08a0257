// Every example runs, briefly, against the real kernel, and prints what it should.
import { assert, assertEquals, assertMatch, assertStringIncludes } from "@std/assert";
import { kernelTest } from "./_harness.ts";

const root = new URL("../", import.meta.url).pathname;
const dec = new TextDecoder();

/** Runs `examples/<name>.ts` with -A while `during` makes it something to see. */
async function runExample(
  name: string,
  args: string[] = [],
  during: () => Promise<void> = () => Promise.resolve(),
): Promise<string> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `examples/${name}.ts`, ...args],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  // Give it time to load and attach before making events.
  await new Promise((r) => setTimeout(r, 700));
  await during();
  const r = await child.output();
  const out = dec.decode(r.stdout);
  assertEquals(r.code, 0, `${name}: ${out}${dec.decode(r.stderr)}`);
  return out;
}

async function run(cmd: string, args: string[] = []): Promise<void> {
  await new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).output();
}

/** Some TCP traffic over the loopback interface. */
async function loopbackTraffic(): Promise<void> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  for (let i = 0; i < 5; i++) {
    const accept = listener.accept();
    const c = await Deno.connect({ hostname: "127.0.0.1", port });
    const s = await accept;
    await c.write(new Uint8Array(200));
    await s.read(new Uint8Array(256));
    c.close();
    s.close();
  }
  listener.close();
}

Deno.test("examples: every example type-checks and says how to run it", () => {
  const names = [...Deno.readDirSync(`${root}examples`)]
    .map((e) => e.name)
    .filter((n) => n.endsWith(".ts") && !n.startsWith("_") && !n.endsWith("_bpf.ts"));
  assertEquals(names.length, 10, names.join(" "));
  for (const n of names) {
    const text = Deno.readTextFileSync(`${root}examples/${n}`);
    assertMatch(text, new RegExp(`^// .+\\n(//.*\\n)*// Run: sudo deno run -A examples/${n}`));
  }
  const r = new Deno.Command(Deno.execPath(), {
    args: ["check", ...names.map((n) => `examples/${n}`)],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  assertEquals(r.success, true, dec.decode(r.stderr));
});

kernelTest("examples: tracepoint counts openat calls per process", async () => {
  const out = await runExample(
    "tracepoint",
    ["--duration", "1.5"],
    () => run("/bin/cat", ["/etc/hostname"]),
  );
  assertMatch(out, /openat calls: .*\d+ \S+: \d+/);
});

kernelTest("examples: ring buffer events name the programs started", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "ex-ringbuf-" });
  try {
    Deno.copyFileSync("/bin/true", `${dir}/ebpfexectest`);
    Deno.chmodSync(`${dir}/ebpfexectest`, 0o755);
    const out = await runExample(
      "ringbuf",
      ["--duration", "1.5"],
      () => run(`${dir}/ebpfexectest`),
    );
    assertMatch(out, /exec: pid \d+ ebpfexectest/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

kernelTest("examples: XDP counts TCP packets on lo", async () => {
  const out = await runExample("xdp", ["--duration", "1.5"], loopbackTraffic);
  assertMatch(out, /lo packets: .*TCP: [1-9]\d*/);
});

kernelTest("examples: cgroup_skb counts the bytes sent", async () => {
  const out = await runExample("cgroup_skb", ["--duration", "1.5"], loopbackTraffic);
  const m = /sent (\d+) packets, (\d+) bytes/.exec(out.trim().split("\n").at(-1) ?? "");
  assert(m !== null && Number(m[1]) > 0 && Number(m[2]) > 0, out);
});

kernelTest("examples: uprobe and uretprobe see getcwd calls", async () => {
  const out = await runExample("uprobe", ["--duration", "1.5"], () => run("/bin/pwd"));
  assertMatch(out, /getcwd: pid \d+ pwd size \d+ ok/);
});

kernelTest("examples: tcx counts packets arriving on lo", async () => {
  const out = await runExample("tcx", ["--duration", "1.5"], loopbackTraffic);
  const m = /received (\d+) packets, (\d+) bytes/.exec(out.trim().split("\n").at(-1) ?? "");
  assert(m !== null && Number(m[1]) > 0, out);
});

kernelTest("examples: map in map counts in the inner map the program picks", async () => {
  const out = await runExample("map_in_map");
  assertStringIncludes(out, "small packets: 3, large packets: 2");
});

kernelTest("examples: task iterator lists this process", async () => {
  const out = await runExample("task_iter");
  assertMatch(out, /^\d+ processes:/);
  assertMatch(out, /\n\s+\d+ deno\n/);
});

kernelTest("examples: the assembled program counts its test runs", async () => {
  const out = await runExample("asm");
  assertStringIncludes(out, "lock *(u64 *)(r0 + 0) += r1");
  assertStringIncludes(out, "packets counted: 3");
});

kernelTest("examples: kprobe explains a kernel without kprobes, or counts", async () => {
  const out = await runExample("kprobe", ["--duration", "1"]);
  const hasKprobes = (() => {
    try {
      Deno.statSync("/sys/bus/event_source/devices/kprobe");
      return true;
    } catch {
      return false;
    }
  })();
  if (hasKprobes) assertMatch(out, /do_sys_openat2 calls: \d+/);
  else {
    assertStringIncludes(out, "This kernel has no kprobes");
    assertStringIncludes(out, "built without CONFIG_KPROBES");
    assertStringIncludes(out, "examples/tracepoint.ts");
  }
});
