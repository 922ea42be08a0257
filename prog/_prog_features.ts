/**
 * Load-time features a kernel may lack, each probed once per process (never read from a
 * version string): ISA v4 instructions (6.6), the verifier reporting the log size it
 * needed (`log_true_size`, 6.4) and typed function ksyms (a kernel FUNC in `ld_imm64`, 6.4).
 *
 * @module
 */

import { allocBuffer, Attr, BpfCmd, bpfErrno, bpfError, closeFd, cString } from "../ffi.ts";
import { feature, type FeatureProbe } from "../_internal/feature.ts";
import { Errno, NotSupportedError } from "../errors.ts";
import type { Instruction } from "../asm/instruction.ts";
import { ALUOp, Class, Mode } from "../asm/opcode.ts";
import { probeProgramLoad } from "./_probe_load.ts";
import { mapKernelSpec } from "../btf/handle.ts";
import { ProgramType, programTypeName } from "./program_type.ts";

const R0_ZERO = [0xb7, 0, 0, 0, 0, 0, 0, 0];
/** `r0 = bswap16 r0` (ALU64 | END): an opcode only ISA v4 kernels know. */
const BSWAP16_R0 = [0xd7, 0, 0, 0, 16, 0, 0, 0];
const BPF_JA = 0x00;

/** Sign-extending loads and moves, signed division, bswap and `gotol` (Linux 6.6). */
export const isaV4: FeatureProbe = feature(
  "BPF ISA v4",
  "6.6",
  () => probeProgramLoad(ProgramType.SocketFilter, [...R0_ZERO, ...BSWAP16_R0]),
);

/** Whether `ins` is an ISA v4 instruction, which kernels before 6.6 reject. */
export function isIsaV4(ins: Instruction): boolean {
  const cls = ins.opcode & 0x07;
  const op = ins.opcode & 0xf0;
  switch (cls) {
    case Class.LDX:
      return (ins.opcode & 0xe0) === Mode.MEMSX;
    case Class.JMP32:
      return op === BPF_JA;
    case Class.ALU64:
    case Class.ALU:
      // bswap is END in the 64-bit class; movsx, sdiv and smod set `offset`.
      if (cls === Class.ALU64 && op === ALUOp.End) return true;
      return (op === ALUOp.Mov || op === ALUOp.Div || op === ALUOp.Mod) && ins.offset !== 0;
  }
  return false;
}

/** `BTF_KIND_FUNC`. */
const BTF_KIND_FUNC = 12;

/**
 * Typed function ksyms (Linux 6.4): `ld_imm64` with `BPF_PSEUDO_BTF_ID` naming a kernel
 * FUNC, whose address the kernel fills in — `&fn` of an `extern void fn(void) __ksym`, and
 * `bpf_ksym_exists()` of a kfunc. Older kernels take only VARs there ("isn't KIND_VAR").
 * Probed with the first function of vmlinux BTF (a function pahole saw in the symbol table,
 * so the kernel finds its address).
 */
export const ksymFunctions: FeatureProbe = feature("typed function ksyms", "6.4", () => {
  const vmlinux = mapKernelSpec();
  let id = 1;
  while (id < vmlinux.nextTypeId && vmlinux.kindOf(id) !== BTF_KIND_FUNC) id++;
  if (id >= vmlinux.nextTypeId) return false;
  const imm = [id & 0xff, (id >>> 8) & 0xff, (id >>> 16) & 0xff, id >>> 24];
  // r1 = BTF id `id` (src_reg 3: BPF_PSEUDO_BTF_ID; the second slot's imm 0: vmlinux)
  const ldImm64 = [0x18, 0x31, 0, 0, ...imm, 0, 0, 0, 0, 0, 0, 0, 0];
  return probeProgramLoad(ProgramType.SocketFilter, [...ldImm64, ...R0_ZERO]);
});

/** The verifier log level that prints every instruction: a long log from a short program. */
const LOG_LEVEL_ALL = 2;
/** The smallest log buffer the kernel accepts. */
const MIN_LOG_SIZE = 128;

