// Creates netkit device pairs over rtnetlink: iproute2 6.1, the one on this machine, predates
// netkit (Linux 6.7) and cannot. One RTM_NEWLINK request, acked by the kernel inside sendto.
// Constants from include/uapi/linux/{netlink,rtnetlink,if_link}.h.
import {
  AF_NETLINK,
  closeSocket,
  LibcError,
  NETLINK_ROUTE,
  readable,
  recv,
  sendto,
  SOCK_RAW,
  socket,
} from "./_libc.ts";

const RTM_NEWLINK = 16;
const NLMSG_ERROR = 2;
const NLM_F_REQUEST = 0x1;
const NLM_F_ACK = 0x4;
const NLM_F_EXCL = 0x200;
const NLM_F_CREATE = 0x400;
const NLA_F_NESTED = 0x8000;
const IFLA_IFNAME = 3;
const IFLA_LINKINFO = 18;
const IFLA_NET_NS_FD = 28;
const IFLA_INFO_KIND = 1;
const IFLA_INFO_DATA = 2;
const IFLA_NETKIT_PEER_INFO = 1;
const IFLA_NETKIT_POLICY = 3;
const IFLA_NETKIT_PEER_POLICY = 4;
const IFLA_NETKIT_MODE = 5;
const IFINFOMSG_SIZE = 16;

/** `enum netkit_mode`. */
export const NetkitMode = { L2: 0, L3: 1 } as const;
/** `enum netkit_action` values usable as a device's default policy. */
export const NetkitPolicy = { Pass: 0, Drop: 2 } as const;

const align4 = (n: number) => (n + 3) & ~3;

/** A netlink attribute: header, payload, padding. */
function attr(type: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(align4(4 + payload.length));
  const v = new DataView(out.buffer);
  v.setUint16(0, 4 + payload.length, true);
  v.setUint16(2, type, true);
  out.set(payload, 4);
  return out;
}

const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};
const u32 = (x: number) => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, x >>> 0, true);
  return b;
};
const str = (s: string) => new TextEncoder().encode(s + "\0");
const nest = (type: number, ...parts: Uint8Array[]) => attr(type | NLA_F_NESTED, concat(...parts));

/** Options of {@linkcode createNetkit}. */
export interface NetkitPairOptions {
  /** The primary device's name. */
  primary: string;
  /** The peer device's name. */
  peer: string;
  mode?: number;
  policy?: number;
  peerPolicy?: number;
  /** An fd of the network namespace the peer goes to (default: the caller's). */
  peerNetnsFd?: number;
}

/** Options of {@linkcode createVeth}. */
export type VethPairOptions = Pick<NetkitPairOptions, "primary" | "peer" | "peerNetnsFd">;

const VETH_INFO_PEER = 1;

/** The peer's ifinfomsg and attributes, as both VETH_INFO_PEER and IFLA_NETKIT_PEER_INFO hold. */
function peerInfo(o: VethPairOptions): Uint8Array {
  return concat(
    new Uint8Array(IFINFOMSG_SIZE), // AF_UNSPEC, no index, no flags
    attr(IFLA_IFNAME, str(o.peer)),
    ...(o.peerNetnsFd !== undefined ? [attr(IFLA_NET_NS_FD, u32(o.peerNetnsFd))] : []),
  );
}

/** An RTM_NEWLINK request for a device pair of `kind` with `data` as IFLA_INFO_DATA. */
function newLinkRequest(kind: string, name: string, data: Uint8Array[], seq: number): Uint8Array {
  const body = concat(
    new Uint8Array(IFINFOMSG_SIZE),
    attr(IFLA_IFNAME, str(name)),
    nest(IFLA_LINKINFO, attr(IFLA_INFO_KIND, str(kind)), nest(IFLA_INFO_DATA, ...data)),
  );
  const msg = concat(new Uint8Array(16), body);
  const v = new DataView(msg.buffer);
  v.setUint32(0, msg.length, true);
  v.setUint16(4, RTM_NEWLINK, true);
  v.setUint16(6, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, true);
  v.setUint32(8, seq, true);
  return msg;
}

/** The RTM_NEWLINK request that creates a netkit pair. */
export function netkitRequest(o: NetkitPairOptions, seq = 1): Uint8Array {
  return newLinkRequest("netkit", o.primary, [
    attr(IFLA_NETKIT_MODE, u32(o.mode ?? NetkitMode.L3)),
    attr(IFLA_NETKIT_POLICY, u32(o.policy ?? NetkitPolicy.Pass)),
    attr(IFLA_NETKIT_PEER_POLICY, u32(o.peerPolicy ?? NetkitPolicy.Pass)),
    attr(IFLA_NETKIT_PEER_INFO, peerInfo(o)),
  ], seq);
}

/** The RTM_NEWLINK request that creates a veth pair: the same framing, a kind iproute2 knows. */
export function vethRequest(o: VethPairOptions, seq = 1): Uint8Array {
  return newLinkRequest("veth", o.primary, [attr(VETH_INFO_PEER, peerInfo(o))], seq);
}

/**
 * Creates a netkit pair in the caller's network namespace (the peer in `peerNetnsFd`'s when
 * given). Throws a LibcError carrying the kernel's errno when it refuses.
 */
export function createNetkit(o: NetkitPairOptions): void {
  request(netkitRequest(o, SEQ), "RTM_NEWLINK netkit");
}

/** Creates a veth pair, like `ip link add … type veth peer …`. */
export function createVeth(o: VethPairOptions): void {
  request(vethRequest(o, SEQ), "RTM_NEWLINK veth");
}

const SEQ = 0x6e6b; // "nk"

/** Sends one request and checks its ack. */
function request(msg: Uint8Array, what: string): void {
  const fd = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
  try {
    const kernel = new Uint8Array(12);
    new DataView(kernel.buffer).setUint16(0, AF_NETLINK, true);
    sendto(fd, msg, kernel);
    if (!readable(fd, 30_000)) throw new Error("No rtnetlink answer to RTM_NEWLINK");
    const reply = recv(fd);
    const v = new DataView(reply.buffer, reply.byteOffset, reply.byteLength);
    if (reply.length < 20 || v.getUint16(4, true) !== NLMSG_ERROR || v.getUint32(8, true) !== SEQ) {
      throw new Error(`Unexpected rtnetlink reply of ${reply.length} bytes`);
    }
    const error = v.getInt32(16, true);
    if (error !== 0) throw new LibcError(what, -error);
  } finally {
    closeSocket(fd);
  }
}
