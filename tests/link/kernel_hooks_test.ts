// Kprobes, kretprobes, fentry/fexit and BPF LSM on a kernel that has them: each program counts
// the calls this process makes and the test reads the count back, so the hook is shown to fire;
// fmod_ret shows its effect too, failing this process's opens while attached.
// The host kernel (6.18 here) has neither kprobes nor trampolines: there they skip, naming the
// feature; Debian's 6.1 (`deno task test:kernels`) has both.
import { assertEquals, assertGreaterOrEqual, assertThrows } from "@std/assert";
import * as asm from "../../asm/mod.ts";
import {
  Errno,
  errnoName,
  NotSupportedError,
  PermissionError,
  SyscallError,
} from "../../errors.ts";
import { AttachType, Program, ProgramSpec, ProgramType } from "../../prog/mod.ts";
import {
  attachKprobe,
  attachKretprobe,
  attachModifyReturn,
  attachTracing,
} from "../../link/mod.ts";
import { ensureTracefs, getpid, kernelTest } from "./_deps.ts";
import {
  btfId,
  count,
  counters,
  countingInstructions,
  increment,
  load,
  loadWithBtfId,
  onlyPid,
} from "./_progs.ts";

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

/**
 * The fmod_ret target: an LSM hook, which fmod_ret may modify on every kernel with
 * trampolines (other functions need CONFIG_FUNCTION_ERROR_INJECTION, which Debian leaves out).
 */
const MODIFIABLE_FN = "security_file_open";

let fmodRet: Program | { refused: string } | undefined;
/** Loads, once, an fmod_ret program that counts this process's opens and fails them. */
const loadFmodRet = () => {
  if (fmodRet) return fmodRet;
  const spec = new ProgramSpec({
    name: "deny_open",
    type: ProgramType.Tracing,
    attachType: AttachType.ModifyReturn,
    attachTo: MODIFIABLE_FN,
    license: "GPL",
    instructions: new asm.Instructions([
      ...onlyPid(Deno.pid, "allow"),
      ...increment(mapFor("fmod_ret"), 0, "allow"),
      asm.Mov.Imm(asm.R0, -Errno.EPERM),
      asm.Return(),
      asm.Label("allow"),
      asm.Mov.Imm(asm.R0, 0),
      asm.Return(),
    ]),
  });
  try {
    return fmodRet = Program.load(spec);
  } catch (e) {
    // EPERM comes as a PermissionError (the kernel refusing trampolines to root).
    if (e instanceof PermissionError) return fmodRet = { refused: "EPERM" };
    if (e instanceof SyscallError) return fmodRet = { refused: errnoName(e.errno) };
    throw e;
  }
};

kernelTest(`fmod_ret: ${MODIFIABLE_FN} fails this process's opens while attached`, () => {
  const prog = loadFmodRet();
  if (!(prog instanceof Program)) throw new Error(`fmod_ret did not load: ${prog.refused}`);
  using _prog = prog;
  {
    using _link = attachModifyReturn(prog);
    for (let i = 0; i < CALLS; i++) {
      assertThrows(() => Deno.openSync("/proc/self/stat"), Deno.errors.PermissionDenied);
    }
  }
  assertGreaterOrEqual(count(mapFor("fmod_ret")), BigInt(CALLS));
  // Detached: opens work again.
  opens(CALLS);
}, {
  skipIf: () => {
    const r = loadFmodRet();
    return r instanceof Program ? undefined : "fmod_ret programs (BPF trampolines) not " +
      `supported: the kernel refuses to load them (${r.refused}); Debian's Linux 6.1 ` +
      "has them";
  },
});
