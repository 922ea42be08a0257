/**
 * Socket filters that write to a ring buffer or a perf event array once per test run, for
 * the reader tests: each record is the packet length the program sees (the data length
 * minus the 14-byte Ethernet header) as a u64.
 *
 * @module
 */

import { assert } from "@std/assert";
import { insn, loadMapFd, loadRaw, Op } from "../_raw_prog.ts";

const BPF_FUNC_perf_event_output = 25;
const BPF_FUNC_ringbuf_output = 130;
const MOV32_IMM = 0xb4;
const BPF_FUNC_map_lookup_elem = 1;
const ST_W = 0x62;
const JEQ_IMM = 0x15;

/** A program fd that writes one 8-byte record per run into the ring buffer `ringFd`. */
export function ringWriter(ringFd: number): number {
  return wideRingWriter(ringFd, 8);
}

/**
 * A program fd that writes one record of `size` bytes (a multiple of 8) per run into the ring
 * `ringFd`: every u64 of it is the packet length, so a record can be checked whole.
 */
export function wideRingWriter(ringFd: number, size: number): number {
  const fill = Array.from({ length: size / 8 }, (_, k) => insn(Op.STX_DW, 10, 2, -8 * (k + 1), 0));
  const load = loadRaw(1, [
    insn(Op.LDX_W, 2, 1, 0, 0), // r2 = skb->len
    ...fill, // *(u64 *)(r10 - 8k) = r2
    ...loadMapFd(1, ringFd),
    insn(Op.MOV64_REG, 2, 10, 0, 0),
    insn(Op.ADD64_IMM, 2, 0, 0, -size), // r2 = r10 - size
    insn(Op.MOV64_IMM, 3, 0, 0, size),
    insn(Op.MOV64_IMM, 4, 0, 0, 0),
    insn(Op.CALL, 0, 0, 0, BPF_FUNC_ringbuf_output),
    insn(Op.MOV64_IMM, 0, 0, 0, 0),
    insn(Op.EXIT, 0, 0, 0, 0),
  ], 64 * 1024);
  assert(load.fd > 0, load.log);
  return load.fd;
}

/**
 * A program fd that writes one record per run into the ring `ringFd`: the `size` bytes of the
 * value of key 0 of the array map `valueFd` (whose values are at least `size` bytes), so
 * records can be larger than the program's 512-byte stack.
 */
export function mapValueRingWriter(ringFd: number, valueFd: number, size: number): number {
  const load = loadRaw(1, [
    insn(ST_W, 10, 0, -4, 0), // *(u32 *)(r10 - 4) = 0
    ...loadMapFd(1, valueFd),
    insn(Op.MOV64_REG, 2, 10, 0, 0),
    insn(Op.ADD64_IMM, 2, 0, 0, -4),
    insn(Op.CALL, 0, 0, 0, BPF_FUNC_map_lookup_elem),
    insn(JEQ_IMM, 0, 0, 6, 0), // if r0 == 0 goto exit
    ...loadMapFd(1, ringFd),
    insn(Op.MOV64_REG, 2, 0, 0, 0), // r2 = the value
    insn(Op.MOV64_IMM, 3, 0, 0, size),
    insn(Op.MOV64_IMM, 4, 0, 0, 0),
    insn(Op.CALL, 0, 0, 0, BPF_FUNC_ringbuf_output),
    insn(Op.MOV64_IMM, 0, 0, 0, 0),
    insn(Op.EXIT, 0, 0, 0, 0),
  ], 64 * 1024);
  assert(load.fd > 0, load.log);
  return load.fd;
}

/** A program fd that outputs one 8-byte sample per run to the current CPU's perf ring. */
export function perfWriter(mapFd: number): number {
  const load = loadRaw(1, [
    insn(Op.LDX_W, 2, 1, 0, 0), // r2 = skb->len
    insn(Op.STX_DW, 10, 2, -8, 0), // *(u64 *)(r10 - 8) = r2
    ...loadMapFd(2, mapFd), // r2 = map (r1 stays the context)
    insn(MOV32_IMM, 3, 0, 0, -1), // r3 = BPF_F_CURRENT_CPU (0xffffffff)
    insn(Op.MOV64_REG, 4, 10, 0, 0),
    insn(Op.ADD64_IMM, 4, 0, 0, -8), // r4 = r10 - 8
    insn(Op.MOV64_IMM, 5, 0, 0, 8), // r5 = 8
    insn(Op.CALL, 0, 0, 0, BPF_FUNC_perf_event_output),
    insn(Op.MOV64_IMM, 0, 0, 0, 0),
    insn(Op.EXIT, 0, 0, 0, 0),
  ], 64 * 1024);
  assert(load.fd > 0, load.log);
  return load.fd;
}

