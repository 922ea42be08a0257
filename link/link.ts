/**
 * The `Link` interface and {@linkcode RawLink}, the owner of one kernel bpf_link: pin, update,
 * detach and info through the bpf() link commands.
 *
 * @module
 */

import { allocBuffer, Attr, bpf, BpfCmd, bpfErrno, bpfError } from "../ffi.ts";
import { FD } from "../_internal/fd.ts";
import { pinFd, unpinPath } from "../_internal/pin.ts";
import { handOverHint, refuseStructuredClone } from "../_internal/clone_guard.ts";
import { Errno, NotSupportedError, SyscallError } from "../errors.ts";
import type { Program } from "../prog/program.ts";
import {
  decodeLinkDetails,
  INFO_SIZE,
  type InfoBuffer,
  type LinkDetails,
  linkInfoBuffers,
} from "./_link_info.ts";
import { type LinkType, linkTypeName } from "./link_type.ts";

/** What {@linkcode Link.info} returns: the kernel's `struct bpf_link_info`, decoded. */
export interface LinkInfo {
  /** The link type. */
  type: LinkType;
  /** The link's id (what `bpftool link show` prints). */
  id: number;
  /** The id of the attached program. */
  programId: number;
  /** Fields specific to the link type. */
  details: LinkDetails;
}

/** Options of {@linkcode Link.update}. */
export interface LinkUpdateOptions {
  /** Replace only if this program is the one attached now (`BPF_F_REPLACE`). */
  expected?: Program;
}

/**
 * A program attached to a hook. Closing the link detaches the program unless the link is
 * pinned. Links that predate bpf_link (perf event + ioctl, BPF_PROG_ATTACH) implement the
 * same interface; what they cannot do throws {@linkcode NotSupportedError}.
 */
export interface Link extends Disposable {
  /** Whether `close()` was called. */
  readonly closed: boolean;
  /** Releases the link: detaches the program unless the link is pinned. Safe to call twice. */
  close(): void;
  /** Pins the link at `path` on a bpffs, so that it outlives this process. */
  pin(path: string): void;
  /** Removes the pin made by {@linkcode Link.pin} or found by `loadPinnedLink`. */
  unpin(): void;
  /** Atomically replaces the attached program (`BPF_LINK_UPDATE`). */
  update(program: Program, options?: LinkUpdateOptions): void;
  /** Detaches the program while keeping the link object (`BPF_LINK_DETACH`). */
  detach(): void;
  /** The kernel's description of the link (`BPF_OBJ_GET_INFO_BY_FD`). */
  info(): LinkInfo;
}

const BPF_F_REPLACE = 1 << 2;

/** Turns EOPNOTSUPP/EINVAL from a link command into an error naming what the link lacks. */
export function linkCommandError(
  cmd: number,
  errno: number,
  what: string,
  type?: number,
  reason?: string,
): Error {
  if (errno === Errno.EOPNOTSUPP || errno === Errno.ENOTSUPP) {
    return new NotSupportedError(
      `${what} of ${type === undefined ? "this link" : linkTypeName(type)}`,
      undefined,
      undefined,
      { cause: bpfError(cmd, errno) },
    );
  }
  return bpfError(cmd, errno, reason);
}

/** What EPERM from BPF_LINK_UPDATE means when the caller named what it expects to replace. */
const EXPECTED_MISMATCH = "the link does not hold the expected program or map (BPF_F_REPLACE)";

/**
 * BPF_LINK_UPDATE: link `linkFd` gets the program (or struct_ops map) `newFd`, only if it
 * holds `expectedFd` when that is given (`BPF_F_REPLACE`).
 */
export function linkUpdate(linkFd: number, newFd: number, expectedFd?: number): void {
  const attr = new Attr().u32(0, linkFd).u32(4, newFd);
  if (expectedFd !== undefined) attr.u32(8, BPF_F_REPLACE).u32(12, expectedFd);
  const r = bpfErrno(BpfCmd.LINK_UPDATE, attr);
  if (r < 0) {
    const reason = expectedFd !== undefined ? EXPECTED_MISMATCH : undefined;
    throw linkCommandError(BpfCmd.LINK_UPDATE, -r, "BPF_LINK_UPDATE", undefined, reason);
  }
}

/**
 * A kernel bpf_link, owned through its file descriptor. Every attach function that gets a
 * bpf_link back returns a subclass of this named for the kernel's link type.
 */
