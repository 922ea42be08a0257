// Permission gating: importing needs nothing, a kernel call without --allow-ffi names the
// flag, and EPERM from bpf() names the capability only when the process lacks it.
import { assert, assertEquals, assertInstanceOf } from "@std/assert";
import {
  allocBuffer,
  Attr,
  BpfCmd,
  bpfErrno,
  bpfError,
  Capability,
  closeFd,
  cString,
  hasCapability,
} from "../ffi.ts";
import { PermissionError, SyscallError } from "../errors.ts";
import { kernelTest, run } from "./_harness.ts";

const fixture = new URL("./fixtures/probe_kernel.ts", import.meta.url).pathname;
const root = new URL("..", import.meta.url).pathname;

interface Outcome {
  imported: boolean;
  supported?: boolean;
  error?: string;
  isPermissionError?: boolean;
  missing?: string;
  causeCode?: string;
  message?: string;
}

function runFixture(denoArgs: string[], wrapper: string[] = [], call = "probe"): Outcome {
  const [cmd, ...pre] = wrapper.length > 0 ? wrapper : [Deno.execPath()];
  const args = [...pre, ...(wrapper.length > 0 ? [Deno.execPath()] : []), "run", ...denoArgs];
  const out = new Deno.Command(cmd, {
    args: [...args, fixture, call],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  const stdout = new TextDecoder().decode(out.stdout).trim();
  const stderr = new TextDecoder().decode(out.stderr).trim();
  assert(out.success, `child failed: ${stderr}`);
  return JSON.parse(stdout.split("\n").at(-1)!);
}

Deno.test("permissions: import needs nothing, a kernel call names --allow-ffi", () => {
  const outcome = runFixture(["--no-prompt"]);
  assertEquals(outcome.imported, true);
  assertEquals(outcome.isPermissionError, true, outcome.message);
  assertEquals(outcome.missing, "--allow-ffi");
  assert(outcome.message?.includes("--allow-ffi"), outcome.message);
});

kernelTest("permissions: EPERM without CAP_BPF names the capability", () => {
  // Root without any capability: the kernel refuses bpf() (unprivileged BPF is off). A map
  // type probe, BpfMap.create, Program.load and the program id walk all say so the same way.
  for (const call of ["probe", "create", "load", "list"]) {
    const outcome = runFixture(["--allow-ffi", "--allow-read", "--no-prompt"], [
      "setpriv",
      "--inh-caps=-all",
      "--ambient-caps=-all",
      "--bounding-set=-all",
      "--",
    ], call);
    assertEquals(outcome.isPermissionError, true, `${call}: ${outcome.message}`);
    assertEquals(outcome.missing, "CAP_BPF", call);
    assertEquals(outcome.causeCode, "EPERM", call);
    assert(outcome.message?.includes("CAP_BPF"), outcome.message);
  }
}, {
  skipIf: () => {
    const setting = Deno.readTextFileSync("/proc/sys/kernel/unprivileged_bpf_disabled").trim();
    return setting === "0" ? "unprivileged BPF is enabled: no EPERM to observe" : undefined;
  },
});

/** Loads `r0 = 0; exit` as an fentry program on `btfId`; returns the fd or -errno. */
function loadFentry(btfId: number): number {
  const insns = allocBuffer(16);
  insns.set([0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);
  const attr = new Attr()
    .u32(0, 26) // BPF_PROG_TYPE_TRACING
    .u32(4, 2)
    .pointer(8, insns)
    .pointer(16, cString("GPL"))
    .u32(68, 24) // expected_attach_type = BPF_TRACE_FENTRY
    .u32(108, btfId); // attach_btf_id
  return bpfErrno(BpfCmd.PROG_LOAD, attr);
}

/** The vmlinux BTF id of a function, found by bpftool (an oracle we did not write). */
function vmlinuxFuncId(name: string): number {
  const dump = run("bpftool", ["btf", "dump", "file", "/sys/kernel/btf/vmlinux"]);
  const m = new RegExp(`^\\[(\\d+)\\] FUNC '${name}'`, "m").exec(dump);
  if (!m) throw new Error(`No FUNC '${name}' in vmlinux BTF`);
  return Number(m[1]);
}

let fentryResult: number | undefined;
function fentryLoad(): number {
  return fentryResult ??= loadFentry(vmlinuxFuncId("__do_sys_getpid"));
}

kernelTest("permissions: EPERM with CAP_BPF says the kernel refused for another reason", () => {
  assert(hasCapability(Capability.CAP_BPF) || hasCapability(Capability.CAP_SYS_ADMIN));
  const r = fentryLoad();
  assertEquals(r, -1, "this kernel refuses trampoline programs with EPERM");
  const e = bpfError(BpfCmd.PROG_LOAD, -r) as PermissionError;
  assertInstanceOf(e, PermissionError);
  assertEquals(e.missing, undefined);
  assert(e.message.includes("for another reason"), e.message);
  assertInstanceOf(e.cause, SyscallError);
  assertEquals((e.cause as SyscallError).code, "EPERM");
}, {
  skipIf: () => {
    const r = fentryLoad();
    if (r >= 0) {
      closeFd(r);
      return "this kernel loads fentry programs (BPF trampolines, which Linux 5.5 has): no " +
        "EPERM to observe";
    }
    return undefined;
  },
});

Deno.test("permissions: EACCES from BPF_PROG_LOAD is the verifier, not a permission error", () => {
  const e = bpfError(BpfCmd.PROG_LOAD, 13) as SyscallError;
  assert(!(e instanceof PermissionError));
  assertInstanceOf(e, SyscallError);
  assertEquals(e.code, "EACCES");
  assertEquals(e.command, "BPF_PROG_LOAD");
});
