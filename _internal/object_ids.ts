/**
 * Walking the kernel's id tables (`BPF_*_GET_NEXT_ID`) and opening what they hold
 * (`BPF_*_GET_FD_BY_ID`), for the enumeration functions of programs, maps, links and BTF.
 *
 * @module
 */

import { Attr, bpfErrno, bpfError } from "../ffi.ts";
import { Errno, SyscallError } from "../errors.ts";

/** What EPERM from a `GET_NEXT_ID` or `GET_FD_BY_ID` command means for a process with CAP_BPF. */
const NEEDS_SYS_ADMIN = "listing and opening kernel objects by id needs CAP_SYS_ADMIN";

/**
 * The ids of every object of one kind, in ascending order, from the `BPF_*_GET_NEXT_ID`
 * command `cmd`. The walk is lazy: each step asks the kernel for the first id above the last
 * one, so objects created while walking may be seen and objects freed are never returned after
 * they are gone. Without CAP_SYS_ADMIN the first step throws a `PermissionError`.
 */
export function* walkIds(cmd: number): Generator<number, void, undefined> {
  const attr = new Attr();
  let id = 0;
  for (;;) {
    attr.reset().u32(0, id);
    const r = bpfErrno(cmd, attr);
    if (r === -Errno.ENOENT) return;
    if (r < 0) throw bpfError(cmd, -r, NEEDS_SYS_ADMIN);
    id = attr.getU32(4);
    yield id;
  }
}

/**
 * Opens each id of `ids` with `open`, skipping objects that were freed between the walk
 * seeing their id and the open (ENOENT), as cilium/ebpf and libbpf's bpftool do. The
 * objects handed out belong to the caller, who closes them.
 */
export function* openEach<T>(
  ids: Iterable<number>,
  open: (id: number) => T,
): Generator<T, void, undefined> {
  for (const id of ids) {
    let object: T;
    try {
      object = open(id);
    } catch (e) {
      if (e instanceof SyscallError && e.errno === Errno.ENOENT) continue;
      throw e;
    }
    yield object;
  }
}

/**
 * Opens the object with kernel id `id` through the `BPF_*_GET_FD_BY_ID` command `cmd` and
 * returns the new fd. `what` names the kind of object in errors ("program", "map", …). An id
 * that is not a positive 32-bit number is a RangeError; an id the kernel does not hold, a
 * `SyscallError` with ENOENT.
 */
export function fdById(cmd: number, id: number, what: string): number {
  if (!Number.isInteger(id) || id <= 0 || id > 0xffffffff) {
    throw new RangeError(`Invalid ${what} id: ${id}`);
  }
  const r = bpfErrno(cmd, new Attr().u32(0, id));
  if (r < 0) throw bpfError(cmd, -r, NEEDS_SYS_ADMIN, `${what} id ${id}`);
  return r;
}
