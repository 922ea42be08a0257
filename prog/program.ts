/**
 * Program: a BPF program loaded into the kernel, owned through its file descriptor.
 *
 * @module
 */

import { allocBuffer, Attr, bpf, BpfCmd, bpfErrno, bpfError, cString } from "../ffi.ts";
import { FD } from "../_internal/fd.ts";
import { type LoadPinOptions, openPinnedFd, pinFd, unpinPath } from "../_internal/pin.ts";
import { handOverHint, refuseStructuredClone } from "../_internal/clone_guard.ts";
import { feature } from "../_internal/feature.ts";
import { fdById } from "../_internal/object_ids.ts";
import { ClosedError, Errno, NotSupportedError, VerifierError } from "../errors.ts";
import { isaV4, isIsaV4, missingProgramType } from "./_prog_features.ts";
import { type Instructions, LoadImm64Op, Pseudo } from "../asm/mod.ts";
import { encodeForKernel, encodePlainForKernel } from "../asm/instructions.ts";
import {
  type CoreCandidateCache,
  explainCorePoison,
  Func,
  type Spec,
  Typedef,
} from "../btf/mod.ts";
import { BtfHandle } from "../btf/handle.ts";
import { AttachType } from "./attach_type.ts";
import {
  CORE_RELO,
  EXTERN,
  type ExternRef,
  FUNC_INFO,
  type ProgramSpec,
  requireProgramType,
} from "./program_spec.ts";
import { ProgramType, programTypeName } from "./program_type.ts";
import { hiddenFuncs, ObjectBtf } from "./_object_btf.ts";
import { structOpsSlot } from "./_struct_ops.ts";
import { findKernelType, moduleBtfHandle } from "./_kernel_btf.ts";
import { programIdentity, type ProgramInfo, programInfo } from "./program_info.ts";
import { applyRelocations } from "./_core.ts";
import { probeProgramLoad } from "./_probe_load.ts";
import { needsKernelSymbol, resolveKernelSymbols } from "./_externs.ts";
import { ProgramStream, StreamId } from "./program_stream.ts";

/** The kernel's cap on the verifier log buffer (`UINT_MAX >> 8`). */
export const MAX_LOG_SIZE = 0xffffffff >>> 8;
/** The log buffer size a failed load is retried with first, unless the caller gives one. */
const DEFAULT_LOG_SIZE = 64 * 1024;
const BPF_OBJ_NAME_LEN = 16;
const FUNC_INFO_SIZE = 8;
const LINE_INFO_SIZE = 16;

/** Options of {@linkcode Program.load}. */
export interface ProgramLoadOptions {
  /**
   * Verifier log level (1 = the path taken, 2 = every instruction, 4 = statistics). 0, the
   * default, loads without a log and asks for one (level 1) only to explain a failure; a
   * non-zero level asks from the first try and keeps the log in `Program.verifierLog`.
   */
  logLevel?: number;
  /**
   * The log buffer size to start with, in bytes. It grows (to the size the kernel reports
   * on Linux 6.4+, else doubling) until the log fits or reaches the kernel's maximum.
   */
  logSize?: number;
  /** Target BTF for CO-RE relocations and attach targets instead of the running kernel's. */
  kernelTypes?: Spec | Spec[];
  /** For `freplace` (Extension) programs, and tracing of BPF programs: the target program. */
  targetProgram?: Program;
  /** @internal CO-RE candidates shared by the programs of one collection. */
  coreCache?: CoreCandidateCache;
  /** @internal The collection's loaded BTF; the loader makes its own when absent. */
  objectBtf?: ObjectBtf;
}

/** The outcome of one {@linkcode Program.run}. */
export interface RunResult {
  /** The program's return value. */
  retval: number;
  /** Average run time in nanoseconds, as the kernel measured it. */
  duration: number;
  /** The packet after the run (when `data` was given). */
  data?: Uint8Array;
  /** The context after the run (when `context` was given). */
  context?: Uint8Array;
}

