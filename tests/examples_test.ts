// Every example runs, briefly, against the real kernel, and prints what it should.
import { assertEquals, assertMatch, assertStringIncludes } from "@std/assert";
import { kernelTest } from "./_harness.ts";

const root = new URL("../", import.meta.url).pathname;
const dec = new TextDecoder();

/** What an example run waits for: events made once it is attached, and the output they show. */
interface Events {
  /** Makes something for the example to see, once it says it is attached. */
  make: () => Promise<void>;
  /** The output that shows the example saw it; the example is then stopped with SIGINT. */
  until: RegExp;
}

/**
 * Runs `examples/<name>.ts` with -A. With `events`, waits for the example's "Attached" line,
 * makes the events, reads its output until `events.until` matches, and stops it as Ctrl-C
 * would: no step waits a fixed time, so a loaded machine only makes it slower. The example's
 * own `--duration` (120 s) only bounds a run that never shows what it should.
 */
async function runExample(name: string, args: string[] = [], events?: Events): Promise<string> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `examples/${name}.ts`, ...args, ...(events ? ["--duration", "120"] : [])],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  /** Reads output until `re` matches it (never: to the end); false when it ended first. */
  const readUntil = async (re?: RegExp): Promise<boolean> => {
    while (re === undefined || !re.test(out)) {
      const { value, done } = await lines.read();
      if (done) return false;
      out += value;
    }
    return true;
  };
  if (events !== undefined) {
    if (await readUntil(/^Attached; /m)) {
      await events.make();
      if (await readUntil(events.until)) child.kill("SIGINT");
    }
  }
  await readUntil(); // the rest
  const status = await child.status;
  assertEquals(status.code, 0, `${name}: ${out}${await stderr}`);
  if (events !== undefined) assertMatch(out, events.until);
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
  assertEquals(names.length, 11, names.join(" "));
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
  await runExample("tracepoint", [], {
    make: () => run("/bin/cat", ["/etc/hostname"]),
    until: /openat calls: .*\d+ \S+: \d+/,
  });
});

kernelTest("examples: syscall latency prints a histogram of a process's system calls", async () => {
  // A cat blocked reading its stdin makes a read and a write per line written to it: before
  // the first line it makes no system call the example can time (it entered the read before
  // the example attached), so the histogram that shows up counts the lines' calls.
  const cat = new Deno.Command("/bin/cat", { stdin: "piped", stdout: "null", stderr: "null" })
    .spawn();
  const input = cat.stdin.getWriter();
  try {
    const out = await runExample("syscall_latency", ["--pid", String(cat.pid), "--per-process"], {
      make: async () => {
        for (let i = 0; i < 5; i++) await input.write(new TextEncoder().encode(`line ${i}\n`));
      },
      until: new RegExp(
        `pid = ${cat.pid} cat\n {5}usecs {14} : count {4}distribution\n` +
          "( +\\d+ -> \\d+ +: \\d+ +\\|[* ]{40}\\|\n)*? +\\d+ -> \\d+ +: [1-9]\\d* +\\|[* ]{40}\\|\n",
      ),
    });
    // Only the cat was timed: every histogram is its own.
    assertEquals([...out.matchAll(/^pid = (\d+)/gm)].every(([, p]) => p === String(cat.pid)), true);
  } finally {
    await input.close();
    await cat.status;
  }
});

kernelTest("examples: ring buffer events name the programs started", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "ex-ringbuf-" });
  try {
    Deno.copyFileSync("/bin/true", `${dir}/ebpfexectest`);
    Deno.chmodSync(`${dir}/ebpfexectest`, 0o755);
    await runExample("ringbuf", [], {
      make: () => run(`${dir}/ebpfexectest`),
      until: /exec: pid \d+ ebpfexectest/,
    });
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

kernelTest("examples: XDP counts TCP packets on lo", async () => {
  await runExample("xdp", [], { make: loopbackTraffic, until: /lo packets: .*TCP: [1-9]\d*/ });
});

kernelTest("examples: cgroup_skb counts the bytes sent", async () => {
  await runExample("cgroup_skb", [], {
    make: loopbackTraffic,
    until: /sent [1-9]\d* packets, [1-9]\d* bytes/,
  });
});

kernelTest("examples: uprobe and uretprobe see getcwd calls", async () => {
  await runExample("uprobe", [], {
    make: () => run("/bin/pwd"),
    until: /getcwd: pid \d+ pwd size \d+ ok/,
  });
});

kernelTest("examples: tcx (or tc before 6.6) counts packets arriving on lo", async () => {
  await runExample("tcx", [], {
    make: loopbackTraffic,
    until: /received [1-9]\d* packets, [1-9]\d* bytes/,
  });
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
