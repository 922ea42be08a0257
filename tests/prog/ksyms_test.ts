/**
 * Kernel symbols in `.ksyms`: typed ksyms (a kernel function whose address is taken, per-CPU
 * variables) resolved to BTF ids in vmlinux as `bpftool btf dump` lists them (a function by
 * its kallsyms address before Linux 6.4, which takes no FUNC there), an untyped
 * ksym resolved to its address in /proc/kallsyms, weak ones the kernel lacks loaded as NULL,
 * and a local type the kernel's does not match refused as libbpf refuses it. The
 * differential test compares the translated instructions of prog3_ksyms with libbpf's.
 */
import { assert, assertEquals, assertStringIncludes, assertThrows } from "@std/assert";
import { asm } from "../../mod.ts";
import {
  Func,
  FuncProto,
  Int,
  Linkage,
  marshalTypes,
  parseSpec,
  Struct,
  Var,
} from "../../btf/mod.ts";
import { Errno, NotSupportedError, VerifierError } from "../../errors.ts";
import { newCollection } from "../../prog/mod.ts";
import type { CollectionSpec, ProgramSpec } from "../../prog/mod.ts";
import { EXTERN, type ExternRef } from "../../prog/program_spec.ts";
import { resolveKernelSymbols } from "../../prog/_externs.ts";
import { ksymFunctions } from "../../prog/_prog_features.ts";
import { assertNoFdLeak, kernelTest, testdata } from "../_harness.ts";
import { BpfCmd, kernelBackend, possibleCpus, setBackend } from "../../ffi.ts";
import { loadSpec, noElfReader } from "./_elf_loader.ts";

/** `[id] KIND 'name'` lines of vmlinux BTF, as bpftool prints them, for the given names. */
function bpftoolIds(kind: string, names: string[]): Map<string, number> {
  const out = new Deno.Command("bpftool", {
    args: ["btf", "dump", "file", "/sys/kernel/btf/vmlinux"],
    stdout: "piped",
  }).outputSync();
  const ids = new Map<string, number>();
  const re = new RegExp(`^\\[(\\d+)\\] ${kind} '([^']+)'`, "gm");
  for (const m of new TextDecoder().decode(out.stdout).matchAll(re)) {
    if (names.includes(m[2]) && !ids.has(m[2])) ids.set(m[2], Number(m[1]));
  }
  return ids;
}

/** Addresses from /proc/kallsyms, read here with grep rather than the loader's reader. */
function kallsyms(names: string[]): Map<string, bigint> {
  const out = new Deno.Command("grep", {
    args: ["-wE", names.join("|"), "/proc/kallsyms"],
    stdout: "piped",
  }).outputSync();
  const found = new Map<string, bigint>();
  for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
    const [addr, , name] = line.split(/\s+/);
    if (names.includes(name) && !found.has(name)) found.set(name, BigInt("0x" + addr));
  }
  return found;
}

/** The resolved ld_imm64 of each ksym extern of `prog`, by extern name. */
function resolvedLoads(
  prog: ProgramSpec,
  kernelTypes?: Parameters<typeof resolveKernelSymbols>[1],
) {
  const resolved = resolveKernelSymbols(prog.instructions, kernelTypes);
  for (const h of resolved.handles) h.close();
  const loads = new Map<string, asm.Instruction>();
  prog.instructions.list.forEach((ins, i) => {
    const ext = ins.meta?.[EXTERN] as ExternRef | undefined;
    if (ext && ins.opcode === asm.LoadImm64Op) loads.set(ext.name, resolved.insns.list[i]);
  });
  return loads;
}

/** Reads a global of its data section (`.bss` or `.data`) after a run. */
function global(spec: CollectionSpec, bss: Uint8Array, name: string): bigint {
  const v = spec.variables[name];
  const view = new DataView(bss.buffer, bss.byteOffset + v.offset, v.size);
  return v.size === 8 ? view.getBigUint64(0, true) : BigInt(view.getInt32(0, true));
}

