// Kernel tests of the tracing links: each attaches, makes the kernel run the program, and
// reads the effect back from a map.
import { assert, assertEquals, assertGreaterOrEqual, assertThrows } from "@std/assert";
import * as asm from "../../asm/mod.ts";
import { errnoName, NotSupportedError, PermissionError } from "../../errors.ts";
import { AttachType, Program, ProgramSpec, ProgramType } from "../../prog/mod.ts";
import {
  attachIter,
  attachKprobe,
  attachKprobeMulti,
  attachKretprobe,
  attachPerfEvent,
  attachRawTracepoint,
  attachTpBtf,
  attachTracepoint,
  attachTracing,
  haveLinkFeature,
  IterLink,
  linkFromId,
  LinkType,
  loadPinnedLink,
  PerfEventLink,
  PerfType,
  RawTracepointLink,
  SoftwareEvent,
} from "../../link/mod.ts";
import { assertNoFdLeak, ensureBpffs, ensureTracefs, getpid, kernelTest, run } from "./_deps.ts";
import {
  btfId,
  count,
  counters,
  countingInstructions,
  load,
  loadWithBtfId,
  taskIter,
  taskRecords,
} from "./_progs.ts";

const PID = Deno.pid;
const NR_GETPID = 39;

function getpids(n: number): void {
  for (let i = 0; i < n; i++) getpid();
}

function bpftoolLink(id: number): Record<string, unknown> {
  return JSON.parse(run("bpftool", ["link", "show", "id", String(id), "-j"]));
}

kernelTest("tracepoint: counts getpid calls of this process, stops after close", async () => {
  ensureTracefs();
  await assertNoFdLeak(() => {
    using map = counters();
    using prog = load(ProgramType.TracePoint, countingInstructions(map, { pid: PID }));
    getpids(10);
    assertEquals(count(map), 0n);
    const link = attachTracepoint(prog, "syscalls", "sys_enter_getpid");
    assert(link instanceof PerfEventLink);
    getpids(100);
    const seen = count(map);
    assertGreaterOrEqual(seen, 100n);
    const info = link.info();
    assertEquals(info.type, LinkType.PerfEvent);
    assertEquals(info.details.kind, "perf_event");
    if (info.details.kind === "perf_event") {
      assertEquals(info.details.name, "sys_enter_getpid");
    }
    // bpftool, an independent reader of bpf_link_info, agrees.
    const shown = bpftoolLink(info.id);
    assertEquals(shown.type, "perf_event");
    assertEquals(shown.prog_id, info.programId);
    link.close();
    link.close();
    getpids(100);
    assertEquals(count(map), seen);
  });
});

kernelTest("tracepoint: unknown events and wrong program types are clear errors", () => {
  ensureTracefs();
  using map = counters();
  using prog = load(ProgramType.TracePoint, countingInstructions(map));
  assertThrows(() => attachTracepoint(prog, "syscalls", "no_such_event"), Deno.errors.NotFound);
  assertThrows(() => attachTracepoint(prog, "../..", "x"), TypeError);
  using raw = load(ProgramType.RawTracepoint, countingInstructions(map));
  assertThrows(() => attachTracepoint(raw, "syscalls", "sys_enter_getpid"), TypeError);
});

// raw_tracepoint sys_enter: args[1] is the syscall number (ctx is u64 args[]).
function rawSysEnterCounter(map: ReturnType<typeof counters>, type: ProgramType) {
  return load(
    type,
    countingInstructions(map, {
      pid: PID,
      prelude: [
        asm.LoadMem(asm.R2, asm.R1, 8, asm.DWord),
        asm.JNE.Imm(asm.R2, NR_GETPID, "out"),
      ],
    }),
  );
}