/** The u64 a writer program put in a record. */
export function recordValue(r: Uint8Array): number {
  return Number(new DataView(r.buffer, r.byteOffset, r.byteLength).getBigUint64(0, true));
}

/** `lock *(u64 *)(dst + off) += src` with BPF_FETCH: src gets the old value. */
const ATOMIC_DW = 0xdb;
const BPF_ADD_FETCH = 0x01;

/**
 * The start of a sequenced writer: r1 = ++counter[0] of the array map `counterFd`, stored at
 * r10 - 16; jumps over `rest` instructions to the exit when the lookup fails.
 */
function nextSequence(counterFd: number, rest: number): number[][] {
  return [
    insn(ST_W, 10, 0, -4, 0), // *(u32 *)(r10 - 4) = 0
    ...loadMapFd(1, counterFd),
    insn(Op.MOV64_REG, 2, 10, 0, 0),
    insn(Op.ADD64_IMM, 2, 0, 0, -4),
    insn(Op.CALL, 0, 0, 0, BPF_FUNC_map_lookup_elem),
    insn(JEQ_IMM, 0, 0, 4 + rest, 0), // if r0 == 0 goto exit
    insn(Op.MOV64_IMM, 1, 0, 0, 1),
    insn(ATOMIC_DW, 0, 1, 0, BPF_ADD_FETCH), // r1 = counter++ (old value)
    insn(Op.ADD64_IMM, 1, 0, 0, 1), // r1 = the new value
    insn(Op.STX_DW, 10, 1, -16, 0), // *(u64 *)(r10 - 16) = r1
  ];
}

/**
 * A program fd that writes one 8-byte record per run into the ring `ringFd`: the next
 * value of a counter in the array map `counterFd` (u32 key 0, u64 value), so records carry
 * 1, 2, 3, … in the order they were written.
 */
export function sequencedRingWriter(ringFd: number, counterFd: number): number {
  const output = [
    ...loadMapFd(1, ringFd),
    insn(Op.MOV64_REG, 2, 10, 0, 0),
    insn(Op.ADD64_IMM, 2, 0, 0, -16),
    insn(Op.MOV64_IMM, 3, 0, 0, 8),
    insn(Op.MOV64_IMM, 4, 0, 0, 0),
    insn(Op.CALL, 0, 0, 0, BPF_FUNC_ringbuf_output),
  ];
  const load = loadRaw(1, [
    ...nextSequence(counterFd, output.length),
    ...output,
    insn(Op.MOV64_IMM, 0, 0, 0, 0),
    insn(Op.EXIT, 0, 0, 0, 0),
  ], 64 * 1024);
  assert(load.fd > 0, load.log);
  return load.fd;
}

/** As {@linkcode sequencedRingWriter}, to the current CPU's ring of the perf array `mapFd`. */
export function sequencedPerfWriter(mapFd: number, counterFd: number): number {
  const output = [
    insn(Op.MOV64_REG, 1, 6, 0, 0), // r1 = the context
    ...loadMapFd(2, mapFd),
    insn(MOV32_IMM, 3, 0, 0, -1), // BPF_F_CURRENT_CPU
    insn(Op.MOV64_REG, 4, 10, 0, 0),
    insn(Op.ADD64_IMM, 4, 0, 0, -16),
    insn(Op.MOV64_IMM, 5, 0, 0, 8),
    insn(Op.CALL, 0, 0, 0, BPF_FUNC_perf_event_output),
  ];
  const load = loadRaw(1, [
    insn(Op.MOV64_REG, 6, 1, 0, 0), // r6 = the context, kept across calls
    ...nextSequence(counterFd, output.length),
    ...output,
    insn(Op.MOV64_IMM, 0, 0, 0, 0),
    insn(Op.EXIT, 0, 0, 0, 0),
  ], 64 * 1024);
  assert(load.fd > 0, load.log);
  return load.fd;
}