kernelTest("typed and untyped ksyms resolve as libbpf resolves them", async () => {
  const spec = await loadSpec(testdata("prog3_ksyms-el.o"));
  const ids = bpftoolIds("FUNC", ["bpf_prog_put"]);
  const addrs = kallsyms(["bpf_prog_put", "bpf_prog_inc"]);
  assert(ids.has("bpf_prog_put") && addrs.size === 2, "vmlinux lacks the symbols of the test");

  const loads = resolvedLoads(spec.programs.read_ksyms);
  const typed = loads.get("bpf_prog_put")!;
  if (ksymFunctions.supported()) {
    // Typed (a function): its FUNC id in vmlinux, the kernel fills in the address.
    assertEquals([typed.src, typed.imm, typed.immHi], [
      asm.Pseudo.BTFID,
      ids.get("bpf_prog_put"),
      0,
    ]);
  } else {
    // Before 6.4 the kernel takes no FUNC there: the loader writes kallsyms' address.
    assertEquals([typed.src, address(typed)], [asm.Pseudo.None, addrs.get("bpf_prog_put")]);
  }
  // Untyped: the address from kallsyms, as a plain 64-bit immediate.
  const untyped = loads.get("bpf_prog_inc")!;
  assertEquals([untyped.src, address(untyped)], [asm.Pseudo.None, addrs.get("bpf_prog_inc")]);
  for (const weak of ["prog3_no_such_variable", "prog3_no_such_symbol"]) {
    const ins = loads.get(weak)!;
    assertEquals([ins.src, ins.imm, ins.immHi], [asm.Pseudo.None, 0, 0], weak);
  }

  await assertNoFdLeak(() => {
    using coll = newCollection(spec);
    assertEquals(coll.programs.read_ksyms.run().retval, 0);
    const bss = coll.maps[".bss"].lookup(0) as Uint8Array;
    assertEquals(global(spec, bss, "typed_addr"), addrs.get("bpf_prog_put"));
    assertEquals(global(spec, bss, "untyped_addr"), addrs.get("bpf_prog_inc"));
    assertEquals(global(spec, bss, "missing_typed_is_null"), 1n);
    assertEquals(global(spec, bss, "missing_untyped_is_null"), 1n);
  });
}, { skipIf: noElfReader });

kernelTest("the typed function ksym probe agrees with libbpf's load of the same object", () => {
  // libbpf (bpftool) always loads a typed function ksym by its FUNC id: kernels before 6.4
  // refuse that ("isn't KIND_VAR"), which is what the probe says they lack.
  const dir = `/sys/fs/bpf/ebpf_ksym_funcs_${Deno.pid}`;
  try {
    const out = new Deno.Command("bpftool", {
      args: ["prog", "loadall", testdata("prog3_ksyms-el.o"), dir],
      stdout: "null",
      stderr: "piped",
    }).outputSync();
    const stderr = new TextDecoder().decode(out.stderr);
    assertEquals(out.success, ksymFunctions.supported(), stderr);
    if (!out.success) assertStringIncludes(stderr, "isn't KIND_VAR");
  } finally {
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch { /* never made */ }
  }
}, { skipIf: noElfReader });

kernelTest(
  "a kernel without typed function ksyms gets kallsyms' address, or NotSupportedError",
  async () => {
    const spec = await loadSpec(testdata("prog3_ksyms-el.o"));
    const prog = spec.programs.read_ksyms;
    const at = prog.instructions.list.findIndex((i) =>
      (i.meta?.[EXTERN] as ExternRef | undefined)?.name === "bpf_prog_put"
    );
    const ext = prog.instructions.list[at].meta![EXTERN] as ExternRef;
    // A kernel before 6.4 as the probe sees it: it refuses the probe's FUNC in ld_imm64.
    const restore = setBackend({
      bpf: (cmd, attr) =>
        cmd === BpfCmd.PROG_LOAD && attr.getU32(4) === 4
          ? -Errno.EINVAL
          : kernelBackend.bpf(cmd, attr),
      address: kernelBackend.address,
    });
    try {
      assert(!ksymFunctions.supported());
      const typed = resolvedLoads(prog).get("bpf_prog_put")!;
      assertEquals(
        [typed.src, address(typed)],
        [asm.Pseudo.None, kallsyms(["bpf_prog_put"]).get("bpf_prog_put")],
      );
      // A function the kernel's BTF has and kallsyms does not list: nothing to fall back on.
      const name = "prog3_not_in_kallsyms";
      const target = parseSpec(
        marshalTypes([new Func(name, (ext.type as Func).type as FuncProto, Linkage.Global)]),
      );
      const insns = prog.instructions.list.map((ins, i) =>
        i === at ? { ...ins, meta: { ...ins.meta, [EXTERN]: { ...ext, name } } } : ins
      );
      const e = assertThrows(
        () => resolveKernelSymbols(asm.Instructions.of(insns), target),
        NotSupportedError,
      );
      assertEquals([e.feature, e.minKernel], ["typed function ksyms", "6.4"]);
      assertStringIncludes(e.message, `ksym '${name}' is a function`);
    } finally {
      restore();
    }
  },
  { skipIf: noElfReader },
);

