// Sockets through libc for the link tests: Deno's own socket API hides the fds, cannot set
// TCP_CONGESTION and cannot open netlink sockets. Every call here is non-blocking or
// completes at once (loopback, netlink requests the kernel answers inside sendto), so the
// event loop never waits on the kernel.

import { errnoName } from "../../errors.ts";

const lib = Deno.dlopen("libc.so.6", {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  socketpair: { parameters: ["i32", "i32", "i32", "buffer"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  listen: { parameters: ["i32", "i32"], result: "i32" },
  connect: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  accept: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  send: { parameters: ["i32", "buffer", "usize", "i32"], result: "i64" },
  recv: { parameters: ["i32", "buffer", "usize", "i32"], result: "i64" },
  sendto: { parameters: ["i32", "buffer", "usize", "i32", "buffer", "u32"], result: "i64" },
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
});
const errnoCell = new Int32Array(
  Deno.UnsafePointerView.getArrayBuffer(lib.symbols.__errno_location()!, 4),
);

export const AF_INET = 2;
export const AF_NETLINK = 16;
export const SOCK_STREAM = 1;
export const SOCK_RAW = 3;
export const SOCK_CLOEXEC = 0o2000000;
export const NETLINK_ROUTE = 0;
export const IPPROTO_TCP = 6;
export const SOL_SOCKET = 1;
export const SO_RCVTIMEO = 20;
export const TCP_CONGESTION = 13;
export const MSG_DONTWAIT = 0x40;
const POLLIN = 1;

/** An errno from a libc call, with its number. */
export class LibcError extends Error {
  constructor(readonly call: string, readonly errno: number) {
    super(`${call} failed: ${errnoName(errno)}`);
  }
}

function check<T extends number | bigint>(call: string, r: T): T {
  if (Number(r) < 0) throw new LibcError(call, errnoCell[0]);
  return r;
}

export function socket(domain: number, type: number, protocol: number): number {
  return check("socket", lib.symbols.socket(domain, type | SOCK_CLOEXEC, protocol));
}

export function closeSocket(fd: number): void {
  lib.symbols.close(fd);
}

export function sendto(fd: number, data: Uint8Array, addr: Uint8Array): number {
  return Number(
    check("sendto", lib.symbols.sendto(fd, data, BigInt(data.length), 0, addr, addr.length)),
  );
}

/** Bytes sent, or the errno when the send failed. */
export function send(fd: number, data: Uint8Array): number | { errno: number } {
  const r = Number(lib.symbols.send(fd, data, BigInt(data.length), MSG_DONTWAIT));
  return r < 0 ? { errno: errnoCell[0] } : r;
}

/** Waits up to `timeoutMs` for `fd` to be readable; true when it is. */
export function readable(fd: number, timeoutMs: number): boolean {
  const p = new Uint8Array(8);
  const v = new DataView(p.buffer);
  v.setInt32(0, fd, true);
  v.setInt16(4, POLLIN, true);
  return check("poll", lib.symbols.poll(p, 1n, timeoutMs)) > 0;
}

export const AF_UNIX = 1;
export const SOCK_DGRAM = 2;

/** A connected pair of sockets (socketpair(2)), closed together. */
export function socketPair(domain: number, type: number): [number, number] & Disposable {
  const fds = new Int32Array(2);
  check(
    "socketpair",
    lib.symbols.socketpair(domain, type | SOCK_CLOEXEC, 0, new Uint8Array(fds.buffer)),
  );
  const pair = [fds[0], fds[1]] as [number, number] & Disposable;
  pair[Symbol.dispose] = () => {
    closeSocket(fds[0]);
    closeSocket(fds[1]);
  };
  return pair;
}

/** Reads what is there without waiting; an empty array when nothing is. */
export function recv(fd: number, max = 65536): Uint8Array {
  const buf = new Uint8Array(max);
  const r = Number(lib.symbols.recv(fd, buf, BigInt(buf.length), MSG_DONTWAIT));
  if (r < 0) {
    const errno = errnoCell[0];
    if (errno === 11) return new Uint8Array(0); // EAGAIN
    throw new LibcError("recv", errno);
  }
  return buf.subarray(0, r);
}

function sockaddrIn(port: number): Uint8Array {
  const a = new Uint8Array(16);
  const v = new DataView(a.buffer);
  v.setUint16(0, AF_INET, true);
  v.setUint16(2, port, false);
  a.set([127, 0, 0, 1], 4);
  return a;
}

/** Sets a string socket option (such as TCP_CONGESTION). */
export function setStringOpt(fd: number, level: number, name: number, value: string): void {
  const b = new TextEncoder().encode(value);
  check("setsockopt", lib.symbols.setsockopt(fd, level, name, b, b.length));
}

/** Reads a string socket option. */
export function getStringOpt(fd: number, level: number, name: number): string {
  const b = new Uint8Array(64);
  const len = new Uint32Array([b.length]);
  check("getsockopt", lib.symbols.getsockopt(fd, level, name, b, new Uint8Array(len.buffer)));
  const end = b.indexOf(0);
  return new TextDecoder().decode(b.subarray(0, end < 0 ? len[0] : Math.min(end, len[0])));
}

/** A connected loopback TCP pair and its listener, closed together. */
export interface TcpPair extends Disposable {
  client: number;
  server: number;
  listener: number;
}

/**
 * Makes a listener on an ephemeral 127.0.0.1 port, connects a client to it and accepts.
 * `beforeConnect` runs on the client socket first (to set TCP_CONGESTION, say).
 */
export function tcpPair(beforeConnect?: (client: number) => void): TcpPair {
  const fds: number[] = [];
  const closeAll = () => {
    for (const fd of fds.splice(0)) closeSocket(fd);
  };
  try {
    const listener = socket(AF_INET, SOCK_STREAM, 0);
    fds.push(listener);
    check("bind", lib.symbols.bind(listener, sockaddrIn(0), 16));
    check("listen", lib.symbols.listen(listener, 4));
    const addr = new Uint8Array(16);
    check("getsockname", lib.symbols.getsockname(listener, addr, new Uint8Array([16, 0, 0, 0])));
    const port = new DataView(addr.buffer).getUint16(2, false);
    const client = socket(AF_INET, SOCK_STREAM, 0);
    fds.push(client);
    beforeConnect?.(client);
    // Loopback connects complete within the call: the handshake needs no other thread.
    check("connect", lib.symbols.connect(client, sockaddrIn(port), 16));
    if (!readable(listener, 30_000)) throw new Error("No connection to accept");
    const server = check("accept", lib.symbols.accept(listener, null, null));
    fds.push(server);
    return { client, server, listener, [Symbol.dispose]: closeAll };
  } catch (e) {
    closeAll();
    throw e;
  }
}
