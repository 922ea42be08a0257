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
 * Loads `first; exit` (8 bytes of encoded instruction, then `exit`) as a GPL program of
 * `type`, named `name` when given. True when the kernel accepts it, false when it refuses
 * it; EPERM is thrown, since it says nothing about the feature.
 */
export function probeProgramLoad(type: number, first: readonly number[], name?: string): boolean {
  const insns = allocBuffer(16);
  insns.set(first);
  insns.set([0x95, 0, 0, 0, 0, 0, 0, 0], 8);
  const attr = new Attr()
    .u32(0, type)
    .u32(4, 2)
    .pointer(8, insns)
    .pointer(16, cString("GPL"));
  if (name !== undefined) attr.bytes.set(new TextEncoder().encode(name), 48);
  const r = bpfErrno(BpfCmd.PROG_LOAD, attr);
  if (r >= 0) {
    new FD(r, "Program").close();
    return true;
  }
  if (r === -Errno.EPERM) throw bpfError(BpfCmd.PROG_LOAD, Errno.EPERM);
  return false;
}
