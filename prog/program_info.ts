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
import { fdInfoNumber, readFdInfo } from "../_internal/fdinfo.ts";

/** `sizeof(struct bpf_prog_info)` on Linux 6.18. */
const PROG_INFO_SIZE = 232;

/** What the kernel says about a loaded program (`struct bpf_prog_info` and its fdinfo). */
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
  /**
   * The translated instructions, before JIT, in host byte order. Decode them with
   * {@linkcode xlatedInstructions}, which also attaches function names, source lines and map ids.
   */
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
  /** The device a program offloaded to a NIC is bound to, 0 otherwise. */
  ifindex: number;
  /** Device number of the offload device's network namespace (offloaded programs). */
  netnsDev: bigint;
  /** Inode of the offload device's network namespace (offloaded programs). */
  netnsIno: bigint;
  /**
   * Kernel addresses of the JIT-compiled functions, main program first then each
   * subprogram, as `/proc/kallsyms` lists them: `bpf_prog_<tag>_<name>`, with the program's
   * {@linkcode tag} for the main function and {@linkcode functionTags} for the others.
   * Empty without the JIT or when the kernel hides addresses from this process.
   */
  jitedKsyms: bigint[];
  /** Length in bytes of each JIT-compiled function, in the order of {@linkcode jitedKsyms}. */
  jitedFuncLengths: number[];
  /** Tags of each of the program's functions alone (main first), in the order of `jitedKsyms`. */
  functionTags: string[];
  /** Where each BPF function starts and its BTF `FUNC` type (`struct bpf_func_info`). */
  funcInfo: FuncInfo[];
  /** Source positions of instructions (`struct bpf_line_info`); strings live in the BTF. */
  lineInfo: LineInfo[];
  /** For each {@linkcode lineInfo} record, the address of its JIT-compiled code. */
  jitedLineInfo: bigint[];
  /**
   * Bytes of memory the program is charged for, as bpftool's `bytes_memlock` (read from
   * `/proc/self/fdinfo`); undefined when that cannot be read (no `--allow-read`).
   */
  memlock: number | undefined;
}

/** One `struct bpf_func_info`: a BPF function of a loaded program. */
export interface FuncInfo {
  /** The function's first instruction, in 8-byte slots of the translated program. */
  insnOffset: number;
  /** Its `FUNC` type in the program's BTF ({@linkcode ProgramInfo.btfId}). */
  typeId: number;
}

/** One `struct bpf_line_info`: the source position of an instruction. */
export interface LineInfo {
  /** The instruction, in 8-byte slots of the translated program. */
  insnOffset: number;
  /** Offset of the file name in the program's BTF string section. */
  fileNameOffset: number;
  /** Offset of the source line's text in the program's BTF string section. */
  lineOffset: number;
  /** The 1-based line number. */
  line: number;
  /** The 1-based column, 0 when unknown. */
  column: number;
}

/** A pointer to an array in `bpf_prog_info`: the offsets of its count and address fields. */
interface ArrayField {
  /** Offset of the element count (a byte count for the instruction images). */
  count: number;
  /** Offset of the array's address. */
  pointer: number;
  /** Bytes per counted element. */
  size: number;
}

/** The arrays of `struct bpf_prog_info` (uapi `bpf.h`), fetched in a second call. */
const ARRAYS = {
  jited: { count: 16, pointer: 24, size: 1 },
  xlated: { count: 20, pointer: 32, size: 1 },
  mapIds: { count: 52, pointer: 56, size: 4 },
  jitedKsyms: { count: 104, pointer: 112, size: 8 },
  jitedFuncLengths: { count: 108, pointer: 120, size: 4 },
  funcInfo: { count: 144, pointer: 136, size: 8 },
  lineInfo: { count: 148, pointer: 152, size: 16 },
  jitedLineInfo: { count: 168, pointer: 160, size: 8 },
  functionTags: { count: 180, pointer: 184, size: 8 },
} as const satisfies Record<string, ArrayField>;

/** Record-size fields the kernel fills and checks for the records it copies. */
const REC_SIZES = [132, 172, 176];

function getInfo(fd: number, buf: Uint8Array): void {
  bpf(BpfCmd.OBJ_GET_INFO_BY_FD, new Attr().u32(0, fd).u32(4, buf.length).pointer(8, buf));
}

function hex(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += b.toString(16).padStart(2, "0");
  return out;
}

