/**
 * Load-time features a kernel may lack, each probed once per process (never read from a
 * version string): the ISA versions, bounded loops, large programs, the verifier reporting the
 * log size it needed (`log_true_size`, 6.4) and typed function ksyms (a kernel FUNC in
 * `ld_imm64`, 6.4).
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
import { haveProgramType, PROGRAM_TYPE_MIN_KERNEL } from "./program_type_probe.ts";

const R0_ZERO = [0xb7, 0, 0, 0, 0, 0, 0, 0];
const R0_ONE = [0xb7, 0, 0, 0, 1, 0, 0, 0];
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
 * After a load of `type` failed with EINVAL and no verifier log, as kernels answer a
 * program type they do not know: a {@linkcode NotSupportedError} naming the type and its
 * first kernel when the program type probe confirms it is missing, else undefined.
 */
export function missingProgramType(
  type: ProgramType,
  options?: ErrorOptions,
): NotSupportedError | undefined {
  if (!Object.hasOwn(PROGRAM_TYPE_MIN_KERNEL, type) || haveProgramType(type)) return undefined;
  return new NotSupportedError(
    programTypeName(type),
    PROGRAM_TYPE_MIN_KERNEL[type as Exclude<ProgramType, 0>],
    undefined,
    options,
  );
}

/**
 * BPF streams (Linux 6.17): a program's own stdout and stderr, read with
 * BPF_PROG_STREAM_READ_BY_FD. Probed with fd -1: a kernel that knows the command answers
 * EBADF for the fd, an older one EINVAL for the command.
 */
export const programStreams: FeatureProbe = feature("BPF program streams", "6.17", () => {
  const attr = new Attr().u32(12, 1).u32(16, 0xffffffff);
  const r = bpfErrno(BpfCmd.PROG_STREAM_READ_BY_FD, attr);
  if (r === -Errno.EPERM) throw bpfError(BpfCmd.PROG_STREAM_READ_BY_FD, Errno.EPERM);
  return r === -Errno.EBADF;
});

/**
 * The misc probes of `bpftool feature probe`: each loads a socket filter that only a
 * kernel with the feature accepts.
 */
function socketFilterLoads(...insns: number[][]): () => boolean {
  return () => probeProgramLoad(ProgramType.SocketFilter, insns.flat());
}

/** `BPF_JLT` and friends (4.14): `r0 = 0; if r0 < 0 goto +1; r0 = 1; exit`. */
export const isaV2: FeatureProbe = feature(
  "BPF ISA v2",
  "4.14",
  socketFilterLoads(R0_ZERO, [0xa5, 0, 1, 0, 0, 0, 0, 0], R0_ONE),
);

/** 32-bit jumps (`BPF_JMP32`, 5.1): the ISA v2 probe with `w0 < 0`. */
export const isaV3: FeatureProbe = feature(
  "BPF ISA v3",
  "5.1",
  socketFilterLoads(R0_ZERO, [0xa6, 0, 1, 0, 0, 0, 0, 0], R0_ONE),
);

/** Bounded loops (5.3): `r0 = 10; r0 -= 1; if r0 != 0 goto -2; exit`. */
export const boundedLoops: FeatureProbe = feature(
  "bounded loops",
  "5.3",
  socketFilterLoads(
    [0xb7, 0, 0, 0, 10, 0, 0, 0],
    [0x17, 0, 0, 0, 1, 0, 0, 0],
    [0x55, 0, 0xfe, 0xff, 0, 0, 0, 0],
  ),
);

/** The classic limit of 4096 instructions per program, which 5.2 raised to a million. */
const BPF_MAXINSNS = 4096;

/**
 * Programs longer than 4096 instructions (5.2): 4096 × `r0 = 1`, then `exit`. The program
 * is made when probed: made at import, its 4096 arrays cost every process ≈0.3 ms.
 */
export const largePrograms: FeatureProbe = feature(
  "large programs (1M instructions)",
  "5.2",
  () => socketFilterLoads(...Array.from({ length: BPF_MAXINSNS }, () => R0_ONE))(),
);
