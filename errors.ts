/**
 * The error classes of the library. Callers tell them apart with `instanceof`.
 *
 * Wrong arguments are plain `TypeError`/`RangeError`; everything the kernel says no to is a
 * {@linkcode SyscallError} or one of the more specific classes below.
 *
 * @module
 */

/**
 * The symbolic name and description of every errno: all of Linux's `errno.h` (the
 * descriptions are glibc's `strerror`) and the kernel-internal codes of
 * `include/linux/errno.h` that leak out of bpf() and perf_event_open(), such as ENOTSUPP.
 * Keyed by number.
 */
const ERRNO_NAMES: Record<number, [string, string]> = {
  1: ["EPERM", "operation not permitted"],
  2: ["ENOENT", "no such file or directory"],
  3: ["ESRCH", "no such process"],
  4: ["EINTR", "interrupted system call"],
  5: ["EIO", "input/output error"],
  6: ["ENXIO", "no such device or address"],
  7: ["E2BIG", "argument list too long"],
  8: ["ENOEXEC", "exec format error"],
  9: ["EBADF", "bad file descriptor"],
  10: ["ECHILD", "no child processes"],
  11: ["EAGAIN", "resource temporarily unavailable"],
  12: ["ENOMEM", "cannot allocate memory"],
  13: ["EACCES", "permission denied"],
  14: ["EFAULT", "bad address"],
  15: ["ENOTBLK", "block device required"],
  16: ["EBUSY", "device or resource busy"],
  17: ["EEXIST", "file exists"],
  18: ["EXDEV", "invalid cross-device link"],
  19: ["ENODEV", "no such device"],
  20: ["ENOTDIR", "not a directory"],
  21: ["EISDIR", "is a directory"],
  22: ["EINVAL", "invalid argument"],
  23: ["ENFILE", "too many open files in system"],
  24: ["EMFILE", "too many open files"],
  25: ["ENOTTY", "inappropriate ioctl for device"],
  26: ["ETXTBSY", "text file busy"],
  27: ["EFBIG", "file too large"],
  28: ["ENOSPC", "no space left on device"],
  29: ["ESPIPE", "illegal seek"],
  30: ["EROFS", "read-only file system"],
  31: ["EMLINK", "too many links"],
  32: ["EPIPE", "broken pipe"],
  33: ["EDOM", "numerical argument out of domain"],
  34: ["ERANGE", "numerical result out of range"],
  35: ["EDEADLK", "resource deadlock avoided"],
  36: ["ENAMETOOLONG", "file name too long"],
  37: ["ENOLCK", "no locks available"],
  38: ["ENOSYS", "function not implemented"],
  39: ["ENOTEMPTY", "directory not empty"],
  40: ["ELOOP", "too many levels of symbolic links"],
  42: ["ENOMSG", "no message of desired type"],
  43: ["EIDRM", "identifier removed"],
  44: ["ECHRNG", "channel number out of range"],
  45: ["EL2NSYNC", "level 2 not synchronized"],
  46: ["EL3HLT", "level 3 halted"],
  47: ["EL3RST", "level 3 reset"],
  48: ["ELNRNG", "link number out of range"],
  49: ["EUNATCH", "protocol driver not attached"],
  50: ["ENOCSI", "no CSI structure available"],
  51: ["EL2HLT", "level 2 halted"],
  52: ["EBADE", "invalid exchange"],
  53: ["EBADR", "invalid request descriptor"],
  54: ["EXFULL", "exchange full"],
  55: ["ENOANO", "no anode"],
  56: ["EBADRQC", "invalid request code"],
  57: ["EBADSLT", "invalid slot"],
  59: ["EBFONT", "bad font file format"],
  60: ["ENOSTR", "device not a stream"],
  61: ["ENODATA", "no data available"],
  62: ["ETIME", "timer expired"],
  63: ["ENOSR", "out of streams resources"],
  64: ["ENONET", "machine is not on the network"],
  65: ["ENOPKG", "package not installed"],
  66: ["EREMOTE", "object is remote"],
  67: ["ENOLINK", "link has been severed"],
  68: ["EADV", "advertise error"],
  69: ["ESRMNT", "srmount error"],
  70: ["ECOMM", "communication error on send"],
  71: ["EPROTO", "protocol error"],
  72: ["EMULTIHOP", "multihop attempted"],
  73: ["EDOTDOT", "rFS specific error"],
  74: ["EBADMSG", "bad message"],
  75: ["EOVERFLOW", "value too large for defined data type"],
  76: ["ENOTUNIQ", "name not unique on network"],
  77: ["EBADFD", "file descriptor in bad state"],
  78: ["EREMCHG", "remote address changed"],
  79: ["ELIBACC", "can not access a needed shared library"],
  80: ["ELIBBAD", "accessing a corrupted shared library"],
  81: ["ELIBSCN", ".lib section in a.out corrupted"],
  82: ["ELIBMAX", "attempting to link in too many shared libraries"],
  83: ["ELIBEXEC", "cannot exec a shared library directly"],
  84: ["EILSEQ", "invalid or incomplete multibyte or wide character"],
  85: ["ERESTART", "interrupted system call should be restarted"],
  86: ["ESTRPIPE", "streams pipe error"],
  87: ["EUSERS", "too many users"],
  88: ["ENOTSOCK", "socket operation on non-socket"],
  89: ["EDESTADDRREQ", "destination address required"],
  90: ["EMSGSIZE", "message too long"],
  91: ["EPROTOTYPE", "protocol wrong type for socket"],
  92: ["ENOPROTOOPT", "protocol not available"],
  93: ["EPROTONOSUPPORT", "protocol not supported"],
  94: ["ESOCKTNOSUPPORT", "socket type not supported"],
  95: ["EOPNOTSUPP", "operation not supported"],
  96: ["EPFNOSUPPORT", "protocol family not supported"],
  97: ["EAFNOSUPPORT", "address family not supported by protocol"],
  98: ["EADDRINUSE", "address already in use"],
  99: ["EADDRNOTAVAIL", "cannot assign requested address"],
  100: ["ENETDOWN", "network is down"],
  101: ["ENETUNREACH", "network is unreachable"],
  102: ["ENETRESET", "network dropped connection on reset"],
  103: ["ECONNABORTED", "software caused connection abort"],
  104: ["ECONNRESET", "connection reset by peer"],
  105: ["ENOBUFS", "no buffer space available"],
  106: ["EISCONN", "transport endpoint is already connected"],
  107: ["ENOTCONN", "transport endpoint is not connected"],
  108: ["ESHUTDOWN", "cannot send after transport endpoint shutdown"],
  109: ["ETOOMANYREFS", "too many references: cannot splice"],
  110: ["ETIMEDOUT", "connection timed out"],
  111: ["ECONNREFUSED", "connection refused"],
  112: ["EHOSTDOWN", "host is down"],
  113: ["EHOSTUNREACH", "no route to host"],
  114: ["EALREADY", "operation already in progress"],
  115: ["EINPROGRESS", "operation now in progress"],
  116: ["ESTALE", "stale file handle"],
  117: ["EUCLEAN", "structure needs cleaning"],
  118: ["ENOTNAM", "not a XENIX named type file"],
  119: ["ENAVAIL", "no XENIX semaphores available"],
  120: ["EISNAM", "is a named type file"],
  121: ["EREMOTEIO", "remote I/O error"],
  122: ["EDQUOT", "disk quota exceeded"],
  123: ["ENOMEDIUM", "no medium found"],
  124: ["EMEDIUMTYPE", "wrong medium type"],
  125: ["ECANCELED", "operation canceled"],
  126: ["ENOKEY", "required key not available"],
  127: ["EKEYEXPIRED", "key has expired"],
  128: ["EKEYREVOKED", "key has been revoked"],
  129: ["EKEYREJECTED", "key was rejected by service"],
  130: ["EOWNERDEAD", "owner died"],
  131: ["ENOTRECOVERABLE", "state not recoverable"],
  132: ["ERFKILL", "operation not possible due to RF-kill"],
  133: ["EHWPOISON", "memory page has hardware error"],
  // Kernel-internal codes (include/linux/errno.h); not in libc's strerror table.
  512: ["ERESTARTSYS", "restart system call (kernel internal)"],
  513: ["ERESTARTNOINTR", "restart system call without interruption (kernel internal)"],
  514: ["ERESTARTNOHAND", "restart if no signal handler (kernel internal)"],
  515: ["ENOIOCTLCMD", "no ioctl command (kernel internal)"],
  516: ["ERESTART_RESTARTBLOCK", "restart through the restart block (kernel internal)"],
  517: ["EPROBE_DEFER", "driver probe deferred (kernel internal)"],
  518: ["EOPENSTALE", "open found a stale dentry (kernel internal)"],
  519: ["ENOPARAM", "parameter not supported (kernel internal)"],
  521: ["EBADHANDLE", "illegal NFS file handle (kernel internal)"],
  522: ["ENOTSYNC", "update synchronization mismatch (kernel internal)"],
  523: ["EBADCOOKIE", "cookie is stale (kernel internal)"],
  524: ["ENOTSUPP", "operation not supported (kernel internal)"],
  525: ["ETOOSMALL", "buffer or request is too small (kernel internal)"],
  526: ["ESERVERFAULT", "an untranslatable error occurred (kernel internal)"],
  527: ["EBADTYPE", "type not supported by server (kernel internal)"],
  528: ["EJUKEBOX", "request initiated, but will not complete before timeout (kernel internal)"],
  529: ["EIOCBQUEUED", "iocb queued, will get completion event (kernel internal)"],
  530: ["ERECALLCONFLICT", "conflict with recalled state (kernel internal)"],
};

