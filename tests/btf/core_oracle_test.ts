// Oracle: the CO-RE values this library computes equal what Debian's libbpf (1.1.2)
// computes for the same objects — against the kernel's BTF and against the objects' own
// BTF (libbpf's btf_custom_path). libbpf's answers come from its debug log, printed by a
// small C program (core_oracle.c, built here with gcc -lbpf) that opens and loads the
// object: "relo #N: <local spec>", "matching candidate #0 <target spec>", "patched insn
// #M (ALU/ALU64) imm A -> B", "(LDX/ST/STX) off A -> B", "mem_sz A -> B", "(LDIMM64)
// imm64 A -> B" and "substituting insn #M w/ invalid insn". Every relocation of every
// program is compared: number, specs, patched value, and the patched instruction itself.
import { assert, assertEquals } from "@std/assert";
import {
  applyCoreRelocations,
  calcCoreRelocations,
  CORE_POISON_META,
  describeCoreRelo,
  loadKernelSpec,
  POISON_HELPER_ID,
  type Spec,
} from "../../btf/mod.ts";
import { formatCoreSpec } from "../../btf/core_spec.ts";
import { asm } from "../../mod.ts";
import { kernelTest, run, testdata } from "../_harness.ts";
import { loadCoreObject } from "./core_load.ts";

let oracleBin: string | undefined;
function oracle(): string {
  if (oracleBin) return oracleBin;
  const dir = Deno.makeTempDirSync({ prefix: "core_oracle" });
  const src = new URL("./core_oracle.c", import.meta.url).pathname;
  run("gcc", ["-O2", "-o", `${dir}/core_oracle`, src, "-lbpf"]);
  return oracleBin = `${dir}/core_oracle`;
}

interface LibbpfRelo {
  localSpec?: string;
  candidate?: string;
  insn?: number;
  what?: "imm" | "off" | "imm64" | "poison";
  value?: bigint;
  memSize?: [number, number];
}

/** libbpf's log, parsed: program name → relocation number → what libbpf did. */
function libbpfRelos(obj: string, btfPath?: string): Map<string, Map<number, LibbpfRelo>> {
  const out = run(oracle(), btfPath ? [obj, btfPath] : [obj]);
  assert(out.includes("ORACLE: load"), out);
  const progs = new Map<string, Map<number, LibbpfRelo>>();
  const get = (prog: string, n: number) => {
    let m = progs.get(prog);
    if (!m) progs.set(prog, m = new Map());
    let r = m.get(n);
    if (!r) m.set(n, r = {});
    return r;
  };
  for (const line of out.split("\n")) {
    const m = /^libbpf: prog '(\w+)': relo #(\d+): (.*)$/.exec(line);
    if (!m) continue;
    const r = get(m[1], Number(m[2]));
    const rest = m[3];
    let x: RegExpExecArray | null;
    if (rest.startsWith("<")) r.localSpec = rest;
    else if ((x = /^matching candidate #\d+ (<.*)$/.exec(rest))) r.candidate ??= x[1];
    else if (
      (x =
        /^patched insn #(\d+) \((?:ALU\/ALU64|LDX\/ST\/STX|LDIMM64)\) (imm64|imm|off) \d+ -> (\d+)$/
          .exec(rest))
    ) {
      r.insn = Number(x[1]);
      r.what = x[2] as "imm" | "off" | "imm64";
      r.value = BigInt(x[3]);
    } else if ((x = /^patched insn #\d+ \(LDX\/ST\/STX\) mem_sz (\d+) -> (\d+)$/.exec(rest))) {
      r.memSize = [Number(x[1]), Number(x[2])];
    } else if ((x = /^substituting insn #(\d+) w\/ invalid insn$/.exec(rest))) {
      // A poisoned imm64 load logs both halves, the second first: keep the first.
      if (r.what !== "poison" || Number(x[1]) < r.insn!) r.insn = Number(x[1]);
      r.what = "poison";
    }
  }
  return progs;
}

function compare(objName: string, target: Spec, btfPath?: string): number {
  const obj = testdata(objName);
  const theirs = libbpfRelos(obj, btfPath);
  const { programs } = loadCoreObject(obj);
  let compared = 0;
  for (const p of programs) {
    if (p.relos === 0) continue;
    const lib = theirs.get(p.name)!;
    assert(lib, `libbpf relocated no program '${p.name}'`);
    const ours = calcCoreRelocations(p.insns, target);
    const patched = applyCoreRelocations(p.insns, target);
    const offsets = p.insns.offsets();
    const patchedAt = new Map<number, asm.Instruction>();
    for (const { instruction, offset } of patched.iterate()) patchedAt.set(offset, instruction);
    assertEquals(ours.length, lib.size, `${p.name}: number of relocations`);
    for (const { insnIndex, fixup } of ours) {
      const at = `${objName} ${p.name} relo #${fixup.index}`;
      const found = lib.get(fixup.index);
      assert(found, `${at}: libbpf has no such relocation`);
      const r = found!;
      const slot = offsets[insnIndex];
      assertEquals(r.insn, slot, `${at}: instruction`);
      assertEquals(describeCoreRelo(fixup.relo), r.localSpec, `${at}: local spec`);
      if (fixup.targetSpec) {
        assertEquals(formatCoreSpec(fixup.targetSpec), r.candidate, `${at}: target spec`);
      }
      const ins = patchedAt.get(slot)!;
      if (r.what === "poison") {
        assert(fixup.poison, `${at}: libbpf poisoned it, we did not (${fixup.target})`);
        assertEquals([ins.opcode, ins.imm], [0x85, POISON_HELPER_ID], at);
        assert(asm.getMeta(ins, CORE_POISON_META), at);
      } else {
        assert(!fixup.poison, `${at}: we poisoned it (${fixup.reason}), libbpf did not`);
        assertEquals(fixup.target, r.value, `${at}: value`);
        const have = r.what === "off"
          ? BigInt(ins.offset)
          : r.what === "imm"
          ? BigInt.asUintN(32, BigInt(ins.imm))
          : asm.constant(ins);
        const want = r.what === "imm" ? BigInt.asUintN(32, r.value!) : r.value!;
        assertEquals(BigInt.asUintN(64, have), BigInt.asUintN(64, want), `${at}: patched insn`);
        if (r.memSize) {
          assertEquals([fixup.localSize, fixup.targetSize], r.memSize, `${at}: mem size`);
        } else if (r.what === "off") {
          assertEquals(ins.opcode, p.insns.list[insnIndex].opcode, `${at}: size kept`);
        }
      }
      compared++;
    }
  }
  return compared;
}

kernelTest("CO-RE oracle: core_kernel.o against vmlinux equals libbpf", () => {
  const n = compare("core_kernel-el.o", loadKernelSpec());
  assert(n >= 40, `only ${n} relocations compared`);
});

kernelTest("CO-RE oracle: core_relos.o against vmlinux equals libbpf (all missing)", () => {
  const n = compare("core_relos-el.o", loadKernelSpec());
  assert(n >= 18, `only ${n} relocations compared`);
});

kernelTest("CO-RE oracle: core_relos.o against its own BTF equals libbpf", () => {
  const path = testdata("core_relos-el.o");
  const n = compare("core_relos-el.o", loadCoreObject(path).spec, path);
  assert(n >= 18, `only ${n} relocations compared`);
});

kernelTest("CO-RE oracle: core_kernel.o against its own BTF equals libbpf", () => {
  const path = testdata("core_kernel-el.o");
  const n = compare("core_kernel-el.o", loadCoreObject(path).spec, path);
  assert(n >= 40, `only ${n} relocations compared`);
});