kernelTest(
  "raw tracepoint: counts getpid through sys_enter; info names the tracepoint",
  async () => {
    await assertNoFdLeak(() => {
      using map = counters();
      using prog = rawSysEnterCounter(map, ProgramType.RawTracepoint);
      const link = attachRawTracepoint(prog, "sys_enter");
      assert(link instanceof RawTracepointLink);
      getpids(50);
      const seen = count(map);
      assertGreaterOrEqual(seen, 50n);
      const info = link.info();
      assertEquals(info.details, { kind: "raw_tracepoint", name: "sys_enter", cookie: 0n });
      assertEquals(bpftoolLink(info.id).tp_name, "sys_enter");
      link.close();
      getpids(50);
      assertEquals(count(map), seen);
      assertThrows(() => attachRawTracepoint(prog, "no_such_tracepoint"), Deno.errors.NotFound);
    });
  },
);

kernelTest("raw tracepoint writable: counts getpid through sys_enter", () => {
  using map = counters();
  using prog = rawSysEnterCounter(map, ProgramType.RawTracepointWritable);
  using _link = attachRawTracepoint(prog, "sys_enter");
  getpids(30);
  assertGreaterOrEqual(count(map), 30n);
});

kernelTest("tp_btf: counts getpid through a BTF-typed sys_enter", () => {
  using map = counters();
  const loaded = loadWithBtfId(
    ProgramType.Tracing,
    AttachType.TraceRawTP,
    btfId("btf_trace_sys_enter", "typedef"),
    countingInstructions(map, {
      pid: PID,
      prelude: [
        asm.LoadMem(asm.R2, asm.R1, 8, asm.DWord),
        asm.JNE.Imm(asm.R2, NR_GETPID, "out"),
      ],
    }),
  );
  if (!("program" in loaded)) throw new Error(`tp_btf load failed: ${loaded.errno} ${loaded.log}`);
  using prog = loaded.program;
  using link = attachTpBtf(prog);
  assert(link instanceof RawTracepointLink);
  getpids(50);
  assertGreaterOrEqual(count(map), 50n);
  assertEquals(link.info().type, LinkType.RawTracepoint);
});

// Trampolines load with EPERM on the host (6.18); where they load (Debian's 6.1), the attach is
// checked. fmod_ret targets an LSM hook: other functions need CONFIG_FUNCTION_ERROR_INJECTION.
for (
  const [name, attachType, target, kind] of [
    ["fentry", AttachType.TraceFentry, "bpf_fentry_test1", "func"],
    ["fexit", AttachType.TraceFexit, "bpf_fentry_test1", "func"],
    ["fmod_ret", AttachType.ModifyReturn, "security_file_open", "func"],
    ["lsm", AttachType.LSMMAC, "bpf_lsm_file_open", "func"],
  ] as const
) {
  let probe: ReturnType<typeof loadWithBtfId> | undefined;
  const attempt = () => {
    if (probe) return probe;
    const type = attachType === AttachType.LSMMAC ? ProgramType.LSM : ProgramType.Tracing;
    let id: number;
    try {
      id = btfId(target, kind);
    } catch (e) {
      return probe = { errno: -1, log: String(e) };
    }
    return probe = loadWithBtfId(
      type,
      attachType,
      id,
      new asm.Instructions([asm.Mov.Imm(asm.R0, 0), asm.Return()]),
    );
  };
  kernelTest(`${name}: attaches a trampoline program`, () => {
    const loaded = attempt();
    if (!("program" in loaded)) throw new Error("unreachable");
    using prog = loaded.program;
    using link = attachTracing(prog, { attachType });
    assertEquals(link.info().type, LinkType.Tracing);
  }, {
    skipIf: () => {
      const r = attempt();
      return "program" in r
        ? undefined
        : r.errno === -1
        ? `no BTF target for ${name}: ${r.log}`
        : `${name} programs (BPF trampolines) not supported: the kernel refuses to load ` +
          `them (${errnoName(r.errno)}); Debian's Linux 6.1 has them`;
    },
  });
}

kernelTest("kprobe: this kernel has no kprobes: NotSupportedError", () => {
  ensureTracefs();
  using map = counters();
  using prog = load(ProgramType.Kprobe, countingInstructions(map));
  const e = assertThrows(() => attachKprobe(prog, "sys_getpid"), NotSupportedError);
  assert((e as NotSupportedError).feature.includes("kprobe"));
  assertThrows(() => attachKretprobe(prog, "sys_getpid"), NotSupportedError);
}, {
  skipIf: () => {
    try {
      Deno.statSync("/sys/bus/event_source/devices/kprobe");
      return "this kernel has kprobes (Linux 4.1 has them, with CONFIG_KPROBES): the " +
        "NotSupportedError shows only on kernels without them";
    } catch {
      return undefined;
    }
  },
});