/** Errno values the library reacts to by number. */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  EINTR: 4,
  E2BIG: 7,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  ENODEV: 19,
  EINVAL: 22,
  ENOSPC: 28,
  ENOSYS: 38,
  EOPNOTSUPP: 95,
  ESTALE: 116,
  ENOTSUPP: 524,
} as const;

/** The symbolic name of an errno value, such as `"ENOENT"`; `"E<n>"` when unknown. */
export function errnoName(errno: number): string {
  return ERRNO_NAMES[errno]?.[0] ?? `E${errno}`;
}

/** A short description of an errno value, as `strerror` would give it. */
export function errnoMessage(errno: number): string {
  return ERRNO_NAMES[errno]?.[1] ?? `unknown error ${errno}`;
}

/**
 * A system call failed. Carries the errno, its symbolic name and the operation that failed
 * (a bpf command such as `"BPF_MAP_CREATE"`, or a syscall name such as `"perf_event_open"`).
 *
 * @example
 * ```ts
 * import { SyscallError } from "@ebpf/ebpf";
 * try {
 *   // ... a bpf() call
 * } catch (e) {
 *   if (e instanceof SyscallError && e.code === "E2BIG") console.log(e.command);
 * }
 * ```
 */
export class SyscallError extends Error {
  /** The errno value the kernel returned. */
  readonly errno: number;
  /** The symbolic name of the errno, such as `"EINVAL"`. */
  readonly code: string;
  /** The bpf command or syscall that failed, such as `"BPF_PROG_LOAD"`. */
  readonly command: string;

