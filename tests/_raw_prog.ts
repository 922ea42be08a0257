/**
 * Hand-encoded programs for tests that run below the asm/ and prog/ layers: raw
 * instructions, BPF_PROG_LOAD and BPF_PROG_TEST_RUN with attrs built by hand.
 *
 * @module
 */

import { allocBuffer, Attr, bpf, BpfCmd, bpfErrno, cString } from "../ffi.ts";

/** Encodes one instruction: opcode, dst/src registers, 16-bit offset, 32-bit immediate. */
export function insn(op: number, dst: number, src: number, off: number, imm: number): number[] {
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  v.setUint8(0, op);
  v.setUint8(1, (src << 4) | dst);
  v.setInt16(2, off, true);
  v.setInt32(4, imm, true);
  return [...b];
}

/** `r<dst> = map fd` as the two-slot ld_imm64 with BPF_PSEUDO_MAP_FD. */
export function loadMapFd(dst: number, fd: number): number[][] {
  return [insn(0x18, dst, 1, 0, fd), insn(0, 0, 0, 0, 0)];
}

/** Opcodes the tests use. */
export const Op = {
  MOV64_IMM: 0xb7,
  MOV64_REG: 0xbf,
  ADD64_IMM: 0x07,
  LDX_W: 0x61,
  STX_DW: 0x7b,
  CALL: 0x85,
  EXIT: 0x95,
} as const;

/** The outcome of a raw load: the fd (or -1), the log text and the errno. */
export interface RawLoad {
  fd: number;
  log: string;
  errno: number;
}

/** BPF_PROG_LOAD of `program` as `type` under GPL, with a log when `logSize` > 0. */
export function loadRaw(type: number, program: number[][], logSize = 0): RawLoad {
  const insns = allocBuffer(program.length * 8);
  insns.set(program.flat());
  const log = allocBuffer(logSize);
  const attr = new Attr()
    .u32(0, type)
    .u32(4, program.length)
    .pointer(8, insns)
    .pointer(16, cString("GPL"))
    .u32(24, logSize > 0 ? 1 : 0)
    .u32(28, logSize)
    .pointer(32, log);
  const r = bpfErrno(BpfCmd.PROG_LOAD, attr);
  const text = new TextDecoder().decode(log.subarray(0, Math.max(0, log.indexOf(0))));
  return { fd: r >= 0 ? r : -1, log: text, errno: r < 0 ? -r : 0 };
}

/** BPF_PROG_TEST_RUN with `data` as the packet, `repeat` times. */
export function testRun(
  progFd: number,
  data: Uint8Array,
  repeat = 1,
): { retval: number; duration: number } {
  const input = allocBuffer(data.length);
  input.set(data);
  const out = allocBuffer(data.length + 64);
  const attr = new Attr()
    .u32(0, progFd)
    .u32(8, input.length)
    .u32(12, out.length)
    .pointer(16, input)
    .pointer(24, out)
    .u32(32, repeat);
  bpf(BpfCmd.PROG_TEST_RUN, attr);
  return { retval: attr.getU32(4), duration: attr.getU32(36) };
}
