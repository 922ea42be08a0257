/**
 * Feature probes that load a two-instruction program and ask only whether the kernel
 * accepts it, as libbpf's probes do.
 *
 * @module
 */

import { allocBuffer, Attr, BpfCmd, bpfErrno, bpfError, cString } from "../ffi.ts";
import { FD } from "../_internal/fd.ts";
import { Errno } from "../errors.ts";

/**
 * Loads `first; exit` (`first`: encoded instructions, a multiple of 8 bytes) as a GPL
 * program of `type`, named `name` when given. True when the kernel accepts it, false when
 * it refuses it; EPERM is thrown, since it says nothing about the feature.
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
  const insns = allocBuffer(first.length + 8);
  insns.set(first);
  insns.set([0x95, 0, 0, 0, 0, 0, 0, 0], first.length);
  const attr = new Attr()
    .u32(0, type)
    .u32(4, first.length / 8 + 1)
    .pointer(8, insns)
    .pointer(16, cString("GPL"))
    .u32(68, expectedAttachType);
  if (name !== undefined) attr.bytes.set(new TextEncoder().encode(name), 48);
  const r = bpfErrno(BpfCmd.PROG_LOAD, attr);
  if (r >= 0) return new FD(r, "Program");
  if (r === -Errno.EPERM) throw bpfError(BpfCmd.PROG_LOAD, Errno.EPERM);
  return undefined;
}