/** The 64-bit immediate of a resolved `ld_imm64`. */
function address(ins: asm.Instruction): bigint {
  return BigInt.asUintN(32, BigInt(ins.imm)) | (BigInt.asUintN(32, BigInt(ins.immHi)) << 32n);
}

kernelTest(
  "per-CPU typed ksyms resolve to their VAR ids; the kernel needs them in kallsyms",
  async () => {
    const spec = await loadSpec(testdata("prog3_percpu_ksyms-el.o"));
    const ids = bpftoolIds("VAR", ["bpf_prog_active", "runqueues"]);
    assertEquals(ids.size, 2, "vmlinux BTF lacks the per-CPU variables of the test");
    const loads = resolvedLoads(spec.programs.read_percpu);
    for (const name of ["bpf_prog_active", "runqueues"]) {
      const ins = loads.get(name)!;
      assertEquals([ins.src, ins.imm, ins.immHi], [asm.Pseudo.BTFID, ids.get(name), 0], name);
    }

    if (kallsyms(["bpf_prog_active"]).size > 0) {
      // CONFIG_KALLSYMS_ALL: the kernel finds the variables' addresses.
      using coll = newCollection(spec);
      coll.programs.read_percpu.run();
      // Initialised globals: the variables live in .data, not .bss.
      const data = coll.maps[spec.variables.prog_active.mapName].lookup(0) as Uint8Array;
      assert(global(spec, data, "prog_active") >= 0n);
      // The run's CPU: any of them, as the test run may land on any CPU.
      const cpu = global(spec, data, "rq_cpu");
      assert(cpu >= 0n && cpu < BigInt(possibleCpus()), `rq->cpu ${cpu}`);
      return;
    }
    // Without it the kernel refuses the program — and libbpf's, for the same symbol.
    const reason = "failed to find the address for kernel symbol 'bpf_prog_active'";
    await assertNoFdLeak(() => {
      const e = assertThrows(() => newCollection(spec), VerifierError) as VerifierError;
      assertStringIncludes(e.message, reason);
    });
    const dir = `/sys/fs/bpf/ebpf_ksyms_${Deno.pid}`;
    try {
      const out = new Deno.Command("bpftool", {
        args: ["prog", "loadall", testdata("prog3_percpu_ksyms-el.o"), dir],
        stderr: "piped",
      }).outputSync();
      assert(!out.success, "libbpf loaded what the kernel refused to us");
      assertStringIncludes(new TextDecoder().decode(out.stderr), reason);
    } finally {
      try {
        Deno.removeSync(dir, { recursive: true });
      } catch { /* never made */ }
    }
  },
  { skipIf: noElfReader },
);

Deno.test("a typed ksym whose type the kernel's does not match is refused, or NULL when weak", async () => {
  if (noElfReader()) return;
  const spec = await loadSpec(testdata("prog3_percpu_ksyms-el.o"));
  // A kernel whose bpf_prog_active is a struct (the program says int) and whose runqueues
  // is a struct, as the program says.
  const int = new Int("int", 4, 1);
  const target = parseSpec(marshalTypes([
    new Var("bpf_prog_active", new Struct("other", 4, []), Linkage.Global),
    new Var("runqueues", new Struct("rq", 8, []), Linkage.Global),
    new Func("unused", new FuncProto(int, []), Linkage.Global),
  ]));
  const prog = spec.programs.read_percpu;
  const e = assertThrows(() => resolveKernelSymbols(prog.instructions, target), TypeError);
  assertStringIncludes(
    (e as Error).message,
    "Cannot resolve ksym 'bpf_prog_active': its type int 'int' is incompatible with the " +
      "kernel's struct 'other'",
  );

  // The same extern made weak: unresolved, so the load yields NULL.
  const insns = prog.instructions.list.map((ins) => {
    const ext = ins.meta?.[EXTERN] as ExternRef | undefined;
    if (ext?.name !== "bpf_prog_active") return ins;
    return { ...ins, meta: { ...ins.meta, [EXTERN]: { ...ext, weak: true } } };
  });
  const weak = resolveKernelSymbols(asm.Instructions.of(insns), target).insns.list;
  const at = insns.findIndex((i) => (i.meta?.[EXTERN] as ExternRef)?.name === "bpf_prog_active");
  assertEquals([weak[at].src, weak[at].imm, weak[at].immHi], [asm.Pseudo.None, 0, 0]);
  const rq = insns.findIndex((i) => (i.meta?.[EXTERN] as ExternRef)?.name === "runqueues");
  assertEquals([weak[rq].src, weak[rq].imm], [
    asm.Pseudo.BTFID,
    target.typeId(target.typeByName("runqueues", Var)!),
  ]);
});
