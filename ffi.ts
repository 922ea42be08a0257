/**
 * The one binding table for libc and the typed system-call layer on top of it.
 *
 * This is the only file that calls `Deno.dlopen`. libc is opened lazily, on the first call
 * that needs it, so importing the library needs no permission; the first call checks for
 * `--allow-ffi` and throws a {@linkcode PermissionError} that names the flag.
 *
 * The rules this file follows were measured on Deno 2.9 (see `docs/FFI_NOTES.md`):
 * bpf() is declared `["i64","i64","u64","u64"] → "i32"` and always gets bigints, the attr
 * as its cached address; attr buffers are reused; every buffer whose address is written into an attr is held by the
 * {@linkcode Attr} until the call returns; errno is read at once through a cached view.
 *
 * @module
 */

import { BpfCmd, bpfCmdName } from "./_internal/bpf_cmd.ts";
import { type SyscallNumbers, syscallNumbersFor } from "./_internal/syscall_numbers.ts";
import {
  Errno,
  errnoMessage,
  KeyExistError,
  KeyNotExistError,
  NotSupportedError,
  PermissionError,
  SyscallError,
} from "./errors.ts";

export { BpfCmd, bpfCmdName };

const SYMBOLS = {
  // syscall(2) with the shapes the library needs. It is variadic; every argument is passed
  // as a 64-bit integer or a pointer, which is what the kernel's ABI reads.
  // bpf() takes the attr's address as an integer: a "buffer" argument costs ≈ 8 ns (3% of
  // an ARRAY lookup) to unwrap on every call, while an Attr's address is taken once and
  // cached. The Attr is an argument of the caller for the whole call (rule 5).
  syscall_bpf: { name: "syscall", parameters: ["i64", "i64", "u64", "u64"], result: "i32" },
  syscall_perf_event_open: {
    name: "syscall",
    parameters: ["i64", "buffer", "i64", "i64", "i64", "u64"],
    result: "i32",
  },
  syscall_ptr2: { name: "syscall", parameters: ["i64", "buffer", "buffer"], result: "i32" },
  syscall_i2: { name: "syscall", parameters: ["i64", "i64", "u64"], result: "i32" },
  // memset(buf, 0, 0) returns buf: the cheapest way to learn a buffer's address (≈19 ns).
  memset: { parameters: ["buffer", "i32", "usize"], result: "u64" },
  open: { parameters: ["buffer", "i32", "i32"], result: "i32" },
  statfs: { parameters: ["buffer", "buffer"], result: "i32" },
  if_nametoindex: { parameters: ["buffer"], result: "u32" },
  dup: { parameters: ["i32"], result: "i32" },
  fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
  ioctl: { parameters: ["i32", "u64", "u64"], result: "i32" },
  ioctl_ptr: { name: "ioctl", parameters: ["i32", "u64", "buffer"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "i64" },
  write: { parameters: ["i32", "buffer", "usize"], result: "i64" },
  mmap: { parameters: ["pointer", "usize", "i32", "i32", "i32", "i64"], result: "pointer" },
  munmap: { parameters: ["pointer", "usize"], result: "i32" },
  epoll_create1: { parameters: ["i32"], result: "i32" },
  epoll_ctl: { parameters: ["i32", "i32", "i32", "buffer"], result: "i32" },
  epoll_wait: { parameters: ["i32", "buffer", "i32", "i32"], result: "i32" },
  epoll_wait_async: {
    name: "epoll_wait",
    parameters: ["i32", "buffer", "i32", "i32"],
    result: "i32",
    nonblocking: true,
  },
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
  getpagesize: { parameters: [], result: "i32" },
  // Netlink sockets for the attachments that predate bpf_link (legacy tc, XDP by netlink).
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  sendto: { parameters: ["i32", "buffer", "usize", "i32", "buffer", "u32"], result: "i64" },
  recv: { parameters: ["i32", "buffer", "usize", "i32"], result: "i64" },
  getpid: { parameters: [], result: "i32" },
  gettid: { parameters: [], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** syscall(2) with three integer arguments, as bpf() and close() take it. */
type Syscall3 = (nr: bigint, a: bigint, b: bigint, c: bigint) => number;

interface Loaded {
  lib: Libc;
  errno: Int32Array;
  nr: SyscallNumbers;
  nrBpf: bigint;
  nrClose: bigint;
  /** syscall(2) called by address through `UnsafeFnPointer`: no trampoline, ≈5 µs a call. */
  slowSyscall: Syscall3;
}

let loaded: Loaded | undefined;

/** Thrown before `dlopen` when the process may not use FFI. */
function ffiPermissionError(cause?: unknown): PermissionError {
  return new PermissionError(
    'Requires ffi access to "libc.so.6": run again with the --allow-ffi flag',
    "--allow-ffi",
    cause === undefined ? undefined : { cause },
  );
}

/**
 * Deno compiles a trampoline for each symbol a `dlopen` declares: the first one of a process
 * ≈0.6 ms, each further one 0.1–0.3 ms (and an mmap and mprotect, which stall for
 * milliseconds on a busy machine); binding all 30 up front made the first program load of
 * a process cost 20–40 ms. So the first call binds none: its dlopen declares syscall(2) and
 * `__errno_location` as addresses, called through `UnsafeFnPointer`, and every symbol of
 * {@linkcode SYMBOLS} is bound on its own first use. bpf() and close() take the slow way
 * for the first {@linkcode SLOW_SYSCALLS} calls of a process, then syscall's trampoline.
 */
const SLOW_SYSCALLS = 16;
let slowSyscallsLeft = SLOW_SYSCALLS;

/** `int *__errno_location(void)`, for `UnsafeFnPointer`. */
const ERRNO_LOCATION = { parameters: [], result: "pointer" } as const;

/** Opens libc on first use; every later call gets the cached table. */
function load(): Loaded {
  if (loaded) return loaded;
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") {
    throw ffiPermissionError();
  }
  const nr = syscallNumbersFor(Deno.build.arch);
  if (!nr) throw new NotSupportedError(`the ${Deno.build.arch} architecture`);
  const addresses = dlopenLibc({
    syscall: { name: "syscall", type: "pointer" },
    errno_location: { name: "__errno_location", type: "pointer" },
  });
  const errnoLocation = new Deno.UnsafeFnPointer(
    addresses.errno_location as Deno.PointerObject<typeof ERRNO_LOCATION>,
    ERRNO_LOCATION,
  ).call();
  if (errnoLocation === null) throw new Error("libc returned no errno location");
  const errno = new Int32Array(Deno.UnsafePointerView.getArrayBuffer(errnoLocation, 4));
  const syscall = new Deno.UnsafeFnPointer(
    addresses.syscall as Deno.PointerObject<typeof SYMBOLS.syscall_bpf>,
    SYMBOLS.syscall_bpf,
  );
  loaded = {
    lib: Object.create(lazySymbols) as Libc,
    errno,
    nr,
    nrBpf: BigInt(nr.bpf),
    nrClose: BigInt(nr.close),
    slowSyscall: (n, a, b, c) => syscall.call(n, a, b, c),
  };
  return loaded;
}

function dlopenLibc(symbols: Deno.ForeignLibraryInterface): Record<string, unknown> {
  try {
    return Deno.dlopen("libc.so.6", symbols).symbols;
  } catch (e) {
    if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
      throw ffiPermissionError(e);
    }
    throw e;
  }
}

/**
 * The prototype of the symbol table: a getter per symbol that binds it on first use and
 * stores it on the table itself, so later calls read a plain property.
 */
const lazySymbols: object = Object.create(null);
for (const name of Object.keys(SYMBOLS) as (keyof typeof SYMBOLS)[]) {
  Object.defineProperty(lazySymbols, name, {
    get(this: Libc) {
      const fn = dlopenLibc({ [name]: SYMBOLS[name] })[name];
      Object.defineProperty(this, name, { value: fn, enumerable: true });
      return fn;
    },
  });
}

/**
 * The libc symbols, opened on first use. Object-layer modules call these directly when a
 * typed helper below does not fit; read errno with {@linkcode lastErrno} right after a -1.
 */
export function libc(): Libc {
  return load().lib;
}

/** The system call numbers of the running architecture. */
export function syscallNumbers(): SyscallNumbers {
  return load().nr;
}

/** errno of the last failed libc call on this thread. Read it at once after the failure. */
export function lastErrno(): number {
  return load().errno[0];
}

/** The size of `union bpf_attr` the library passes: room for today's largest command. */
export const ATTR_SIZE = 192;

/**
 * A reusable `union bpf_attr`: a zeroed buffer, a DataView made once, and the buffers whose
 * addresses it holds. Writing a pointer with {@linkcode Attr.pointer} keeps that buffer
 * referenced by the attr, so V8 cannot free it before the kernel has read or written it.
 *
 * @example
 * ```ts ignore
 * const attr = new Attr();
 * attr.u32(0, mapFd).pointer(8, key).pointer(16, value);
 * bpf(BpfCmd.MAP_LOOKUP_ELEM, attr);
 * ```
 */
export class Attr {
  /** The bytes handed to the kernel. */
  readonly bytes: Uint8Array;
  /** A little-endian view over {@linkcode Attr.bytes}, made once. */
  readonly view: DataView;
  /** The buffers whose addresses are written in the attr, by offset. */
  readonly #held = new Map<number, Uint8Array>();
  /** The size passed to bpf() as a bigint, made once. */
  readonly sizeArg: bigint;
  /** The address of {@linkcode Attr.bytes}, taken on the first real bpf() call. */
  addressArg: bigint | undefined;

  /** Allocates a zeroed attr of `size` bytes (default {@linkcode ATTR_SIZE}). */
  constructor(size: number = ATTR_SIZE) {
    // A fresh ArrayBuffer always lives off the V8 heap, so its address never moves.
    this.bytes = new Uint8Array(new ArrayBuffer(size));
    this.view = new DataView(this.bytes.buffer);
    this.sizeArg = BigInt(size);
  }

  /** Zeroes the attr and lets go of the buffers it held. */
  reset(): this {
    this.bytes.fill(0);
    this.#held.clear();
    return this;
  }

  /** Writes an unsigned 8-bit field. */
  u8(offset: number, value: number): this {
    this.view.setUint8(offset, value);
    return this;
  }

  /** Writes an unsigned 16-bit field. */
  u16(offset: number, value: number): this {
    this.view.setUint16(offset, value, true);
    return this;
  }

  /** Writes an unsigned 32-bit field (`__u32`, fds, flags). */
  u32(offset: number, value: number): this {
    this.view.setUint32(offset, value >>> 0, true);
    return this;
  }

  /** Writes a signed 32-bit field (`__s32`). */
  i32(offset: number, value: number): this {
    this.view.setInt32(offset, value, true);
    return this;
  }

  /** Writes an unsigned 64-bit field (`__u64`, `__aligned_u64`). */
  u64(offset: number, value: bigint): this {
    this.view.setBigUint64(offset, value, true);
    return this;
  }

  /**
   * Writes the address of `buffer` at `offset` and holds the buffer until the attr is reset
   * or pointed elsewhere. `null` or an empty buffer writes NULL.
   */
  pointer(offset: number, buffer: Uint8Array | null): this {
    if (buffer === null || buffer.byteLength === 0) {
      this.view.setBigUint64(offset, 0n, true);
      this.#held.delete(offset);
      return this;
    }
    this.view.setBigUint64(offset, backend.address(buffer), true);
    this.#held.set(offset, buffer);
    return this;
  }

  /** Reads back an unsigned 32-bit field, such as an id or length the kernel filled in. */
  getU32(offset: number): number {
    return this.view.getUint32(offset, true);
  }

  /** Reads back an unsigned 64-bit field. */
  getU64(offset: number): bigint {
    return this.view.getBigUint64(offset, true);
  }

  /** The buffer whose address is at `offset`, if the attr holds one (for fake kernels). */
  pointee(offset: number): Uint8Array | undefined {
    return this.#held.get(offset);
  }
}

/**
 * Encodes `text` as a NUL-terminated C string in a buffer that never moves. A NUL inside
 * `text` is a TypeError: the kernel would read only the part before it, silently (a pin
 * at a truncated path). `what` names the argument in that message.
 */
export function cString(text: string, what = "a string passed to the kernel"): Uint8Array {
  const nul = text.indexOf("\0");
  if (nul >= 0) {
    throw new TypeError(
      `Invalid ${what}: it holds a NUL byte at index ${nul}, where the kernel would cut it: ` +
        JSON.stringify(text),
    );
  }
  const encoded = new TextEncoder().encode(text);
  const out = new Uint8Array(new ArrayBuffer(encoded.length + 1));
  out.set(encoded);
  return out;
}

/**
 * Allocates a zeroed buffer whose backing store lives outside the V8 heap, so that its
 * address is stable and can be cached. Small typed arrays made with `new Uint8Array(n)` may
 * live on the heap and move.
 */
export function allocBuffer(size: number): Uint8Array {
  return new Uint8Array(new ArrayBuffer(size));
}

/**
 * What the library calls to reach the kernel. The real one goes through libc; tests can
 * install a fake with {@linkcode setBackend} to run loader logic without a kernel.
 */
export interface Backend {
  /** Runs bpf(cmd, attr); returns the result (≥ 0) or a negated errno. */
  bpf(cmd: number, attr: Attr): number;
  /** The address of a buffer, to write into an attr. */
  address(buffer: Uint8Array): bigint;
}

const CMD_ARGS: bigint[] = Array.from({ length: 64 }, (_, i) => BigInt(i));

/** Takes and caches the address of an attr's bytes (kept out of the hot function). */
function attrAddress(attr: Attr): bigint {
  return attr.addressArg = bufferAddress(attr.bytes);
}

/**
 * How many addresses are taken with `UnsafePointer.of` (≈300 ns) before memset's trampoline
 * (≈19 ns a call, but 0.2–0.3 ms to make) is bound: a process that loads a program or two
 * never needs it, a loop of map calls has it after a few iterations.
 */
const ADDRESSES_BEFORE_MEMSET = 16;
let addressesTaken = 0;
let memset: ((buffer: Uint8Array, value: number, length: bigint) => bigint) | undefined;

/** The address of `buffer`'s first byte (0 for an empty one). */
function bufferAddress(buffer: Uint8Array): bigint {
  if (memset !== undefined) return memset(buffer, 0, 0n);
  const l = loaded ?? load();
  if (++addressesTaken <= ADDRESSES_BEFORE_MEMSET) {
    return Deno.UnsafePointer.value(Deno.UnsafePointer.of(buffer));
  }
  memset = l.lib.memset;
  return memset(buffer, 0, 0n);
}

/**
 * Makes the function behind {@linkcode kernelBackend}'s bpf(): a closure over the FFI
 * symbol, the syscall number and the errno view, which V8 compiles to a call with a fixed
 * target. Reaching them through the `loaded` record on each call measured 2% slower.
 */
function makeBpfCall(): (cmd: number, attr: Attr) => number {
  const l = load();
  const syscall = l.lib.syscall_bpf;
  const nr = l.nrBpf;
  const errno = l.errno;
  return (cmd, attr) => {
    // The attr's bytes never move (an off-heap ArrayBuffer) and `attr` is an argument of
    // this call, so the bytes stay alive until the kernel is done with them (rule 5).
    const r = syscall(nr, CMD_ARGS[cmd], attr.addressArg ?? attrAddress(attr), attr.sizeArg);
    // errno is read before anything else can run on this thread (FFI_NOTES rule 8).
    return r < 0 ? -errno[0] : r;
  };
}

let bpfCall: ((cmd: number, attr: Attr) => number) | undefined;

/** bpf() through the slow syscall, for the first calls of a process (see SLOW_SYSCALLS). */
function slowBpfCall(cmd: number, attr: Attr): number {
  const l = loaded ?? load();
  const r = l.slowSyscall(
    l.nrBpf,
    CMD_ARGS[cmd],
    attr.addressArg ?? attrAddress(attr),
    attr.sizeArg,
  );
  // errno is read before anything else can run on this thread (FFI_NOTES rule 8).
  return r < 0 ? -l.errno[0] : r;
}

/** The bpf() call to make now: the slow one while some are left, then the fast one for good. */
function nextBpfCall(): (cmd: number, attr: Attr) => number {
  if (slowSyscallsLeft > 0) {
    slowSyscallsLeft--;
    return slowBpfCall;
  }
  return bpfCall = makeBpfCall();
}

/** The backend that makes real system calls through libc. */
export const kernelBackend: Backend = {
  bpf(cmd: number, attr: Attr): number {
    return (bpfCall ?? nextBpfCall())(cmd, attr);
  },
  address: bufferAddress,
};

let backend: Backend = kernelBackend;

/**
 * Replaces the backend that bpf() calls go to and returns a function that restores the
 * previous one. Meant for tests that exercise loader logic against a fake kernel.
 */
export function setBackend(next: Backend): () => void {
  const previous = backend;
  backend = next;
  return () => {
    backend = previous;
  };
}

/** The backend in use, so that memoised probes can tell a fake kernel from the real one. */
export function currentBackend(): Backend {
  return backend;
}

/**
 * Calls bpf(2) and returns its result, or the negated errno on failure. For hot paths that
 * expect failures (a lookup of an absent key) and must not pay for an exception.
 */
export function bpfErrno(cmd: number, attr: Attr): number {
  return backend.bpf(cmd, attr);
}

/**
 * Calls bpf(2) and returns its result (an fd or 0). Failures throw: ENOENT from lookups,
 * deletes and next-key becomes {@linkcode KeyNotExistError}, EEXIST from updates
 * {@linkcode KeyExistError}, EPERM a {@linkcode PermissionError}, anything else a
 * {@linkcode SyscallError}.
 */
export function bpf(cmd: number, attr: Attr): number {
  const r = backend.bpf(cmd, attr);
  if (r < 0) throw bpfError(cmd, -r);
  return r;
}

/**
 * The error for bpf(cmd) failing with `errno`: the one place where a bpf() errno becomes an
 * error, so that EPERM is a {@linkcode PermissionError} from every command. `reason`, when
 * given, says what the caller knows an EPERM means here (such as a frozen map) in place of
 * the generic explanation; `detail` says what failed (such as the map being created) and
 * replaces the errno's description in a {@linkcode SyscallError}.
 */
export function bpfError(cmd: number, errno: number, reason?: string, detail?: string): Error {
  const command = bpfCmdName(cmd);
  switch (errno) {
    case Errno.ENOENT:
      if (
        cmd === BpfCmd.MAP_LOOKUP_ELEM || cmd === BpfCmd.MAP_DELETE_ELEM ||
        cmd === BpfCmd.MAP_GET_NEXT_KEY || cmd === BpfCmd.MAP_LOOKUP_AND_DELETE_ELEM ||
        cmd === BpfCmd.MAP_UPDATE_ELEM // with BPF_EXIST
      ) return new KeyNotExistError(command);
      break;
    case Errno.EEXIST:
      if (cmd === BpfCmd.MAP_UPDATE_ELEM) return new KeyExistError(command);
      break;
    case Errno.EPERM:
      return eperm(command, new SyscallError(command, errno), reason, detail);
  }
  return new SyscallError(command, errno, detail && `${detail}: ${errnoMessage(errno)}`);
}

/** Linux capability numbers from `include/uapi/linux/capability.h`. */
export const Capability = {
  CAP_NET_ADMIN: 12,
  CAP_SYS_ADMIN: 21,
  CAP_PERFMON: 38,
  CAP_BPF: 39,
} as const;

/** The effective capability set of this process, as a bit set of capability numbers. */
export function effectiveCapabilities(): bigint {
  const l = load();
  const header = allocBuffer(8);
  const data = allocBuffer(24);
  const hv = new DataView(header.buffer);
  hv.setUint32(0, 0x20080522, true); // _LINUX_CAPABILITY_VERSION_3
  hv.setInt32(4, 0, true); // this process
  const r = l.lib.syscall_ptr2(BigInt(l.nr.capget), header, data);
  if (r < 0) throw new SyscallError("capget", l.errno[0]);
  const dv = new DataView(data.buffer);
  return BigInt(dv.getUint32(0, true)) | (BigInt(dv.getUint32(12, true)) << 32n);
}

/** Whether this process holds capability `cap` (a {@linkcode Capability} value). */
export function hasCapability(cap: number): boolean {
  return (effectiveCapabilities() & (1n << BigInt(cap))) !== 0n;
}

/**
 * The error for EPERM: a missing capability when the process lacks CAP_BPF and
 * CAP_SYS_ADMIN, otherwise a refusal for a reason that capabilities cannot fix.
 */
function eperm(
  command: string,
  cause: SyscallError,
  reason?: string,
  detail?: string,
): PermissionError {
  let caps: bigint | undefined;
  try {
    caps = effectiveCapabilities();
  } catch {
    caps = undefined;
  }
  const head = `${command} failed: EPERM: ${detail ? `${detail}: ` : ""}`;
  const has = (c: number) => caps !== undefined && (caps & (1n << BigInt(c))) !== 0n;
  if (!has(Capability.CAP_BPF) && !has(Capability.CAP_SYS_ADMIN)) {
    return new PermissionError(
      `${head}the process lacks CAP_BPF and CAP_SYS_ADMIN: ` +
        "run as root or grant CAP_BPF (with CAP_PERFMON or CAP_NET_ADMIN for tracing and networking programs)",
      "CAP_BPF",
      { cause },
    );
  }
  return new PermissionError(
    `${head}the kernel refused although the process has ` +
      `${has(Capability.CAP_SYS_ADMIN) ? "CAP_SYS_ADMIN" : "CAP_BPF"}: ` +
      "the operation is not allowed here for another reason " +
      `(${reason ?? "a program or attach type this kernel restricts, lockdown, or an LSM policy"})`,
    undefined,
    { cause },
  );
}

/** Throws the {@linkcode SyscallError} for a libc call that returned -1. */
function fail(name: string): never {
  // Read errno before building anything.
  const errno = load().errno[0];
  throw new SyscallError(name, errno);
}

/**
 * Closes a raw fd. Errors other than EBADF are ignored, as close(2) advises. It goes through
 * bpf()'s syscall(2), so that closing needs no trampoline of its own.
 */
export function closeFd(fd: number): void {
  const l = load();
  if (slowSyscallsLeft > 0) {
    slowSyscallsLeft--;
    l.slowSyscall(l.nrClose, BigInt(fd), 0n, 0n);
  } else {
    l.lib.syscall_bpf(l.nrClose, BigInt(fd), 0n, 0n);
  }
}

/** `O_*` flags of open(2) the library uses. */
export const OpenFlags = {
  RDONLY: 0,
  RDWR: 2,
  NONBLOCK: 0o4000,
  DIRECTORY: 0o200000,
  CLOEXEC: 0o2000000,
} as const;

/**
 * open(2) of `path` with `flags` (close-on-exec always added): for objects the kernel
 * names by fd, such as cgroup directories and network namespaces.
 */
export function openFd(path: string, flags: number = OpenFlags.RDONLY): number {
  const l = load();
  const r = l.lib.open(cString(path, "path"), flags | OpenFlags.CLOEXEC, 0);
  if (r < 0) {
    const errno = l.errno[0];
    throw new SyscallError(`open("${path}")`, errno);
  }
  return r;
}

/**
 * The magic number of the file system that holds `path` (statfs(2)'s `f_type`, such as
 * `0xcafe4a11` for a bpffs), following a symbolic link at the end of the path.
 */
export function filesystemMagic(path: string): number {
  const l = load();
  // struct statfs is 120 bytes on 64-bit Linux; f_type is its first field (a long).
  const buf = allocBuffer(256);
  const r = l.lib.statfs(cString(path, "path"), buf);
  if (r < 0) {
    const errno = l.errno[0];
    throw new SyscallError(`statfs("${path}")`, errno);
  }
  return new DataView(buf.buffer).getUint32(0, true);
}

/**
 * The index of the network interface `name` in this thread's network namespace
 * (if_nametoindex(3), an ioctl on a socket), or 0 when there is none. Unlike
 * `/sys/class/net`, it is right in a namespace entered without remounting sysfs.
 */
export function interfaceIndex(name: string): number {
  return load().lib.if_nametoindex(cString(name, "interface name"));
}

const F_DUPFD_CLOEXEC = 1030;

/** Duplicates `fd` to the lowest free number ≥ `min`, with close-on-exec set. */
export function dupFd(fd: number, min = 1): number {
  const r = load().lib.fcntl(fd, F_DUPFD_CLOEXEC, min);
  if (r < 0) fail("fcntl(F_DUPFD_CLOEXEC)");
  return r;
}

/** ioctl(fd, request, arg) with an integer argument. */
export function ioctl(fd: number, request: bigint, arg: bigint = 0n): number {
  const r = load().lib.ioctl(fd, request, arg);
  if (r < 0) fail("ioctl");
  return r;
}

/** Arguments of perf_event_open(2) other than the attr. */
export interface PerfEventOpenArgs {
  pid: number;
  cpu: number;
  groupFd?: number;
  flags?: bigint;
}

/** perf_event_open(2); `attr` is a `struct perf_event_attr` the caller built. */
export function perfEventOpen(attr: Uint8Array, args: PerfEventOpenArgs): number {
  const l = load();
  const r = l.lib.syscall_perf_event_open(
    BigInt(l.nr.perf_event_open),
    attr,
    BigInt(args.pid),
    BigInt(args.cpu),
    BigInt(args.groupFd ?? -1),
    args.flags ?? 0n,
  );
  if (r < 0) fail("perf_event_open");
  return r;
}

/** MAP_FAILED, as mmap(2) returns it. */
const MAP_FAILED = 0xffffffffffffffffn;

/** A region mapped with {@linkcode mmap}: its pointer and an ArrayBuffer over it. */
export interface Mapping {
  pointer: Deno.PointerObject;
  buffer: ArrayBuffer;
  length: number;
}

/**
 * mmap(2) of `length` bytes of `fd` at `offset`; `address` is the address asked for (0n:
 * the kernel chooses), binding with `MAP_FIXED` or `MAP_FIXED_NOREPLACE` in `flags`.
 */
export function mmap(
  length: number,
  prot: number,
  flags: number,
  fd: number,
  offset = 0n,
  address = 0n,
): Mapping {
  const l = load();
  const at = address === 0n ? null : Deno.UnsafePointer.create(address);
  const p = l.lib.mmap(at, BigInt(length), prot, flags, fd, offset);
  if (p === null || Deno.UnsafePointer.value(p) === MAP_FAILED) fail("mmap");
  return { pointer: p, buffer: Deno.UnsafePointerView.getArrayBuffer(p, length), length };
}

/**
 * munmap(2). The mapping's ArrayBuffer is detached first, so a stray view cannot touch the
 * memory once it is gone.
 */
export function munmap(mapping: Mapping): void {
  if (mapping.buffer.byteLength !== 0) {
    structuredClone(mapping.buffer, { transfer: [mapping.buffer] });
  }
  if (load().lib.munmap(mapping.pointer, BigInt(mapping.length)) < 0) fail("munmap");
}

/** EPOLL_CTL_* operations. */
export const EpollCtl = { ADD: 1, DEL: 2, MOD: 3 } as const;

/** epoll_create1(EPOLL_CLOEXEC). */
export function epollCreate(): number {
  const r = load().lib.epoll_create1(0o2000000);
  if (r < 0) fail("epoll_create1");
  return r;
}

/** epoll_ctl(2) with `events` and a 64-bit user `data` value for the fd. */
export function epollCtl(epfd: number, op: number, fd: number, events: number, data: bigint) {
  // struct epoll_event is packed on x86_64 (u32 + u64) and naturally aligned elsewhere.
  const dataOffset = Deno.build.arch === "x86_64" ? 4 : 8;
  const ev = allocBuffer(dataOffset + 8);
  const dv = new DataView(ev.buffer);
  dv.setUint32(0, events, true);
  dv.setBigUint64(dataOffset, data, true);
  const r = load().lib.epoll_ctl(epfd, op, fd, ev);
  if (r < 0) fail("epoll_ctl");
}

/**
 * Waits on an epoll set without blocking the event loop (a `nonblocking` FFI call on a
 * worker thread). Always give a finite timeout or an eventfd in the set: a pending wait
 * keeps the process alive. Returns the number of ready events written into `events`; errno
 * is not available for nonblocking calls, so -1 maps to 0 events (an EINTR in practice).
 */
export async function epollWait(
  epfd: number,
  events: Uint8Array,
  maxEvents: number,
  timeoutMs: number,
): Promise<number> {
  const lib = load().lib;
  // `events` stays referenced by this frame until the promise settles (FFI_NOTES rule 6).
  const r = await lib.epoll_wait_async(epfd, events, maxEvents, timeoutMs);
  return r < 0 ? 0 : r;
}

/** eventfd(2) with EFD_CLOEXEC | EFD_NONBLOCK. */
export function eventFd(initial = 0): number {
  const r = load().lib.eventfd(initial, 0o2000000 | 0o4000);
  if (r < 0) fail("eventfd");
  return r;
}

/** read(2) into `buffer`; returns the byte count, or -errno for EAGAIN and EINTR. */
export function readFd(fd: number, buffer: Uint8Array): number {
  const l = load();
  const r = Number(l.lib.read(fd, buffer, BigInt(buffer.byteLength)));
  if (r < 0) {
    const errno = l.errno[0];
    if (errno === Errno.EAGAIN || errno === Errno.EINTR) return -errno;
    throw new SyscallError("read", errno);
  }
  return r;
}

/** write(2) of `buffer`; returns the byte count. */
export function writeFd(fd: number, buffer: Uint8Array): number {
  const r = Number(load().lib.write(fd, buffer, BigInt(buffer.byteLength)));
  if (r < 0) fail("write");
  return r;
}

let cachedPageSize: number | undefined;

/** The size of a memory page: the unit of ring buffer mappings. */
export function pageSize(): number {
  return cachedPageSize ??= load().lib.getpagesize();
}

/** getpid(2). */
export function getpid(): number {
  return load().lib.getpid();
}

/** gettid(2): the id of the calling thread. */
export function gettid(): number {
  return load().lib.gettid();
}

let possibleCpuCount: number | undefined;

/**
 * The {@linkcode PermissionError} for a file Deno would not let us read, naming the flag that
 * helps: Deno 2 opens `/sys` and `/proc` only under `--allow-all`, whatever `--allow-read` says.
 * Any other error is returned as it is.
 */
export function readAccessError(path: string, error: unknown): unknown {
  if (!(error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied)) {
    return error;
  }
  const flag = /^\/(sys|proc)\//.test(path) ? "--allow-all" : "--allow-read";
  return new PermissionError(
    `Requires read access to "${path}": run again with the ${flag} flag`,
    flag,
    { cause: error },
  );
}

/**
 * The number of possible CPUs, from `/sys/devices/system/cpu/possible`: the stride of
 * per-CPU map values and the number of perf rings. Deno reads `/sys` only under
 * `--allow-all`.
 */
export function possibleCpus(): number {
  if (possibleCpuCount !== undefined) return possibleCpuCount;
  const path = "/sys/devices/system/cpu/possible";
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (e) {
    throw readAccessError(path, e);
  }
  possibleCpuCount = parseCpuList(text);
  return possibleCpuCount;
}

/**
 * Counts the CPUs in a kernel CPU list such as `"0-3,8-11"`. The kernel numbers possible
 * CPUs from 0, so the count is the highest number plus one.
 */
export function parseCpuList(text: string): number {
  let highest = -1;
  for (const part of text.trim().split(",")) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw new SyntaxError(`Invalid CPU list: "${text.trim()}"`);
    const last = Number(m[2] ?? m[1]);
    if (m[2] !== undefined && last < Number(m[1])) {
      throw new SyntaxError(`Invalid CPU list: "${text.trim()}"`);
    }
    highest = Math.max(highest, last);
  }
  return highest + 1;
}