/** Options of {@linkcode Program.run}. */
export interface RunOptions {
  /** Packet or input data. */
  data?: Uint8Array;
  /** Room for the output data; default: the input's size plus 256 bytes. */
  dataOutSize?: number;
  /** The context (`struct __sk_buff`, `struct xdp_md`, syscall program arguments, …). */
  context?: Uint8Array;
  /** Room for the output context; default: the input context's size. */
  contextOutSize?: number;
  /** How many times to run (the kernel averages the duration). */
  repeat?: number;
  /** `BPF_F_TEST_*` flags. */
  flags?: number;
  /** The CPU to run on (needs `BPF_F_TEST_RUN_ON_CPU` in `flags`). */
  cpu?: number;
}

/** How to hand a Program to a Worker, which its clone guard says. */
const HAND_OVER = handOverHint("program.clone().releaseFd()", "Program.fromFd");

/** Object names: supported since Linux 4.15. */
const objNames = feature(
  "BPF_OBJ_NAME",
  "4.15",
  // r0 = 0; exit, named
  () => probeProgramLoad(ProgramType.SocketFilter, [0xb7, 0, 0, 0, 0, 0, 0, 0], "probe"),
);

/** The name the kernel accepts: alphanumerics, `_` and `.`, at most 15 characters. */
function kernelName(name: string): string {
  return name.replace(/[^A-Za-z0-9_.]/g, "_").slice(0, BPF_OBJ_NAME_LEN - 1);
}

/**
 * What each load reuses: the buffer it encodes its instructions into, unless they need more
 * room (it holds 4,096), and the attr. The kernel has copied both when BPF_PROG_LOAD
 * returns, so the next load can reuse them. Making an attr (an off-heap buffer, its view
 * and its address) cost 8–25 µs a load once the verifier had run over the caches.
 */
interface LoadScratch {
  readonly encode: ArrayBuffer;
  readonly attr: Attr;
}
let loadScratch: LoadScratch | undefined;
const SCRATCH_SIZE = 64 * 1024;
/** How many Program.load calls are running (more than one only when one calls another). */
let loadsUnderWay = 0;

/** The last license passed to the kernel and its C string, kept: most loads repeat one. */
let lastLicense: { text: string; bytes: Uint8Array } | undefined;

/** `license` (default "GPL") as the NUL-terminated string BPF_PROG_LOAD reads. */
function licenseString(license: string): Uint8Array {
  const text = license || "GPL";
  if (lastLicense?.text !== text) lastLicense = { text, bytes: cString(text) };
  return lastLicense.bytes;
}

/**
 * A loaded program. Make one with {@linkcode Program.load} (or a collection); close it with
 * `close()` or `using`.
 *
 * @example
 * ```ts ignore
 * using prog = Program.load(spec);
 * console.log(prog.run({ data: new Uint8Array(64) }).retval);
 * ```
 */
export class Program {
  readonly #fd: FD;
  /** Its stdout and stderr, made on first use (the list too: most programs never ask). */
  #streams: (ProgramStream | undefined)[] | undefined;
  /** The program type. */
  readonly type: ProgramType;
  /** The name it was loaded with. */
  readonly name: string;
  /** The verifier's log of a successful load, when a log level was asked for. */
  readonly verifierLog: string | undefined;

  private constructor(fd: FD, type: ProgramType, name: string, log?: string) {
    this.#fd = fd;
    refuseStructuredClone(this, "Program", HAND_OVER);
    this.type = type;
    this.name = name;
    this.verifierLog = log;
  }

  /**
   * Loads `spec` with BPF_PROG_LOAD: CO-RE relocations applied, the object's BTF with
   * func_info and line_info passed along, the attach target resolved. A program the
   * verifier rejects throws {@linkcode VerifierError} with the whole log.
   */
  static load(spec: ProgramSpec, options: ProgramLoadOptions = {}): Program {
    // A load inside a load (a map's fd() that loads a program) has buffers of its own.
    const scratch = loadsUnderWay === 0
      ? (loadScratch ??= { encode: new ArrayBuffer(SCRATCH_SIZE), attr: new Attr() })
      : undefined;
    loadsUnderWay++;
    try {
      return Program.#load(spec, options, scratch);
    } finally {
      loadsUnderWay--;
      // Let go of what the attr points at (a failed load's log can be megabytes).
      scratch?.attr.reset();
    }
  }

