/**
 * BPF_LINK_CREATE and the errors it gives, shared by every attach function.
 *
 * @module
 */

import { type Attr, BpfCmd, bpfErrno, bpfError } from "../ffi.ts";
import { Errno, NotSupportedError } from "../errors.ts";

/** Field offsets of `link_create` in `union bpf_attr`. */
export const LinkCreate = {
  progFd: 0,
  targetFd: 4,
  attachType: 8,
  flags: 12,
  /** Start of the per-type union. */
  union: 16,
} as const;

/** Errnos with which a kernel says it does not know an attach type or link kind. */
export function isUnsupportedErrno(errno: number): boolean {
  return errno === Errno.EOPNOTSUPP || errno === Errno.ENOTSUPP || errno === Errno.ENOSYS;
}

/**
 * Runs BPF_LINK_CREATE and returns the link fd, or the negated errno when `tolerate` says
 * the caller has a fallback for it.
 */
export function linkCreateErrno(attr: Attr): number {
  return bpfErrno(BpfCmd.LINK_CREATE, attr);
}

/**
 * Runs BPF_LINK_CREATE. "Not supported" errnos become a {@linkcode NotSupportedError} naming
 * `feature` (and `minKernel`); other failures a SyscallError or PermissionError.
 */
export function linkCreate(attr: Attr, feature: string, minKernel?: string): number {
  const r = bpfErrno(BpfCmd.LINK_CREATE, attr);
  if (r >= 0) return r;
  throw linkCreateError(-r, feature, minKernel);
}

/** The error for a failed BPF_LINK_CREATE of `feature`. */
export function linkCreateError(errno: number, feature: string, minKernel?: string): Error {
  const cause = bpfError(BpfCmd.LINK_CREATE, errno, undefined, feature);
  if (isUnsupportedErrno(errno)) {
    return new NotSupportedError(feature, minKernel, undefined, { cause });
  }
  return cause;
}

/** Keeps `values` reachable up to this call: buffers whose addresses sit inside other buffers. */
export function keepAlive(...values: unknown[]): void {
  if (values.length < 0) console.log(values);
}
