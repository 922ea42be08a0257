/**
 * XDP attached through rtnetlink (`RTM_SETLINK` with `IFLA_XDP`), as `ip link set dev X xdp`
 * and libbpf's `bpf_xdp_attach` do: the only way before XDP links (Linux 5.9). The program
 * is a property of the interface, not a bpf_link: {@linkcode NetlinkXDPLink} removes it on
 * close only if it is still the one it attached (`IFLA_XDP_EXPECTED_FD`, Linux 5.7).
 *
 * @module
 */

import { NotSupportedError } from "../errors.ts";
import { FD } from "../_internal/fd.ts";
import { dupFd } from "../ffi.ts";
import type { Program } from "../prog/program.ts";
import { ProgramType, programTypeName } from "../prog/program_type.ts";
import { refuseStructuredClone } from "../_internal/clone_guard.ts";
import { concat, isGone, nlAttr, nlNest, RtNetlink, u32 } from "./_netlink.ts";
import type { Link, LinkInfo, LinkUpdateOptions } from "./link.ts";

const RTM_SETLINK = 19;
const IFLA_XDP = 43;
const IFLA_XDP_FD = 1;
const IFLA_XDP_FLAGS = 3;
const IFLA_XDP_EXPECTED_FD = 8;
/** Fail with EBUSY when the interface has a program already, as an XDP link does. */
const XDP_FLAGS_UPDATE_IF_NOEXIST = 1 << 0;
/** Replace only the program `IFLA_XDP_EXPECTED_FD` names. */
const XDP_FLAGS_REPLACE = 1 << 4;
const IFINFOMSG_SIZE = 16;

/** Sets the XDP program of `ifindex` to `progFd` (-1: none) with `flags`. */
function setXdp(
  nl: RtNetlink,
  ifindex: number,
  progFd: number,
  flags: number,
  expectedFd: number | undefined,
  what: string,
): void {
  const ifinfo = new Uint8Array(IFINFOMSG_SIZE); // AF_UNSPEC, no type, flags or change mask
  new DataView(ifinfo.buffer).setInt32(4, ifindex, true);
  nl.request(
    RTM_SETLINK,
    0,
    concat(
      ifinfo,
      nlNest(
        IFLA_XDP,
        nlAttr(IFLA_XDP_FD, u32(progFd)),
        nlAttr(IFLA_XDP_FLAGS, u32(flags)),
        ...(expectedFd === undefined ? [] : [nlAttr(IFLA_XDP_EXPECTED_FD, u32(expectedFd))]),
      ),
    ),
    what,
  );
}

/**
 * An XDP program set on an interface through netlink. It holds a duplicate of the program's
 * fd (so that close can name the program it expects to remove) and its netlink socket (so
 * that close acts in the network namespace where it attached).
 */
export class NetlinkXDPLink implements Link {
  readonly #nl: RtNetlink;
  #program: FD | undefined;
  /** The interface's index. */
  readonly ifindex: number;
  /** The `XDP_FLAGS_*` mode it was attached with. */
  readonly mode: number;

  private constructor(nl: RtNetlink, program: FD, ifindex: number, mode: number) {
    this.#nl = nl;
    this.#program = program;
    this.ifindex = ifindex;
    this.mode = mode;
    refuseStructuredClone(
      this,
      "NetlinkXDPLink",
      "attach the program in the worker (the attachment is kept by this object's netlink socket)",
    );
  }

  /** @internal Sets `program` on `ifindex`, failing with EBUSY if one is there. */
  static attach(program: Program, ifindex: number, mode: number): NetlinkXDPLink {
    const nl = new RtNetlink();
    try {
      setXdp(
        nl,
        ifindex,
        program.fd,
        mode | XDP_FLAGS_UPDATE_IF_NOEXIST,
        undefined,
        "RTM_SETLINK xdp",
      );
      return new NetlinkXDPLink(nl, new FD(dupFd(program.fd), "Program"), ifindex, mode);
    } catch (e) {
      nl.close();
      throw e;
    }
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#nl.closed;
  }

  /** Removes the program (if it is still the one attached here). Safe to call twice. */
  close(): void {
    if (this.#nl.closed) return;
    try {
      this.detach();
    } catch (e) {
      // The interface (and with it the program) is gone already: nothing left to remove.
      if (!isGone(e)) throw e;
    } finally {
      this.#nl.close();
    }
  }

  /** Same as {@linkcode NetlinkXDPLink.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Removes the program from the interface and keeps this object. */
  detach(): void {
    const current = this.#program;
    if (current === undefined) return;
    setXdp(
      this.#nl,
      this.ifindex,
      -1,
      this.mode | XDP_FLAGS_REPLACE,
      current.raw,
      "RTM_SETLINK xdp (remove)",
    );
    this.#program = undefined;
    current.close();
  }

  /**
   * Replaces the program atomically, only if the interface holds `expected` (default: the
   * program this link attached).
   */
  update(program: Program, options?: LinkUpdateOptions): void {
    if (program.type !== ProgramType.XDP) {
      throw new TypeError(`Cannot attach ${programTypeName(program.type)} as XDP`);
    }
    const current = this.#program;
    if (current === undefined) throw new Error("The XDP program was detached");
    const next = new FD(dupFd(program.fd), "Program");
    try {
      setXdp(
        this.#nl,
        this.ifindex,
        program.fd,
        this.mode | XDP_FLAGS_REPLACE,
        options?.expected?.fd ?? current.raw,
        "RTM_SETLINK xdp (replace)",
      );
    } catch (e) {
      next.close();
      throw e;
    }
    this.#program = next;
    current.close();
  }

  /** An XDP program set through netlink is not a bpf object and cannot be pinned. */
  pin(_path: string): void {
    throw new NotSupportedError("pinning XDP attached through netlink", "5.9", "use an XDP link");
  }

  /** An XDP program set through netlink is not a bpf object and cannot be pinned. */
  unpin(): void {
    throw new NotSupportedError("pinning XDP attached through netlink", "5.9", "use an XDP link");
  }

  /** Not a bpf_link: the kernel has no link info for it. */
  info(): LinkInfo {
    throw new NotSupportedError(
      "info of XDP attached through netlink",
      "5.9",
      "it is not a bpf_link; its ifindex and mode are on the NetlinkXDPLink",
    );
  }
}
