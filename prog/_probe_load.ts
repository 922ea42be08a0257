/**
 * Feature probes that load a tiny program and ask only whether the kernel accepts it (or,
 * for helper probes, what the verifier said), as libbpf's probes do.
 *
 * @module
 */

import { allocBuffer, Attr, BpfCmd, bpfErrno, bpfError, cString } from "../ffi.ts";
import { FD } from "../_internal/fd.ts";
import { Errno } from "../errors.ts";

/** `exit`, the last instruction of every probe program. */
const EXIT = [0x95, 0, 0, 0, 0, 0, 0, 0];
/** The verifier log a probe reads: libbpf's probes use the same size. */
const PROBE_LOG_SIZE = 4096;

/** What a probe load puts in `bpf_attr` besides its instructions. */
export interface ProbeLoadOptions {
  /** The program's name (at most 15 bytes). */
  name?: string;
  expectedAttachType?: number;
  /** `prog_flags`, such as `BPF_F_SLEEPABLE`. */
  flags?: number;
  /** `kern_version`, which kprobe programs needed before 5.0. */
  kernVersion?: number;
  attachBtfId?: number;
  /** Ask for the verifier's log (level 1). */
  log?: boolean;
}

/** What the kernel answered a probe load. */
export interface ProbeLoadResult {
  /** The loaded program, when the kernel accepted it; the caller closes it. */
  fd: FD | undefined;
  /** The errno of a refused load, 0 when it loaded. */
  errno: number;
  /** The verifier log, when `log` was asked for ("" otherwise). */
  log: string;
}

/**
 * Loads `first; exit` (`first`: encoded instructions, a multiple of 8 bytes) as a GPL
 * program of `type`, and reports what the kernel said. EPERM is not thrown here: some
 * probes expect it from a kernel that lacks the feature.
 */
export function probeLoad(
  type: number,
  first: readonly number[],
  options: ProbeLoadOptions = {},
): ProbeLoadResult {
  const insns = allocBuffer(first.length + 8);
  insns.set(first);
  insns.set(EXIT, first.length);
  const attr = new Attr()
    .u32(0, type)
    .u32(4, first.length / 8 + 1)
    .pointer(8, insns)
    .pointer(16, cString("GPL"))
    .u32(40, options.kernVersion ?? 0)
    .u32(44, options.flags ?? 0)
    .u32(68, options.expectedAttachType ?? 0)
    .u32(108, options.attachBtfId ?? 0);
  let log: Uint8Array | undefined;
  if (options.log) {
    log = allocBuffer(PROBE_LOG_SIZE);
    attr.u32(24, 1).u32(28, PROBE_LOG_SIZE).pointer(32, log);
  }
  if (options.name !== undefined) attr.bytes.set(new TextEncoder().encode(options.name), 48);
  const r = bpfErrno(BpfCmd.PROG_LOAD, attr);
  const end = log?.indexOf(0) ?? -1;
  const text = log ? new TextDecoder().decode(end < 0 ? log : log.subarray(0, end)) : "";
  return r >= 0
    ? { fd: new FD(r, "Program"), errno: 0, log: text }
    : { fd: undefined, errno: -r, log: text };
}

/**
 * Loads `first; exit` like {@linkcode probeLoad}. True when the kernel accepts it, false
 * when it refuses it; EPERM is thrown, since it says nothing about the feature.
 */
export function probeProgramLoad(
  type: number,
  first: readonly number[],
  name?: string,
  expectedAttachType = 0,
): boolean {
  const fd = loadProbeProgram(type, first, name, expectedAttachType);
  if (fd === undefined) return false;
  fd.close();
  return true;
}

/**
 * Loads `first; exit` like {@linkcode probeProgramLoad} and returns the program's fd for a
 * probe that needs a program (to attach it), or undefined when the kernel refuses it.
 */
export function loadProbeProgram(
  type: number,
  first: readonly number[],
  name?: string,
  expectedAttachType = 0,
): FD | undefined {
  const { fd, errno } = probeLoad(type, first, { name, expectedAttachType });
  if (errno === Errno.EPERM) throw bpfError(BpfCmd.PROG_LOAD, Errno.EPERM);
  return fd;
}