export class RawLink implements Link {
  readonly #fd: FD;
  #pinnedAt: string | undefined;

  /** Takes ownership of `fd`, a bpf_link file descriptor. */
  constructor(fd: number | FD, pinnedAt?: string) {
    this.#fd = typeof fd === "number" ? new FD(fd, "Link") : fd;
    this.#pinnedAt = pinnedAt;
    refuseStructuredClone(this, "Link", handOverHint("link.releaseFd()", "linkFromFd"));
  }

  /** The link's file descriptor (throws {@linkcode ClosedError} after close). */
  get fd(): number {
    return this.#fd.raw;
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#fd.closed;
  }

  /** Where the link is pinned, if this object pinned it or was loaded from a pin. */
  get pinnedAt(): string | undefined {
    return this.#pinnedAt;
  }

  /** Closes the link fd; the program stays attached only while a pin holds the link. */
  close(): void {
    this.#fd.close();
  }

  /** Same as {@linkcode RawLink.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /**
   * Gives up this object's fd without closing it (the program stays attached) and returns
   * its number, for a new owner: a Worker (which shares the process's descriptors) that
   * opens it with `linkFromFd`. This object is closed afterwards. A link itself cannot be
   * posted to a Worker: posting one throws a TypeError.
   */
  releaseFd(): number {
    return this.#fd.release();
  }

  /** Pins the link at `path` (BPF_OBJ_PIN). */
  pin(path: string): void {
    pinFd(this.fd, path, "link");
    this.#pinnedAt = path;
  }

  /**
   * Removes the pin file; the link stays attached while this object is open. A pin already
   * gone is fine; whatever else now sits at that path (not a pinned link) is a TypeError
   * and stays.
   */
  unpin(): void {
    if (this.#pinnedAt === undefined) return;
    try {
      unpinPath(this.#pinnedAt, "link");
    } catch (e) {
      if (!(e instanceof SyscallError && e.errno === Errno.ENOENT)) throw e;
    }
    this.#pinnedAt = undefined;
  }

  /** Replaces the program with BPF_LINK_UPDATE, atomically. */
  update(program: Program, options: LinkUpdateOptions = {}): void {
    linkUpdate(this.fd, program.fd, options.expected?.fd);
  }

  /** Detaches the program (BPF_LINK_DETACH); the fd stays open until `close()`. */
  detach(): void {
    const attr = new Attr().u32(0, this.fd);
    const r = bpfErrno(BpfCmd.LINK_DETACH, attr);
    if (r < 0) throw linkCommandError(BpfCmd.LINK_DETACH, -r, "BPF_LINK_DETACH");
  }

  /** The kernel's description of the link, decoded for its type. */
  info(): LinkInfo {
    return linkInfoOf(this.fd);
  }
}

/**
 * BPF_OBJ_GET_INFO_BY_FD of a link fd, decoded: a first call learns the type (and the sizes
 * of arrays), a second fills the names and arrays that type reports, if any.
 */
export function linkInfoOf(fd: number): LinkInfo {
  const buf = allocBuffer(INFO_SIZE);
  const view = new DataView(buf.buffer);
  bpf(BpfCmd.OBJ_GET_INFO_BY_FD, new Attr().u32(0, fd).u32(4, buf.length).pointer(8, buf));
  const type = view.getUint32(0, true) as LinkType;
  const wanted = linkInfoBuffers(type, view);
  const buffers: Partial<Record<InfoBuffer["key"], Uint8Array>> = {};
  if (wanted.length > 0) {
    buf.fill(0);
    // The info struct holds the buffers' addresses; this attr keeps them referenced.
    const holder = new Attr(8 * wanted.length);
    for (const [i, want] of wanted.entries()) {
      const out = allocBuffer(want.bytes);
      buffers[want.key] = out;
      holder.pointer(i * 8, out);
      view.setBigUint64(want.pointer, holder.getU64(i * 8), true);
      if (want.lengthAt !== undefined) view.setUint32(want.lengthAt, want.length, true);
    }
    bpf(BpfCmd.OBJ_GET_INFO_BY_FD, new Attr().u32(0, fd).u32(4, buf.length).pointer(8, buf));
    holder.reset();
  }
  return {
    type,
    id: view.getUint32(4, true),
    programId: view.getUint32(8, true),
    details: decodeLinkDetails(type, view, buffers),
  };
}
