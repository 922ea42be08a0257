// A socket filter that writes one record of `size` bytes to a ring buffer per test run, for
// the ring benches: records are produced with BPF_PROG_TEST_RUN's repeat, outside the timed
// part of each iteration.
import { insn, loadMapFd, loadRaw, Op } from "../_raw_prog.ts";

const BPF_PROG_TYPE_SOCKET_FILTER = 1;
const BPF_FUNC_ringbuf_output = 130;

/** A socket filter that fills `size` bytes of stack and outputs them to `ringFd`. */
export function ringWriter(ringFd: number, size: number): number {
  const fill = Array.from({ length: size / 8 }, (_, k) => insn(Op.STX_DW, 10, 2, -8 * (k + 1), 0));
  const load = loadRaw(BPF_PROG_TYPE_SOCKET_FILTER, [
    insn(Op.MOV64_IMM, 2, 0, 0, 0x07070707),
    ...fill, // *(u64 *)(r10 - 8k) = r2
    ...loadMapFd(1, ringFd),
    insn(Op.MOV64_REG, 2, 10, 0, 0),
    insn(Op.ADD64_IMM, 2, 0, 0, -size), // r2 = r10 - size
    insn(Op.MOV64_IMM, 3, 0, 0, size),
    insn(Op.MOV64_IMM, 4, 0, 0, 0),
    insn(Op.CALL, 0, 0, 0, BPF_FUNC_ringbuf_output),
    insn(Op.MOV64_IMM, 0, 0, 0, 0),
    insn(Op.EXIT, 0, 0, 0, 0),
  ], 1 << 16);
  if (load.fd < 0) throw new Error(load.log);
  return load.fd;
}
