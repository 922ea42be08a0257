// Kprobes, kretprobes, fentry/fexit and BPF LSM on a kernel that has them: each program counts
// the calls this process makes and the test reads the count back, so the hook is shown to fire.
// The host kernel (6.18 here) has neither kprobes nor trampolines: there they skip, naming the
// feature; Debian's 6.1 (`deno task test:kernels`) has both.
import { assertEquals, assertGreaterOrEqual } from "@std/assert";
import { errnoName, NotSupportedError } from "../../errors.ts";
import { AttachType, ProgramType } from "../../prog/mod.ts";
import { attachKprobe, attachKretprobe, attachTracing } from "../../link/mod.ts";
import { ensureTracefs, getpid, kernelTest } from "./_deps.ts";
import { btfId, count, counters, countingInstructions, load, loadWithBtfId } from "./_progs.ts";

const CALLS = 100;

function getpids(n: number): void {
  for (let i = 0; i < n; i++) getpid();
}

let kprobeReason: string | undefined | null = null;

/** Why kprobes cannot run here (the library's NotSupportedError), or undefined. */
function kprobesMissing(): string | undefined {
  if (kprobeReason !== null) return kprobeReason;
  ensureTracefs();
  using map = counters();
  using prog = load(ProgramType.Kprobe, countingInstructions(map));
  try {
    attachKprobe(prog, "sys_getpid").close();
    return kprobeReason = undefined;
  } catch (e) {
    if (!(e instanceof NotSupportedError)) throw e;
    return kprobeReason = `${e.message} (Debian's Linux 6.1 has kprobes)`;
  }
}

for (const ret of [false, true]) {
  const what = ret ? "kretprobe" : "kprobe";
  kernelTest(`${what}: sys_getpid fires once per call of this process`, () => {
    using map = counters();
    using prog = load(ProgramType.Kprobe, countingInstructions(map, { pid: Deno.pid }));
    {
      using _link = (ret ? attachKretprobe : attachKprobe)(prog, "sys_getpid");
      getpids(CALLS);
    }
    const seen = count(map);
    assertGreaterOrEqual(seen, BigInt(CALLS));
    getpids(CALLS);
    // Detached: the count no longer moves.
    assertEquals(count(map), seen);
  }, { skipIf: kprobesMissing });
}

/** One counter map per trampoline test, alive for the whole file. */
const maps = new Map<string, ReturnType<typeof counters>>();
function mapFor(name: string) {
  let m = maps.get(name);
  if (!m) maps.set(name, m = counters(1, name));
  return m;
}

/**
 * The function the trampolines attach to: a BTF function of vmlinux that every open(2)
 * runs (syscall wrappers such as `__x64_sys_openat` have no BTF).
 */
const OPEN_FN = "do_sys_openat2";

function opens(n: number): void {
  for (let i = 0; i < n; i++) Deno.openSync("/proc/self/stat").close();
}

for (
  const [name, type, attachType] of [
    ["fentry", ProgramType.Tracing, AttachType.TraceFentry],
    ["fexit", ProgramType.Tracing, AttachType.TraceFexit],
  ] as const
) {
  let loaded: ReturnType<typeof loadWithBtfId> | undefined;
  const tryLoad = () =>
    loaded ??= loadWithBtfId(
      type,
      attachType,
      btfId(OPEN_FN, "func"),
      countingInstructions(mapFor(name), { pid: Deno.pid }),
    );
  kernelTest(`${name}: ${OPEN_FN} fires once per call of this process`, () => {
    const r = tryLoad();
    if (!("program" in r)) throw new Error(`${name} did not load: ${errnoName(r.errno)}`);
    using prog = r.program;
    {
      using _link = attachTracing(prog, { attachType });
      opens(CALLS);
    }
    assertGreaterOrEqual(count(mapFor(name)), BigInt(CALLS));
  }, {
    skipIf: () => {
      const r = tryLoad();
      return "program" in r ? undefined : `${name} programs (BPF trampolines) not supported: ` +
        `the kernel refuses to load them (${errnoName(r.errno)}); Debian's Linux 6.1 has them`;
    },
  });
}

let lsm: ReturnType<typeof loadWithBtfId> | undefined;
const loadLsm = () =>
  lsm ??= loadWithBtfId(
    ProgramType.LSM,
    AttachType.LSMMAC,
    btfId("bpf_lsm_file_open", "func"),
    countingInstructions(mapFor("lsm"), { pid: Deno.pid }),
  );

kernelTest("lsm: file_open runs once per open of this process and allows it", () => {
  const r = loadLsm();
  if (!("program" in r)) throw new Error(`lsm did not load: ${errnoName(r.errno)}`);
  using prog = r.program;
  {
    using _link = attachTracing(prog, { attachType: AttachType.LSMMAC });
    opens(CALLS);
  }
  assertGreaterOrEqual(count(mapFor("lsm")), BigInt(CALLS));
}, {
  skipIf: () => {
    const r = loadLsm();
    if ("program" in r) return undefined;
    return `BPF LSM programs not supported: the kernel refuses to load them ` +
      `(${errnoName(r.errno)}; needs CONFIG_BPF_LSM and lsm=...,bpf); Debian's Linux 6.1 ` +
      `booted with lsm=bpf has them`;
  },
});
