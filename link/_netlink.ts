/**
 * A minimal rtnetlink client for the attachments that predate bpf_link: legacy tc filters
 * (clsact + cls_bpf) and XDP set through `RTM_SETLINK`. One request at a time, each acked;
 * the kernel handles a request inside sendto(2), so its answers are queued by the time
 * sendto returns and reading them never waits. Constants from
 * include/uapi/linux/{netlink,rtnetlink}.h.
 *
 * @module
 */

import { lastErrno, libc } from "../ffi.ts";
import { Errno, SyscallError } from "../errors.ts";
import { FD } from "../_internal/fd.ts";

const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
const NETLINK_ROUTE = 0;
const SOL_NETLINK = 270;
const NETLINK_CAP_ACK = 10;
const NETLINK_EXT_ACK = 11;
const MSG_DONTWAIT = 0x40;

const NLMSG_HDRLEN = 16;
const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
/** In an error message: the original request is not echoed (NETLINK_CAP_ACK). */
const NLM_F_CAPPED = 0x100;
/** In an error message: extended-ack attributes follow. */
const NLM_F_ACK_TLVS = 0x200;
const NLMSGERR_ATTR_MSG = 1;

/** `NLM_F_*` request flags. */
export const NlFlags = {
  Request: 0x1,
  Ack: 0x4,
  Echo: 0x8,
  Replace: 0x100,
  Excl: 0x200,
  Create: 0x400,
} as const;

/** `NLA_F_NESTED`: the attribute holds attributes. */
const NLA_F_NESTED = 0x8000;

const align4 = (n: number) => (n + 3) & ~3;

/** Joins byte strings. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A netlink attribute: length, type, payload, padding to 4 bytes. */
export function nlAttr(type: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(align4(4 + payload.length));
  const v = new DataView(out.buffer);
  v.setUint16(0, 4 + payload.length, true);
  v.setUint16(2, type, true);
  out.set(payload, 4);
  return out;
}

/** A nested attribute holding `parts`. */
export function nlNest(type: number, ...parts: Uint8Array[]): Uint8Array {
  return nlAttr(type | NLA_F_NESTED, concat(...parts));
}

/** A u32 (or s32) attribute payload, host byte order. */
export function u32(x: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, x | 0, true);
  return b;
}

/** A NUL-terminated string payload. */
export function str(s: string): Uint8Array {
  return new TextEncoder().encode(s + "\0");
}

/** The attributes in `bytes` (from `offset`), by type with the nested flag cleared. */
export function parseAttrs(bytes: Uint8Array, offset = 0): Map<number, Uint8Array> {
  const out = new Map<number, Uint8Array>();
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = offset;
  while (at + 4 <= bytes.length) {
    const len = v.getUint16(at, true);
    if (len < 4 || at + len > bytes.length) break;
    out.set(v.getUint16(at + 2, true) & ~NLA_F_NESTED, bytes.subarray(at + 4, at + len));
    at += align4(len);
  }
  return out;
}

/** A message the kernel sent back: its type and payload (after the netlink header). */
export interface NlMessage {
  type: number;
  payload: Uint8Array;
}

/**
 * A NETLINK_ROUTE socket. It belongs to the network namespace the calling thread was in
 * when it was opened, and so do the requests sent on it: a link that keeps one can detach
 * in that namespace whichever namespace the thread is in later.
 */
export class RtNetlink {
  readonly #fd: FD;
  #seq = 1;

  constructor() {
    const lib = libc();
    const fd = lib.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0) throw new SyscallError("socket(AF_NETLINK)", lastErrno());
    this.#fd = new FD(fd, "netlink socket");
    // The kernel's reason in text (extended ack), without echoing the request back; both
    // are best effort: kernels before 4.12 ignore them.
    const one = u32(1);
    lib.setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, one, 4);
    lib.setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, one, 4);
  }

  /** Whether the socket is closed. */
  get closed(): boolean {
    return this.#fd.closed;
  }

  /** Closes the socket. */
  close(): void {
    this.#fd.close();
  }

  /**
   * Sends request `type` with `flags` (plus REQUEST and ACK) and `body`, and returns the
   * messages the kernel sent before its ack (with `Echo`: the object as created). A
   * refusal throws a {@linkcode SyscallError} for `what`, with the kernel's text if any.
   */
  request(type: number, flags: number, body: Uint8Array, what: string): NlMessage[] {
    const lib = libc();
    const fd = this.#fd.raw;
    const seq = this.#seq++;
    const msg = concat(new Uint8Array(NLMSG_HDRLEN), body);
    const v = new DataView(msg.buffer);
    v.setUint32(0, msg.length, true);
    v.setUint16(4, type, true);
    v.setUint16(6, flags | NlFlags.Request | NlFlags.Ack, true);
    v.setUint32(8, seq, true);
    const kernel = new Uint8Array(12);
    new DataView(kernel.buffer).setUint16(0, AF_NETLINK, true);
    if (lib.sendto(fd, msg, BigInt(msg.length), 0, kernel, kernel.length) < 0) {
      throw new SyscallError(`sendto(${what})`, lastErrno());
    }
    const replies: NlMessage[] = [];
    const buf = new Uint8Array(65536);
    for (;;) {
      const n = Number(lib.recv(fd, buf, BigInt(buf.length), MSG_DONTWAIT));
      if (n < 0) {
        const errno = lastErrno();
        const detail = errno === Errno.EAGAIN ? "the kernel did not answer" : undefined;
        throw new SyscallError(`recv(${what})`, errno, detail);
      }
      const dv = new DataView(buf.buffer, 0, n);
      for (let at = 0; at + NLMSG_HDRLEN <= n;) {
        const len = dv.getUint32(at, true);
        if (len < NLMSG_HDRLEN || at + len > n) break;
        const mtype = dv.getUint16(at + 4, true);
        const mflags = dv.getUint16(at + 6, true);
        const mseq = dv.getUint32(at + 8, true);
        const payload = buf.slice(at + NLMSG_HDRLEN, at + len);
        at += align4(len);
        if (mseq !== seq) continue;
        if (mtype === NLMSG_ERROR) {
          const error = new DataView(payload.buffer).getInt32(0, true);
          if (error === 0) return replies;
          throw new SyscallError(what, -error, extackMessage(payload, mflags));
        }
        if (mtype === NLMSG_DONE) return replies;
        replies.push({ type: mtype, payload });
      }
    }
  }
}

/** Whether `e` says the interface or the object on it no longer exists. */
export function isGone(e: unknown): boolean {
  return e instanceof SyscallError && (e.errno === Errno.ENODEV || e.errno === Errno.ENOENT);
}

/** The kernel's text reason in an error message's extended-ack attributes, if it gave one. */
function extackMessage(payload: Uint8Array, flags: number): string | undefined {
  if (!(flags & NLM_F_ACK_TLVS)) return undefined;
  const origLen = new DataView(payload.buffer).getUint32(4, true);
  const offset = 4 + (flags & NLM_F_CAPPED ? NLMSG_HDRLEN : align4(origLen));
  const msg = parseAttrs(payload, offset).get(NLMSGERR_ATTR_MSG);
  if (!msg) return undefined;
  const end = msg.indexOf(0);
  return new TextDecoder().decode(end < 0 ? msg : msg.subarray(0, end));
}
