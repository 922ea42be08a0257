/**
 * freplace (Extension) programs: the target is the loaded program given as
 * `targetProgram`, and the function is found by name in that program's BTF — as libbpf's
 * `libbpf_find_prog_btf_id` finds it. This kernel refuses Extension programs (EPERM, like
 * every trampoline program here), so one test intercepts only that BPF_PROG_LOAD, with the
 * target loaded for real, and checks the attr the kernel would get against bpftool's dump of
 * the target's BTF; the kernel test runs where the kernel takes the program.
 *
 * Also here: BPF_PROG_LOAD is retried on EAGAIN, which the verifier returns when a signal
 * is pending (libbpf retries the same way).
 */
import { assert, assertEquals, assertThrows } from "@std/assert";
import { type Attr, type Backend, BpfCmd, currentBackend, eventFd, setBackend } from "../../ffi.ts";
import { Errno, PermissionError, SyscallError } from "../../errors.ts";
import {
  type CollectionSpec,
  newCollection,
  Program,
  ProgramSpec,
  ProgramType,
} from "../../prog/mod.ts";
import * as elf from "../../elf/mod.ts";
import { asm } from "../../mod.ts";
import { assertNoFdLeak, kernelTest, run, testdata } from "../_harness.ts";
import { noElfReader } from "./_elf_loader.ts";

const OBJ = "prog3_freplace-el.o";

function parse(): CollectionSpec {
  const p = (elf as unknown as Record<string, (b: Uint8Array) => CollectionSpec>)
    .parseCollectionSpec;
  return p(Deno.readFileSync(testdata(OBJ)));
}

const u32 = (b: Uint8Array, o: number) => new DataView(b.buffer).getUint32(o, true);

/** The real kernel, except for the calls `intercept` answers (a number) rather than passes on. */
class Intercepting implements Backend {
  readonly real = currentBackend();
  constructor(readonly intercept: (cmd: number, attr: Attr) => number | undefined) {}
  bpf(cmd: number, attr: Attr): number {
    return this.intercept(cmd, attr) ?? this.real.bpf(cmd, attr);
  }
  address(buffer: Uint8Array): bigint {
    return this.real.address(buffer);
  }
}

/** bpftool's view of the target's BTF: the id of FUNC 'decide'. */
function decideId(target: Program): number {
  const dump = run("bpftool", ["btf", "dump", "id", String(target.info().btfId)]);
  const id = Number(/^\[(\d+)\] FUNC 'decide' /m.exec(dump)?.[1]);
  assert(id > 0, `no FUNC 'decide' in the target's BTF:\n${dump}`);
  return id;
}

/** Whether this kernel loads the replacement program; the reason when it does not. */
function freplaceRefused(): string | undefined {
  if (noElfReader()) return noElfReader();
  const spec = parse();
  try {
    using coll = newCollection(spec, { only: ["entry"] });
    using _ = Program.load(spec.programs.replacement, { targetProgram: coll.programs.entry });
    return undefined;
  } catch (e) {
    if (e instanceof PermissionError) {
      return "this kernel refuses Extension (freplace) programs with EPERM";
    }
    return undefined; // Any other failure is the test's to report.
  }
}

kernelTest("freplace replaces the target's function, found in the target's BTF", () => {
  const spec = parse();
  const data = new Uint8Array(64);
  using coll = newCollection(spec, { only: ["entry"] });
  assertEquals(coll.programs.entry.run({ data }).retval, 1);
  using repl = Program.load(spec.programs.replacement, { targetProgram: coll.programs.entry });
  assertEquals(repl.type, ProgramType.Extension);
  // Attaching the replacement needs a link (link/); the load itself is what prog/ does.
  assertEquals(repl.info().attachBtfId, decideId(coll.programs.entry));
}, { skipIf: freplaceRefused });

kernelTest("freplace sends the target program's fd and its function's BTF id", () => {
  const spec = parse();
  using coll = newCollection(spec, { only: ["entry"] });
  const target = coll.programs.entry;
  const funcId = decideId(target);

  const loads: Uint8Array[] = [];
  const fds: number[] = [];
  const restore = setBackend(
    new Intercepting((cmd, attr) => {
      if (cmd !== BpfCmd.PROG_LOAD || u32(attr.bytes, 0) !== ProgramType.Extension) {
        return undefined;
      }
      loads.push(attr.bytes.slice());
      const fd = eventFd();
      fds.push(fd);
      return fd;
    }),
  );
  try {
    using repl = Program.load(spec.programs.replacement, { targetProgram: target });
    assertEquals(repl.fd, fds[0]);
  } finally {
    restore();
  }
  assertEquals(loads.length, 1);
  const attr = loads[0];
  assertEquals(u32(attr, 0), ProgramType.Extension, "prog_type");
  assertEquals(u32(attr, 68), 0, "expected_attach_type");
  assertEquals(u32(attr, 108), funcId, "attach_btf_id");
  assertEquals(u32(attr, 112), target.fd, "attach_prog_fd");
  assert(u32(attr, 72) > 0, "prog_btf_fd");
  assertEquals(u32(attr, 88), 1, "func_info_cnt");
});

kernelTest("freplace refuses a missing target or function before loading", async () => {
  const spec = parse();
  await assertNoFdLeak(() => {
    using coll = newCollection(spec, { only: ["entry"] });
    assertThrows(
      () => Program.load(spec.programs.replacement),
      TypeError,
      "an Extension program needs options.targetProgram",
    );
    const other = new ProgramSpec({ ...spec.programs.replacement, attachTo: "nope" });
    assertThrows(
      () => Program.load(other, { targetProgram: coll.programs.entry }),
      TypeError,
      "the target program has no function 'nope'",
    );
  });
}, { skipIf: noElfReader });

kernelTest("BPF_PROG_LOAD is tried again while the verifier answers EAGAIN", () => {
  const instructions = new asm.Instructions([asm.Mov.Imm(asm.R0, 7), asm.Return()]);
  const spec = new ProgramSpec({ name: "eagain", type: ProgramType.SocketFilter, instructions });
  // Only this program's loads: feature probes load programs of their own.
  const ours = (attr: Attr) => new TextDecoder().decode(attr.bytes.subarray(48, 54)) === "eagain";
  let calls = 0;
  let eagains = 2;
  const restore = setBackend(
    new Intercepting((cmd, attr) => {
      if (cmd !== BpfCmd.PROG_LOAD || !ours(attr)) return undefined;
      calls++;
      return eagains-- > 0 ? -Errno.EAGAIN : undefined;
    }),
  );
  try {
    calls = 0;
    using prog = Program.load(spec);
    assertEquals(calls, 3);
    assertEquals(prog.run({ data: new Uint8Array(16) }).retval, 7);

    // Always EAGAIN: five tries without a log, five with one, then the errno.
    calls = 0;
    eagains = Infinity;
    const e = assertThrows(() => Program.load(spec), SyscallError) as SyscallError;
    assertEquals([e.errno, calls], [Errno.EAGAIN, 10]);
  } finally {
    restore();
  }
});
