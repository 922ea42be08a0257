/**
 * Socket filters: a `socket_filter` program on one socket (`SO_ATTACH_BPF`), deciding for
 * each packet the socket receives whether it keeps it and how many bytes of it.
 *
 * @module
 */

import { lastErrno, libc } from "../ffi.ts";
import { SyscallError } from "../errors.ts";
import type { Program } from "../prog/program.ts";
import { ProgramType, programTypeName } from "../prog/program_type.ts";

/** `SOL_SOCKET` and its options from `include/uapi/asm-generic/socket.h`. */
const SOL_SOCKET = 1;
const SO_ATTACH_BPF = 50;
/** `SO_DETACH_BPF` is `SO_DETACH_FILTER`: one filter slot for classic and eBPF filters. */
const SO_DETACH_BPF = 27;

function checkSocketFd(socketFd: number): void {
  if (!Number.isInteger(socketFd) || socketFd < 0 || socketFd > 0x7fffffff) {
    throw new RangeError(`Invalid socket fd: ${socketFd}`);
  }
}

/**
 * Attaches a `socket_filter` program to the socket `socketFd` (`SO_ATTACH_BPF`), replacing
 * the filter it had. The program returns how many bytes of each packet to keep: 0 drops
 * it. The socket holds the program: it stays attached after the Program is closed, until
 * {@linkcode detachSocketFilter} or the socket closes.
 *
 * @example
 * ```ts ignore
 * attachSocketFilter(fd, prog); // fd: a socket's file descriptor
 * ```
 */
export function attachSocketFilter(socketFd: number, program: Program): void {
  checkSocketFd(socketFd);
  if (program.type !== ProgramType.SocketFilter) {
    throw new TypeError(
      `Cannot attach ${programTypeName(program.type)} to a socket: use a socket_filter program`,
    );
  }
  const value = new Uint8Array(new Uint32Array([program.fd]).buffer);
  if (libc().setsockopt(socketFd, SOL_SOCKET, SO_ATTACH_BPF, value, 4) < 0) {
    throw new SyscallError("setsockopt(SO_ATTACH_BPF)", lastErrno());
  }
}

/** Removes the socket's filter (`SO_DETACH_BPF`); ENOENT when it has none. */
export function detachSocketFilter(socketFd: number): void {
  checkSocketFd(socketFd);
  const value = new Uint8Array(4);
  if (libc().setsockopt(socketFd, SOL_SOCKET, SO_DETACH_BPF, value, 4) < 0) {
    throw new SyscallError("setsockopt(SO_DETACH_BPF)", lastErrno());
  }
}