  static #load(
    spec: ProgramSpec,
    options: ProgramLoadOptions,
    scratch: LoadScratch | undefined,
  ): Program {
    requireProgramType(spec);
    let insns = spec.instructions;
    // A program with nothing for the loader to do (no metadata, source lines, or references
    // to resolve in the kernel), such as an assembled one, is read once: encoded at once.
    let raw = encodePlainForKernel(insns, scratch?.encode);
    let work = PLAIN_WORK;
    let fdArray: readonly number[] = NO_FDS;
    let handles: readonly { close(): void }[] = NO_HANDLES;
    if (raw === undefined) {
      work = surveyInstructions(spec);
      if (work.core) insns = applyRelocations(insns, options.kernelTypes, options.coreCache);
      if (work.kernelSymbols) {
        const symbols = resolveKernelSymbols(insns, options.kernelTypes);
        ({ insns, fdArray, handles } = symbols);
      }
      raw = encodeForKernel(insns, scratch?.encode);
    }
    // Named at once: the probe for object names (4.15) runs only if the kernel refuses one.
    let name = kernelName(spec.name);
    const attr = (scratch?.attr ?? new Attr())
      .u32(0, spec.type)
      .u32(4, raw.length / 8)
      .pointer(8, raw)
      .pointer(16, licenseString(spec.license))
      .u32(40, spec.kernelVersion)
      .u32(44, spec.flags)
      .u32(68, spec.attachType);
    // kernelName leaves ASCII only: one byte per character.
    for (let i = 0; i < name.length; i++) attr.bytes[48 + i] = name.charCodeAt(i);

    const owned: { close(): void }[] = [...handles];
    try {
      if (spec.btf && work.btfInfo) {
        let objBtf = options.objectBtf;
        if (!objBtf) {
          objBtf = ObjectBtf.load(spec.btf, new Map(), lines(insns), hiddenFuncs(insns.list));
          owned.push(objBtf);
        }
        setBtfInfo(attr, insns, objBtf);
      }
      const target = attachTarget(spec, options);
      if (target) {
        attr.u32(108, target.btfId).u32(112, target.fd);
        if (target.expectedAttachType !== undefined) attr.u32(68, target.expectedAttachType);
        if (target.owned) owned.push(target.owned);
      }
      if (fdArray.length > 0) {
        const fds = allocBuffer(fdArray.length * 4);
        const fv = new DataView(fds.buffer);
        fdArray.forEach((fd, i) => fv.setInt32(i * 4, fd, true));
        attr.pointer(120, fds);
      }
      let loaded;
      try {
        loaded = loadWithLog(attr, options, spec, insns);
      } catch (e) {
        if (name === "" || !refusedAttr(e) || objNames.supported()) throw e;
        name = "";
        attr.bytes.fill(0, 48, 48 + BPF_OBJ_NAME_LEN);
        loaded = loadWithLog(attr, options, spec, insns);
      }
      return new Program(new FD(loaded.fd, "Program"), spec.type, name, loaded.log);
    } finally {
      for (const o of owned) o.close();
    }
  }

  /**
   * Takes ownership of `fd`, a program file descriptor. The type and name are read from
   * the kernel unless given (a caller that knows them saves a syscall).
   */
  static fromFd(fd: number, type?: ProgramType, name?: string): Program {
    const owner = new FD(fd, "Program");
    if (type !== undefined) return new Program(owner, type, name ?? "");
    try {
      const info = programIdentity(owner.raw);
      return new Program(owner, info.type, name ?? info.name);
    } catch (e) {
      owner.close();
      throw e;
    }
  }

  /** Opens the program with kernel id `id` (BPF_PROG_GET_FD_BY_ID). */
  static fromId(id: number): Program {
    return Program.fromFd(fdById(BpfCmd.PROG_GET_FD_BY_ID, id, "program"));
  }

  /**
   * Opens a program pinned in bpffs at `path` (BPF_OBJ_GET). `options` matter for maps
   * only: the kernel opens programs read-write whatever they ask.
   */
  static loadPinned(path: string, options?: LoadPinOptions): Program {
    return Program.fromFd(openPinnedFd(path, "program", options));
  }

  /** The file descriptor (throws {@linkcode ClosedError} after close). */
  get fd(): number {
    return this.#fd.raw;
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#fd.closed;
  }

  /** Closes this handle; the program lives on while pins, links or other fds hold it. */
  close(): void {
    this.#fd.close();
  }

  /** Same as {@linkcode Program.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /**
   * Gives up this handle's fd without closing it and returns its number, for a new owner:
   * a Worker (which shares the process's descriptors) that opens it with
   * {@linkcode Program.fromFd}. This handle is closed afterwards. A Program itself cannot
   * be posted to a Worker: posting one throws a TypeError.
   */
  releaseFd(): number {
    return this.#fd.release();
  }

  /** A new, independent handle to the same program. */
  clone(): Program {
    return new Program(this.#fd.dup(), this.type, this.name);
  }

  /** Pins the program at `path` in bpffs. */
  pin(path: string): void {
    pinFd(this.fd, path, "program");
  }

  /**
   * Removes the pin of a program at `path`; the program lives on while other references
   * hold it. Only a pinned program on a bpffs is removed: a path elsewhere, a directory, a
   * symbolic link or a pinned map is a TypeError and stays.
   */
  static unpin(path: string): void {
    unpinPath(path, "program");
  }

  /**
   * What the kernel reports: id, tag, map ids, translated and JIT-compiled code, JIT symbols,
   * func and line info, stats, memlock. Decode the translated code with
   * {@linkcode xlatedInstructions}.
   */
  info(): ProgramInfo {
    return programInfo(this.fd);
  }

  /**
   * The program's stream `id` (Linux 6.17): its stdout or stderr, read as bytes or as
   * async iterables of lines. Throws {@linkcode NotSupportedError} on older kernels.
   */
  stream(id: StreamId): ProgramStream {
    const streams = this.#streams ??= [];
    const known = streams[id];
    if (known) {
      if (this.closed) throw new ClosedError("program");
      return known;
    }
    return streams[id] = new ProgramStream(this, id);
  }

  /**
   * What the program writes with `bpf_stream_printk(BPF_STDOUT, …)` (Linux 6.17).
   *
   * @example
   * ```ts ignore
   * prog.run();
   * for await (const line of prog.stdout.lines({ signal })) console.log(line);
   * ```
   */
  get stdout(): ProgramStream {
    return this.stream(StreamId.Stdout);
  }

  /**
   * The program's `BPF_STDERR` writes and the kernel's reports of its runtime errors (a
   * may_goto timeout, an arena page fault, a spin lock deadlock), with stack traces (Linux
   * 6.17).
   */
  get stderr(): ProgramStream {
    return this.stream(StreamId.Stderr);
  }

  /** Keeps `map` alive as long as the program, though no instruction refers to it. */
  bindMap(map: { readonly fd: number }): void {
    bpf(BpfCmd.PROG_BIND_MAP, new Attr().u32(0, this.fd).u32(4, map.fd));
  }

  /**
   * Runs the program with BPF_PROG_TEST_RUN and returns its result. Syscall programs run
   * once, with no packet and no repeat, and write their context back in place (the kernel
   * refuses the other fields for them).
   */
  run(options: RunOptions = {}): RunResult {
    const syscall = this.type === ProgramType.Syscall;
    const repeat = options.repeat ?? (syscall ? 0 : 1);
    if (!Number.isInteger(repeat) || repeat < 0 || repeat > 0xffffffff) {
      throw new RangeError(`Invalid repeat count: ${repeat}`);
    }
    const attr = new Attr().u32(0, this.fd).u32(32, repeat)
      .u32(64, options.flags ?? 0).u32(68, options.cpu ?? 0);
    let out: Uint8Array | undefined;
    if (options.data) {
      const input = allocBuffer(options.data.length);
      input.set(options.data);
      out = allocBuffer(options.dataOutSize ?? options.data.length + 256);
      attr.u32(8, input.length).u32(12, out.length).pointer(16, input).pointer(24, out);
    }
    let ctxOut: Uint8Array | undefined;
    if (options.context) {
      const ctx = allocBuffer(options.context.length);
      ctx.set(options.context);
      attr.u32(40, ctx.length).pointer(48, ctx);
      if (syscall) ctxOut = ctx;
      else {
        ctxOut = allocBuffer(options.contextOutSize ?? options.context.length);
        attr.u32(44, ctxOut.length).pointer(56, ctxOut);
      }
    }
    bpf(BpfCmd.PROG_TEST_RUN, attr);
    const result: RunResult = { retval: attr.getU32(4), duration: attr.getU32(36) };
    if (out) result.data = out.slice(0, Math.min(out.length, attr.getU32(12)));
    if (ctxOut) {
      const size = syscall ? ctxOut.length : Math.min(ctxOut.length, attr.getU32(44));
      result.context = ctxOut.slice(0, size);
    }
    return result;
  }
}