/**
 * `log_true_size` (Linux 6.4): the kernel writes the log size it needed into `bpf_attr` at
 * offset 140. Probed by loading a program whose level-2 log overflows the smallest buffer;
 * older kernels leave the field 0, and a loader must grow the buffer by doubling instead.
 */
export const logTrueSize: FeatureProbe = feature("log_true_size", "6.4", () => {
  const count = 16;
  const insns = allocBuffer((count + 1) * 8);
  for (let i = 0; i < count; i++) insns.set(R0_ZERO, i * 8);
  insns.set([0x95, 0, 0, 0, 0, 0, 0, 0], count * 8);
  const log = allocBuffer(MIN_LOG_SIZE);
  const attr = new Attr()
    .u32(0, ProgramType.SocketFilter)
    .u32(4, count + 1)
    .pointer(8, insns)
    .pointer(16, cString("GPL"))
    .u32(24, LOG_LEVEL_ALL)
    .u32(28, MIN_LOG_SIZE)
    .pointer(32, log);
  const r = bpfErrno(BpfCmd.PROG_LOAD, attr);
  if (r >= 0) closeFd(r);
  else if (r === -Errno.EPERM) throw bpfError(BpfCmd.PROG_LOAD, Errno.EPERM);
  return attr.getU32(140) > MIN_LOG_SIZE;
});

/**
 * The first kernel of each program type that a plain `r0 = 0; exit` (with the spec's
 * expected attach type) probes. Types that need an attach target or flags to load at all
 * (tracing, struct_ops, ext, lsm, syscall) are left out: a failed probe would prove nothing.
 */
const PROGRAM_TYPE_MIN_KERNEL: Readonly<Partial<Record<ProgramType, string>>> = {
  [ProgramType.SocketFilter]: "3.19",
  [ProgramType.Kprobe]: "4.1",
  [ProgramType.SchedCLS]: "4.1",
  [ProgramType.SchedACT]: "4.1",
  [ProgramType.TracePoint]: "4.7",
  [ProgramType.XDP]: "4.8",
  [ProgramType.PerfEvent]: "4.9",
  [ProgramType.CGroupSKB]: "4.10",
  [ProgramType.CGroupSock]: "4.10",
  [ProgramType.LWTIn]: "4.10",
  [ProgramType.LWTOut]: "4.10",
  [ProgramType.LWTXmit]: "4.10",
  [ProgramType.SockOps]: "4.13",
  [ProgramType.SkSKB]: "4.14",
  [ProgramType.CGroupDevice]: "4.15",
  [ProgramType.SkMsg]: "4.17",
  [ProgramType.RawTracepoint]: "4.17",
  [ProgramType.CGroupSockAddr]: "4.17",
  [ProgramType.LWTSeg6Local]: "4.18",
  [ProgramType.LircMode2]: "4.18",
  [ProgramType.SkReuseport]: "4.19",
  [ProgramType.FlowDissector]: "4.20",
  [ProgramType.CGroupSysctl]: "5.2",
  [ProgramType.RawTracepointWritable]: "5.2",
  [ProgramType.CGroupSockopt]: "5.3",
  [ProgramType.SkLookup]: "5.9",
  [ProgramType.Netfilter]: "6.4",
};

const programTypeProbes = new Map<string, FeatureProbe>();

/**
 * After a load of `type` (expected attach type `attachType`) failed with EINVAL and no
 * verifier log, as kernels answer a program type they do not know: a
 * {@linkcode NotSupportedError} naming the type and its first kernel when the probe confirms
 * it is missing, else undefined.
 */
export function missingProgramType(
  type: ProgramType,
  attachType: number,
  options?: ErrorOptions,
): NotSupportedError | undefined {
  const minKernel = PROGRAM_TYPE_MIN_KERNEL[type];
  if (minKernel === undefined) return undefined;
  const key = `${type}/${attachType}`;
  let probe = programTypeProbes.get(key);
  if (!probe) {
    probe = feature(
      programTypeName(type),
      minKernel,
      () => probeProgramLoad(type, R0_ZERO, undefined, attachType),
    );
    programTypeProbes.set(key, probe);
  }
  if (probe.supported()) return undefined;
  return new NotSupportedError(probe.feature, probe.minKernel, undefined, options);
}