  /** Builds the error; `detail` replaces the default description of the errno. */
  constructor(command: string, errno: number, detail?: string, options?: ErrorOptions) {
    const code = errnoName(errno);
    super(`${command} failed: ${code}: ${detail ?? errnoMessage(errno)}`, options);
    this.name = "SyscallError";
    this.errno = errno;
    this.code = code;
    this.command = command;
  }
}

/**
 * A map lookup, delete or next-key call named a key the map does not hold (ENOENT).
 * `BpfMap.lookup` returns `undefined` instead; the calls that must find a key throw this.
 */
export class KeyNotExistError extends SyscallError {
  /** Builds the error for the bpf command that failed. */
  constructor(command: string, options?: ErrorOptions) {
    super(command, Errno.ENOENT, "key does not exist", options);
    this.name = "KeyNotExistError";
  }
}

/** An update with `BPF_NOEXIST` found the key already in the map (EEXIST). */
export class KeyExistError extends SyscallError {
  /** Builds the error for the bpf command that failed. */
  constructor(command: string, options?: ErrorOptions) {
    super(command, Errno.EEXIST, "key already exists", options);
    this.name = "KeyExistError";
  }
}

/**
 * The running kernel (or this machine) lacks a feature. `feature` names it and
 * `minKernel`, where known, is the first kernel version that has it.
 */