kernelTest("kprobe_multi: this kernel has no fprobe: NotSupportedError", () => {
  const prog = Program.load(
    new ProgramSpec({
      name: "kmulti",
      type: ProgramType.Kprobe,
      attachType: AttachType.TraceKprobeMulti,
      license: "GPL",
      instructions: new asm.Instructions([asm.Mov.Imm(asm.R0, 0), asm.Return()]),
    }),
  );
  using _p = prog;
  const e = assertThrows(
    () => attachKprobeMulti(prog, { symbols: ["bpf_fentry_test1"] }),
    NotSupportedError,
  ) as NotSupportedError;
  assertEquals(e.feature, "kprobe_multi link");
}, {
  skipIf: () =>
    haveLinkFeature("kprobeMulti")
      ? "this kernel has kprobe_multi links (Linux 5.18 has them, with CONFIG_FPROBE): the " +
        "NotSupportedError shows only on kernels without them"
      : undefined,
});

/** A kprobe program for kprobe.session, or undefined on kernels before 6.10 that refuse it. */
function loadSessionProgram(): Program | undefined {
  try {
    return Program.load(
      new ProgramSpec({
        name: "ksession",
        type: ProgramType.Kprobe,
        attachType: AttachType.TraceKprobeSession,
        license: "GPL",
        instructions: new asm.Instructions([asm.Mov.Imm(asm.R0, 0), asm.Return()]),
      }),
    );
  } catch {
    return undefined;
  }
}

kernelTest("kprobe session: this kernel has no fprobe: NotSupportedError", () => {
  using prog = loadSessionProgram()!;
  const e = assertThrows(
    () => attachKprobeMulti(prog, { symbols: ["bpf_fentry_test1"], session: true }),
    NotSupportedError,
  ) as NotSupportedError;
  assertEquals([e.feature, e.minKernel], ["kprobe session link", "6.10"]);
  assert(e.message.includes("CONFIG_FPROBE"), e.message);
}, {
  skipIf: () => {
    if (haveLinkFeature("kprobeSession")) {
      return "this kernel has kprobe session links (Linux 6.10 has them, with CONFIG_FPROBE): " +
        "the NotSupportedError shows only on kernels without them";
    }
    using prog = loadSessionProgram();
    return prog ? undefined : "kprobe session programs need Linux 6.10";
  },
});

kernelTest("linkFromId opens a link by its kernel id as the class of its type", () => {
  using map = counters();
  using prog = rawSysEnterCounter(map, ProgramType.RawTracepoint);
  using link = attachRawTracepoint(prog, "sys_enter");
  using again = linkFromId(link.info().id);
  assert(again instanceof RawTracepointLink);
  assertEquals(again.info().id, link.info().id);
});

kernelTest("perf_event: a software cpu-clock event samples this process", () => {
  using map = counters();
  using prog = load(ProgramType.PerfEvent, countingInstructions(map));
  using link = attachPerfEvent(prog, {
    type: PerfType.Software,
    config: SoftwareEvent.CpuClock,
    samplePeriod: 100_000n, // every 100 µs of CPU time
    pid: 0,
    cpu: -1,
  });
  // Spin until ten samples arrived (1 ms of CPU time): a busy machine only makes it slower.
  // The deadline only bounds a program that never runs.
  const deadline = Date.now() + 30_000;
  let x = 0;
  while (count(map) < 10n && Date.now() < deadline) {
    for (let i = 0; i < 10_000; i++) x += Math.sqrt(x + 1);
  }
  assertGreaterOrEqual(count(map), 10n, `spin result ${x}`);
  const info = link.info();
  assertEquals(info.type, LinkType.PerfEvent);
  if (info.details.kind === "perf_event") assertEquals(info.details.perfEventType, 6);
  assertThrows(
    () => attachPerfEvent(prog, { type: PerfType.Software, config: 0n, pid: -1, cpu: -1 }),
    RangeError,
  );
});

