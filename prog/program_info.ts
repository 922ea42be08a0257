/**
 * ProgramInfo: what the kernel reports about a loaded program (`struct bpf_prog_info`), and
 * `enableStats`, which makes it count run time.
 *
 * @module
 */

import { allocBuffer, Attr, bpf, BpfCmd } from "../ffi.ts";
import { FD } from "../_internal/fd.ts";
import { ProgramType } from "./program_type.ts";
import { withNamedType } from "../_internal/named_type.ts";

/** `sizeof(struct bpf_prog_info)` on Linux 6.18. */
const PROG_INFO_SIZE = 232;

/** What the kernel says about a loaded program. */
export interface ProgramInfo {
  /** The program type. */
  type: ProgramType;
  /** The kernel-wide id. */
  id: number;
  /** The program's tag (a hash of its instructions) as 16 hex digits, as bpftool prints it. */
  tag: string;
  /** The name it was loaded with (at most 15 characters). */
  name: string;
  /** Ids of the maps it uses. */
  mapIds: number[];
  /** Size of the translated (verifier-rewritten) instructions in bytes. */
  xlatedSize: number;
  /** Size of the JIT-compiled code in bytes (0 without the JIT). */
  jitedSize: number;
  /** The translated instructions, before JIT, in host byte order (decode with `asm.Instructions.unmarshal`). */
  xlated: Uint8Array;
  /** The JIT-compiled machine code. */
  jited: Uint8Array;
  /** Load time in nanoseconds since boot. */
  loadTime: bigint;
  /** The uid of the loading process. */
  createdByUid: number;
  /** Id of the program's BTF object, 0 without BTF. */
  btfId: number;
  /** Number of runs counted while stats were enabled ({@linkcode enableStats}). */
  runCount: bigint;
  /** Total run time in nanoseconds counted while stats were enabled. */
  runTimeNs: bigint;
  /** Runs skipped because the program was already running on the CPU. */
  recursionMisses: bigint;
  /** Instructions the verifier processed. */
  verifiedInstructions: number;
  /** Whether the license is GPL-compatible. */
  gplCompatible: boolean;
  /** Id of the BTF object the attach target is in (tracing programs). */
  attachBtfObjId: number;
  /** BTF id of the attach target. */
  attachBtfId: number;
}

/** Calls BPF_OBJ_GET_INFO_BY_FD on a program fd, fetching instructions and map ids. */
export function programInfo(fd: number): ProgramInfo {
  // First call: learn the sizes. Second: fetch the arrays into buffers of those sizes.
  const first = allocBuffer(PROG_INFO_SIZE);
  bpf(BpfCmd.OBJ_GET_INFO_BY_FD, new Attr().u32(0, fd).u32(4, PROG_INFO_SIZE).pointer(8, first));
  const v1 = new DataView(first.buffer);
  const jitedLen = v1.getUint32(16, true);
  const xlatedLen = v1.getUint32(20, true);
  const nrMaps = v1.getUint32(52, true);
  const buf = allocBuffer(PROG_INFO_SIZE);
  const jited = allocBuffer(jitedLen);
  const xlated = allocBuffer(xlatedLen);
  const maps = allocBuffer(nrMaps * 4);
  // The info struct holds the arrays' addresses; this attr keeps them referenced.
  const holder = new Attr(24).pointer(0, jited).pointer(8, xlated).pointer(16, maps);
  const v = new DataView(buf.buffer);
  v.setUint32(16, jitedLen, true);
  v.setUint32(20, xlatedLen, true);
  v.setBigUint64(24, holder.getU64(0), true);
  v.setBigUint64(32, holder.getU64(8), true);
  v.setUint32(52, nrMaps, true);
  v.setBigUint64(56, holder.getU64(16), true);
  bpf(BpfCmd.OBJ_GET_INFO_BY_FD, new Attr().u32(0, fd).u32(4, PROG_INFO_SIZE).pointer(8, buf));
  holder.reset();
  let tag = "";
  for (let i = 0; i < 8; i++) tag += buf[8 + i].toString(16).padStart(2, "0");
  let end = 64;
  while (end < 80 && buf[end] !== 0) end++;
  const mapIds: number[] = [];
  const mv = new DataView(maps.buffer);
  for (let i = 0; i < Math.min(nrMaps, v.getUint32(52, true)); i++) {
    mapIds.push(mv.getUint32(i * 4, true));
  }
  const info: ProgramInfo = {
    type: v.getUint32(0, true) as ProgramType,
    id: v.getUint32(4, true),
    tag,
    name: new TextDecoder().decode(buf.subarray(64, end)),
    mapIds,
    jitedSize: jitedLen,
    xlatedSize: xlatedLen,
    jited,
    xlated,
    loadTime: v.getBigUint64(40, true),
    createdByUid: v.getUint32(48, true),
    gplCompatible: (v.getUint32(84, true) & 1) !== 0,
    btfId: v.getUint32(128, true),
    runTimeNs: v.getBigUint64(192, true),
    runCount: v.getBigUint64(200, true),
    recursionMisses: v.getBigUint64(208, true),
    verifiedInstructions: v.getUint32(216, true),
    attachBtfObjId: v.getUint32(220, true),
    attachBtfId: v.getUint32(224, true),
  };
  return withNamedType(info, "ProgramInfo", "ProgramType", ProgramType);
}

/** Kinds of statistics `BPF_ENABLE_STATS` turns on. */
export const StatsType = {
  /** Run count and run time of every program (`BPF_STATS_RUN_TIME`). */
  RunTime: 0,
} as const;

/**
 * Turns on kernel-wide collection of program statistics (run count and time, see
 * {@linkcode ProgramInfo.runCount}) until the returned handle is closed. Needs CAP_SYS_ADMIN.
 *
 * @example
 * ```ts ignore
 * using _stats = enableStats();
 * prog.run({ data: new Uint8Array(64), repeat: 10 });
 * console.log(prog.info().runCount);
 * ```
 */
export function enableStats(type: number = StatsType.RunTime): Disposable & { close(): void } {
  const fd = new FD(bpf(BpfCmd.ENABLE_STATS, new Attr().u32(0, type)), "stats");
  return {
    close: () => fd.close(),
    [Symbol.dispose]: () => fd.close(),
  };
}