/**
 * Whether a load failed as a kernel without object names fails on a named program: EINVAL,
 * or E2BIG for an attr longer than it knows (possibly wrapped by a NotSupportedError).
 */
function refusedAttr(e: unknown): boolean {
  const errno = (e as { errno?: unknown })?.errno ??
    ((e as { cause?: { errno?: unknown } })?.cause?.errno);
  return errno === Errno.EINVAL || errno === Errno.E2BIG;
}

/** What a load must do beyond encoding the instructions, found in one pass over them. */
/** What a plain program needs from the loader: nothing. */
const PLAIN_WORK: Readonly<LoadWork> = { core: false, kernelSymbols: false, btfInfo: false };
const NO_FDS: readonly number[] = [];
const NO_HANDLES: readonly { close(): void }[] = [];

interface LoadWork {
  /** Some instruction carries a CO-RE relocation. */
  core: boolean;
  /** Some instruction refers to a kfunc or ksym. */
  kernelSymbols: boolean;
  /** Some instruction carries a source line or starts a BTF function. */
  btfInfo: boolean;
}

/**
 * One pass over `spec`'s instructions: what the load has to do, and a check that no map load
 * by name is unresolved (it would load fd 0), said before the kernel says EBADF. The usual
 * assembled program has no metadata at all, and then nothing else reads its instructions
 * before the encoder.
 */