/** The type and name of a program, from one BPF_OBJ_GET_INFO_BY_FD call without arrays. */
export function programIdentity(fd: number): { type: ProgramType; name: string } {
  const buf = allocBuffer(PROG_INFO_SIZE);
  getInfo(fd, buf);
  return { type: new DataView(buf.buffer).getUint32(0, true) as ProgramType, name: nameOf(buf) };
}

function nameOf(buf: Uint8Array): string {
  let end = 64;
  while (end < 80 && buf[end] !== 0) end++;
  return new TextDecoder().decode(buf.subarray(64, end));
}

/**
 * Calls BPF_OBJ_GET_INFO_BY_FD on a program fd: a first call learns the array sizes, a
 * second fetches every array (instructions, map ids, JIT symbols, func and line info).
 */
export function programInfo(fd: number): ProgramInfo {
  const first = allocBuffer(PROG_INFO_SIZE);
  getInfo(fd, first);
  const fv = new DataView(first.buffer);
  const buf = allocBuffer(PROG_INFO_SIZE);
  const v = new DataView(buf.buffer);
  // The info struct holds the arrays' addresses; this attr keeps the arrays referenced.
  const holder = new Attr(8 * Object.keys(ARRAYS).length);
  const arrays: Record<string, Uint8Array> = {};
  let slot = 0;
  for (const [name, field] of Object.entries(ARRAYS)) {
    const count = fv.getUint32(field.count, true);
    const array = allocBuffer(count * field.size);
    arrays[name] = array;
    holder.pointer(slot, array);
    v.setUint32(field.count, count, true);
    v.setBigUint64(field.pointer, holder.getU64(slot), true);
    slot += 8;
  }
  for (const at of REC_SIZES) v.setUint32(at, fv.getUint32(at, true), true);
  getInfo(fd, buf);
  // The kernel fills min(asked, has) elements and reports what it has: never read past either.
  const filled = (name: keyof typeof ARRAYS) => {
    const field = ARRAYS[name];
    const n = Math.min(v.getUint32(field.count, true), arrays[name].length / field.size);
    return { n, view: new DataView(arrays[name].buffer), bytes: arrays[name] };
  };
  const u32s = (name: keyof typeof ARRAYS) => {
    const { n, view } = filled(name);
    return Array.from({ length: n }, (_, i) => view.getUint32(i * 4, true));
  };
  const u64s = (name: keyof typeof ARRAYS) => {
    const { n, view } = filled(name);
    return Array.from({ length: n }, (_, i) => view.getBigUint64(i * 8, true));
  };
  const funcInfo = (() => {
    const { n, view } = filled("funcInfo");
    return Array.from({ length: n }, (_, i): FuncInfo => ({
      insnOffset: view.getUint32(i * 8, true),
      typeId: view.getUint32(i * 8 + 4, true),
    }));
  })();
  const lineInfo = (() => {
    const { n, view } = filled("lineInfo");
    return Array.from({ length: n }, (_, i): LineInfo => {
      const lineCol = view.getUint32(i * 16 + 12, true);
      return {
        insnOffset: view.getUint32(i * 16, true),
        fileNameOffset: view.getUint32(i * 16 + 4, true),
        lineOffset: view.getUint32(i * 16 + 8, true),
        line: lineCol >>> 10,
        column: lineCol & 0x3ff,
      };
    });
  })();
  const tags = filled("functionTags");
  const bytesOf = (name: "jited" | "xlated") => arrays[name].subarray(0, filled(name).n);
  const info: ProgramInfo = {
    type: v.getUint32(0, true) as ProgramType,
    id: v.getUint32(4, true),
    tag: hex(buf.subarray(8, 16)),
    name: nameOf(buf),
    mapIds: u32s("mapIds"),
    jitedSize: v.getUint32(16, true),
    xlatedSize: v.getUint32(20, true),
    jited: bytesOf("jited"),
    xlated: bytesOf("xlated"),
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
    ifindex: v.getUint32(80, true),
    netnsDev: v.getBigUint64(88, true),
    netnsIno: v.getBigUint64(96, true),
    jitedKsyms: u64s("jitedKsyms"),
    jitedFuncLengths: u32s("jitedFuncLengths"),
    functionTags: Array.from(
      { length: tags.n },
      (_, i) => hex(tags.bytes.subarray(i * 8, i * 8 + 8)),
    ),
    funcInfo,
    lineInfo,
    jitedLineInfo: u64s("jitedLineInfo"),
    memlock: fdInfoNumber(readFdInfo(fd), "memlock"),
  };
  holder.reset();
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