kernelTest("iter/task: output read as text and as a stream lists this process", async () => {
  await assertNoFdLeak(async () => {
    using prog = taskIter(0x41);
    using it = attachIter(prog);
    assert(it instanceof IterLink);
    using reader = it.open();
    const records = taskRecords(reader.readAll());
    assert(records.some(([tgid, tag]) => tgid === PID && tag === 0x41), "this process is listed");
    assert(records.length > 5);
    // The same output through a ReadableStream.
    const chunks: Uint8Array[] = [];
    for await (const c of it.open().stream(64)) chunks.push(c);
    const joined = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    chunks.reduce((at, c) => (joined.set(c, at), at + c.length), 0);
    assert(taskRecords(joined).some(([tgid]) => tgid === PID));
    const info = it.info();
    assertEquals(info.details, {
      kind: "iter",
      targetName: "task",
      mapId: 0,
      task: { tid: 0, pid: 0 },
    });
  });
});

kernelTest(
  "pin, load the pinned link, update it to another program, see the new one run",
  async () => {
    const bpffs = ensureBpffs();
    const path = `${bpffs}/ebpf_deno_link_test_${PID}`;
    await assertNoFdLeak(() => {
      using a = taskIter(0x41);
      using b = taskIter(0x42);
      const link = attachIter(a);
      link.pin(path);
      link.close(); // the pin keeps the link
      // A failed assertion must not leave the pin (and its link) behind.
      using _unpin = {
        [Symbol.dispose]: () => {
          try {
            Deno.removeSync(path);
          } catch (e) {
            if (!(e instanceof Deno.errors.NotFound)) throw e;
          }
        },
      };
      using pinned = loadPinnedLink(path);
      assert(pinned instanceof IterLink);
      assertEquals(pinned.pinnedAt, path);
      const tags = () => {
        using reader = (pinned as IterLink).open();
        return new Set(taskRecords(reader.readAll()).map(([, t]) => t));
      };
      assertEquals(tags(), new Set([0x41]));
      // BPF_F_REPLACE with the wrong expected program is refused.
      assertThrows(() => pinned.update(b, { expected: b }));
      pinned.update(b, { expected: a });
      assertEquals(tags(), new Set([0x42]), "the new program runs");
      pinned.unpin();
      assertThrows(() => Deno.statSync(path), Deno.errors.NotFound);
    });
  },
);

kernelTest("update of a link type that cannot be updated throws", () => {
  using map = counters();
  using prog = rawSysEnterCounter(map, ProgramType.RawTracepoint);
  using link = attachRawTracepoint(prog, "sys_enter");
  assertThrows(() => link.update(prog));
  assertThrows(() => link.detach(), NotSupportedError);
});

kernelTest("1,000 links attached and closed leak no fd", async () => {
  ensureTracefs();
  using map = counters();
  using raw = rawSysEnterCounter(map, ProgramType.RawTracepoint);
  using tp = load(ProgramType.TracePoint, countingInstructions(map, { pid: PID }));
  using iter = taskIter(0x41);
  await assertNoFdLeak(() => {
    // Tracepoint detach waits for an RCU grace period (tens of ms), so most of the
    // thousand are iterator links, which detach at once.
    for (let i = 0; i < 10; i++) {
      using _a = attachRawTracepoint(raw, "sys_enter");
      using _b = attachTracepoint(tp, "syscalls", "sys_enter_getpid");
    }
    const links = Array.from({ length: 980 }, () => attachIter(iter));
    for (const l of links) l.close();
  });
});

kernelTest("closed links throw on use", () => {
  using map = counters();
  using prog = rawSysEnterCounter(map, ProgramType.RawTracepoint);
  const link = attachRawTracepoint(prog, "sys_enter");
  link.close();
  assertThrows(() => link.info());
  assertThrows(() => link.pin("/sys/fs/bpf/x"));
  void PermissionError;
});