function surveyInstructions(spec: ProgramSpec): LoadWork {
  const work = { core: false, kernelSymbols: false, btfInfo: false };
  const list = spec.instructions.list;
  for (let i = 0; i < list.length; i++) {
    const ins = list[i];
    const meta = ins.meta;
    if (ins.line !== undefined) work.btfInfo = true;
    if (meta === undefined && ins.reference === undefined) continue;
    if (meta !== undefined) {
      if (meta[FUNC_INFO] !== undefined) work.btfInfo = true;
      if (meta[CORE_RELO] !== undefined) work.core = true;
      const ext = meta[EXTERN] as ExternRef | undefined;
      if (ext?.kind === "kconfig" && ins.map === undefined) {
        throw new TypeError(
          `Cannot load program '${spec.name}': instruction ${i} reads kconfig extern ` +
            `'${ext.name}', which needs a collection (newCollection)`,
        );
      }
    }
    if (needsKernelSymbol(ins)) work.kernelSymbols = true;
    if (
      ins.opcode === LoadImm64Op && (ins.src === Pseudo.MapFD || ins.src === Pseudo.MapValue) &&
      ins.map === undefined && ins.reference !== undefined
    ) {
      throw new TypeError(
        `Cannot load program '${spec.name}': instruction ${i} refers to map '${ins.reference}', ` +
          "which is not resolved (load it with newCollection or set the instruction's map)",
      );
    }
  }
  return work;
}

/** The source lines of a program's instructions (for the strings of its line info). */
export function* lines(insns: Instructions) {
  for (const ins of insns.list) if (ins.line !== undefined) yield ins.line;
}