export class NotSupportedError extends Error {
  /** What is missing, such as `"BPF_MAP_TYPE_RINGBUF"`. */
  readonly feature: string;
  /** The first kernel version that has the feature, such as `"5.8"`, if known. */
  readonly minKernel: string | undefined;

  /** Builds the error; `detail` adds why the feature is unavailable. */
  constructor(feature: string, minKernel?: string, detail?: string, options?: ErrorOptions) {
    const requires = minKernel ? ` (requires Linux ${minKernel})` : "";
    super(`${feature} is not supported${requires}${detail ? `: ${detail}` : ""}`, options);
    this.name = "NotSupportedError";
    this.feature = feature;
    this.minKernel = minKernel;
  }
}

/**
 * Something the process is not allowed to do: a missing Deno permission flag (such as
 * `--allow-ffi`), a missing capability (such as `CAP_BPF`), or a kernel refusal with EPERM
 * for another reason. `missing` names what to add, when that is known.
 */
export class PermissionError extends Error {
  /** The flag or capability to add, such as `"--allow-ffi"` or `"CAP_BPF"`, if known. */
  readonly missing: string | undefined;

  /** Builds the error. */
  constructor(message: string, missing?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "PermissionError";
    this.missing = missing;
  }
}

/** How many lines of a verifier log the message of a {@linkcode VerifierError} shows. */
const DECIDING_LINES = 3;

/**
 * The verifier rejected a program. `log` holds the whole log as lines; the message shows
 * the lines that decided the rejection (the last few, where the verifier states why).
 */
export class VerifierError extends Error {
  /** Every line of the verifier log, without trailing empty lines. */
  readonly log: readonly string[];
  /** True when the log did not fit in the buffer and its end is missing. */
  readonly truncated: boolean;
  /** The errno of the failed load: EACCES or EINVAL in practice. */
  readonly errno: number;

  /** Builds the error from the raw log text of a failed `BPF_PROG_LOAD`. */
  constructor(
    command: string,
    errno: number,
    logText: string,
    truncated: boolean,
    options?: ErrorOptions,
  ) {
    const log = splitLog(logText);
    super(VerifierError.#summary(command, errno, log, truncated), options);
    this.name = "VerifierError";
    this.log = log;
    this.truncated = truncated;
    this.errno = errno;
  }

  static #summary(command: string, errno: number, log: string[], truncated: boolean): string {
    const head = `${command} failed: ${errnoName(errno)}: verifier rejected the program`;
    if (log.length === 0) return `${head} (no log)`;
    // The verifier ends with statistics ("processed N insns ..."); the reason precedes them.
    let end = log.length;
    while (end > 0 && /^(processed \d+ insns|verification time|stack depth)/.test(log[end - 1])) {
      end--;
    }
    if (end === 0) end = log.length;
    const deciding = log.slice(Math.max(0, end - DECIDING_LINES), end);
    const more = truncated ? " (log truncated)" : "";
    return `${head}${more}: ${deciding.join("\n")}`;
  }
}

function splitLog(text: string): string[] {
  const lines = text.split("\n");
  while (lines.length > 0 && lines[lines.length - 1].trim() === "") lines.pop();
  return lines;
}

/**
 * Corrupt or unsupported input in a binary format (ELF, BTF, instructions). `offset` is the
 * byte offset in the input where the problem was found.
 */
export class FormatError extends SyntaxError {
  /** The byte offset in the input where the problem was found. */
  readonly offset: number;

  /** Builds the error; the offset is appended to the message. */
  constructor(message: string, offset: number, options?: ErrorOptions) {
    super(`${message} (at byte offset ${offset})`, options);
    this.name = "FormatError";
    this.offset = offset;
  }
}

/** An object that owns a file descriptor was used after `close()`. */
export class ClosedError extends Error {
  /** Builds the error naming the kind of object that was closed, such as `"BpfMap"`. */
  constructor(what: string) {
    super(`Cannot use ${what}: it is closed`);
    this.name = "ClosedError";
  }
}

/**
 * A resource that admits one user at a time already has one: a second reader of the same
 * ring buffer, which would advance the consumer position under the first.
 */
export class InUseError extends Error {
  /** Builds the error; the message says what is in use and by whom. */
  constructor(message: string) {
    super(message);
    this.name = "InUseError";
  }
}
