/**
 * Program: a BPF program loaded into the kernel, owned through its file descriptor.
 *
 * @module
 */

import { allocBuffer, Attr, bpf, BpfCmd, bpfErrno, bpfError, cString } from "../ffi.ts";
import { FD } from "../_internal/fd.ts";
import { VerifierError } from "../errors.ts";
import type { AttachType } from "./attach_type.ts";
import type { ProgramSpec } from "./program_spec.ts";
import type { ProgramType } from "./program_type.ts";

/** Options of {@linkcode Program.load}. */
export interface ProgramLoadOptions {
  /** Verifier log size to retry with after a failed load (bytes). */
  logSize?: number;
}

/** The outcome of one {@linkcode Program.run}. */
export interface RunResult {
  /** The program's return value. */
  retval: number;
  /** Average run time in nanoseconds, as the kernel measured it. */
  duration: number;
  /** The packet after the run (when `data` was given). */
  data?: Uint8Array;
}

/** Options of {@linkcode Program.run}. */
export interface RunOptions {
  /** Packet or input data. */
  data?: Uint8Array;
  /** How many times to run (the kernel averages the duration). */
  repeat?: number;
}

const BPF_OBJ_NAME_LEN = 16;

/**
 * A loaded program. Make one with {@linkcode Program.load}; close it with `close()` or `using`.
 *
 * @example
 * ```ts ignore
 * using prog = Program.load(spec);
 * console.log(prog.run({ data: new Uint8Array(64) }).retval);
 * ```
 */
export class Program {
  readonly #fd: FD;
  /** The program type. */
  readonly type: ProgramType;
  /** The name it was loaded with. */
  readonly name: string;

  private constructor(fd: FD, type: ProgramType, name: string) {
    this.#fd = fd;
    this.type = type;
    this.name = name;
  }

  /**
   * Loads `spec` with BPF_PROG_LOAD. A program the verifier rejects throws
   * {@linkcode VerifierError} with the log.
   */
  static load(spec: ProgramSpec, options: ProgramLoadOptions = {}): Program {
    const insns = allocBuffer(spec.instructions.slots * 8);
    insns.set(spec.instructions.marshal("little"));
    const license = cString(spec.license || "GPL");
    const name = spec.name.replace(/[^A-Za-z0-9_.]/g, "_").slice(0, BPF_OBJ_NAME_LEN - 1);
    const attr = new Attr()
      .u32(0, spec.type)
      .u32(4, insns.length / 8)
      .pointer(8, insns)
      .pointer(16, license)
      .u32(40, spec.kernelVersion)
      .u32(44, spec.flags)
      .u32(68, spec.attachType as AttachType);
    attr.bytes.set(new TextEncoder().encode(name), 48);
    const r = bpfErrno(BpfCmd.PROG_LOAD, attr);
    if (r >= 0) return new Program(new FD(r, "Program"), spec.type, name);
    const logSize = options.logSize ?? 1 << 20;
    const log = allocBuffer(logSize);
    attr.u32(24, 1).u32(28, logSize).pointer(32, log);
    const again = bpfErrno(BpfCmd.PROG_LOAD, attr);
    if (again >= 0) return new Program(new FD(again, "Program"), spec.type, name);
    const end = log.indexOf(0);
    const text = new TextDecoder().decode(log.subarray(0, end < 0 ? log.length : end));
    if (text.length > 0) {
      throw new VerifierError(`BPF_PROG_LOAD of '${spec.name}'`, -again, text, end < 0);
    }
    throw bpfError(BpfCmd.PROG_LOAD, -again, `program '${spec.name}'`);
  }

  /** Takes ownership of `fd`, a program file descriptor. */
  static fromFd(fd: number, type: ProgramType, name = ""): Program {
    return new Program(new FD(fd, "Program"), type, name);
  }

  /** The file descriptor (throws {@linkcode ClosedError} after close). */
  get fd(): number {
    return this.#fd.raw;
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#fd.closed;
  }

  /** Closes the program; safe to call twice. */
  close(): void {
    this.#fd.close();
  }

  /** Same as {@linkcode Program.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Runs the program once (or `repeat` times) with BPF_PROG_TEST_RUN. */
  run(options: RunOptions = {}): RunResult {
    const attr = new Attr().u32(0, this.fd).u32(32, options.repeat ?? 1);
    let out: Uint8Array | undefined;
    if (options.data) {
      const input = allocBuffer(options.data.length);
      input.set(options.data);
      out = allocBuffer(options.data.length + 256);
      attr.u32(8, input.length).u32(12, out.length).pointer(16, input).pointer(24, out);
    }
    bpf(BpfCmd.PROG_TEST_RUN, attr);
    const result: RunResult = { retval: attr.getU32(4), duration: attr.getU32(36) };
    if (out) result.data = out.slice(0, attr.getU32(12));
    return result;
  }
}