/** Writes prog_btf_fd, func_info and line_info from the instructions' metadata. */
function setBtfInfo(attr: Attr, insns: Instructions, btf: ObjectBtf): void {
  const funcs: number[] = [];
  const lineRecs: number[] = [];
  let at = 0;
  for (const ins of insns.list) {
    const func = ins.meta?.[FUNC_INFO];
    if (func !== undefined) funcs.push(at, btf.typeId(func));
    const line = ins.line;
    if (line !== undefined) {
      lineRecs.push(
        at,
        btf.stringOffset(line.fileName ?? ""),
        btf.stringOffset(line.text),
        ((line.lineNumber ?? 0) << 10) | ((line.column ?? 0) & 0x3ff),
      );
    }
    at += ins.opcode === LoadImm64Op ? 2 : 1;
  }
  attr.u32(72, btf.fd);
  if (funcs.length > 0) {
    const fi = allocBuffer(funcs.length * 4);
    new Uint32Array(fi.buffer).set(funcs);
    attr.u32(76, FUNC_INFO_SIZE).pointer(80, fi).u32(88, funcs.length / 2);
  }
  if (lineRecs.length > 0) {
    const li = allocBuffer(lineRecs.length * 4);
    new Uint32Array(li.buffer).set(lineRecs.map((x) => x >>> 0));
    attr.u32(92, LINE_INFO_SIZE).pointer(96, li).u32(104, lineRecs.length / 4);
  }
}

interface AttachTarget {
  btfId: number;
  fd: number;
  owned?: { close(): void };
  /** struct_ops: the member's index, which the kernel takes as the expected attach type. */
  expectedAttachType?: number;
}

/**
 * The BTF id (and object or program fd) of what a tracing, LSM or freplace program attaches
 * to, or of the kernel struct a struct_ops program plugs into.
 */
function attachTarget(spec: ProgramSpec, options: ProgramLoadOptions): AttachTarget | undefined {
  const t = spec.type;
  if (t === ProgramType.StructOps) {
    const slot = structOpsSlot(spec.name, spec.attachTo, options.kernelTypes);
    const handle = slot.module === undefined ? undefined : moduleBtfHandle(slot.module);
    return {
      btfId: slot.btfId,
      fd: handle?.fd ?? 0,
      owned: handle,
      expectedAttachType: slot.memberIndex,
    };
  }
  if (t !== ProgramType.Tracing && t !== ProgramType.LSM && t !== ProgramType.Extension) {
    return undefined;
  }
  const what = `program '${spec.name}' (${programTypeName(t)})`;
  if (spec.attachTo === "") {
    throw new TypeError(`Cannot load ${what}: it needs an attach target (attachTo)`);
  }
  if (options.targetProgram || t === ProgramType.Extension) {
    const target = options.targetProgram;
    if (!target) {
      throw new TypeError(`Cannot load ${what}: an Extension program needs options.targetProgram`);
    }
    const btfId = target.info().btfId;
    if (btfId === 0) {
      throw new TypeError(`Cannot load ${what}: the target program has no BTF`);
    }
    using handle = BtfHandle.fromId(btfId);
    // One parse: each spec() call makes a new Spec, whose types another one does not know.
    const types = handle.spec();
    const func = types.typeByName(spec.attachTo, Func);
    const funcId = func ? types.typeId(func) : undefined;
    if (funcId === undefined) {
      throw new TypeError(
        `Cannot load ${what}: the target program has no function '${spec.attachTo}'`,
      );
    }
    return { btfId: funcId, fd: target.fd };
  }
  let found;
  if (t === ProgramType.Tracing && spec.attachType === AttachType.TraceRawTP) {
    found = findKernelType("btf_trace_" + spec.attachTo, Typedef, options.kernelTypes);
  } else {
    const prefix = t === ProgramType.LSM
      ? "bpf_lsm_"
      : spec.attachType === AttachType.TraceIter
      ? "bpf_iter_"
      : "";
    found = findKernelType(prefix + spec.attachTo, Func, options.kernelTypes);
  }
  if (!found) {
    throw new TypeError(
      `Cannot load ${what}: attach target '${spec.attachTo}' is not in the kernel's BTF`,
    );
  }
  if (found.module === undefined) return { btfId: found.id, fd: 0 };
  const handle = moduleBtfHandle(found.module);
  return { btfId: found.id, fd: handle.fd, owned: handle };
}

/** How many times BPF_PROG_LOAD is tried while it fails with EAGAIN (libbpf's PROG_LOAD_ATTEMPTS). */
const PROG_LOAD_ATTEMPTS = 5;

/**
 * BPF_PROG_LOAD, again while it fails with EAGAIN: the verifier gives up with EAGAIN when a
 * signal is pending for the process (a profiler's SIGPROF, a child's SIGCHLD), which says
 * nothing about the program. libbpf retries the same way.
 */
function progLoad(attr: Attr): number {
  let r = bpfErrno(BpfCmd.PROG_LOAD, attr);
  for (let i = 1; i < PROG_LOAD_ATTEMPTS && r === -Errno.EAGAIN; i++) {
    r = bpfErrno(BpfCmd.PROG_LOAD, attr);
  }
  return r;
}

/**
 * BPF_PROG_LOAD, first without a log (unless a level is asked for), then, on failure, with
 * a log buffer that grows until the log fits.
 */
function loadWithLog(
  attr: Attr,
  options: ProgramLoadOptions,
  spec: ProgramSpec,
  insns: Instructions,
): { fd: number; log?: string } {
  const level = options.logLevel ?? 0;
  let size = options.logSize ?? DEFAULT_LOG_SIZE;
  if (!Number.isInteger(size) || size < 128 || size > MAX_LOG_SIZE) {
    throw new RangeError(`Invalid log size ${size}: must be from 128 to ${MAX_LOG_SIZE}`);
  }
  if (level === 0) {
    const r = progLoad(attr);
    if (r >= 0) return { fd: r };
    if (r === -Errno.EPERM) {
      throw bpfError(BpfCmd.PROG_LOAD, Errno.EPERM, undefined, `program '${spec.name}'`);
    }
  }
  for (;;) {
    const log = allocBuffer(size);
    attr.u32(24, level || 1).u32(28, size).pointer(32, log).u32(140, 0);
    const r = progLoad(attr);
    const errno = -r;
    if (errno === Errno.ENOSPC && size < MAX_LOG_SIZE) {
      // Linux 6.4+ says how much it needed; older kernels leave 0 there, so double.
      const needed = attr.getU32(140);
      size = Math.min(MAX_LOG_SIZE, needed > size ? needed : size * 2);
      continue;
    }
    const text = logText(log);
    if (r >= 0) return { fd: r, log: level > 0 ? text : undefined };
    const missing = missingIsaV4(errno, insns, spec, text);
    if (missing) throw missing;
    if (text.length > 0 && errno !== Errno.EPERM) {
      throw new VerifierError(
        `BPF_PROG_LOAD of '${spec.name}'${poisonNote(text, insns)}`,
        errno,
        text,
        errno === Errno.ENOSPC,
      );
    }
    const cause = bpfError(BpfCmd.PROG_LOAD, errno, undefined, `program '${spec.name}'`);
    if (errno === Errno.EINVAL && text.length === 0) {
      throw missingProgramType(spec.type, { cause }) ?? cause;
    }
    throw cause;
  }
}

/**
 * A kernel before 6.6 rejects ISA v4 instructions with EINVAL and a log about an unknown
 * opcode or reserved fields: when the program has some and the probe confirms the kernel
 * lacks them, that is a {@linkcode NotSupportedError}, not a verifier failure.
 */
function missingIsaV4(
  errno: number,
  insns: Instructions,
  spec: ProgramSpec,
  log: string,
): NotSupportedError | undefined {
  if (errno !== Errno.EINVAL) return undefined;
  const at = insns.list.findIndex(isIsaV4);
  if (at < 0 || isaV4.supported()) return undefined;
  return new NotSupportedError(
    isaV4.feature,
    isaV4.minKernel,
    `program '${spec.name}' has an ISA v4 instruction at index ${at}`,
    { cause: new VerifierError(`BPF_PROG_LOAD of '${spec.name}'`, errno, log, false) },
  );
}

/**
 * When the verifier stopped at a poisoned CO-RE relocation, names it: the verifier only
 * says "invalid func unknown#195896080", which nobody can act on.
 */
function poisonNote(log: string, insns: Instructions): string {
  const why = explainCorePoison(insns, log);
  return why.length === 0 ? "" : ` (${why.join("; ")})`;
}

function logText(log: Uint8Array): string {
  const end = log.indexOf(0);
  return new TextDecoder().decode(log.subarray(0, end < 0 ? log.length : end));
}
