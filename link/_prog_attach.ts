/**
 * BPF_PROG_ATTACH attachments behind the Link interface: the way cgroup, sockmap, flow
 * dissector and other hooks took programs before bpf_link.
 *
 * @module
 */

import { refuseStructuredClone } from "../_internal/clone_guard.ts";
import { bpf, BpfCmd, dupFd } from "../ffi.ts";
import { FD } from "../_internal/fd.ts";
import { NotSupportedError } from "../errors.ts";
import type { AttachType } from "../prog/attach_type.ts";
import type { Program } from "../prog/program.ts";
import type { Link, LinkInfo } from "./link.ts";
import { progAttachAttr } from "./raw_attach.ts";

/** `BPF_F_*` flags of BPF_PROG_ATTACH. */
export const ProgAttachFlags = {
  AllowOverride: 1 << 0,
  AllowMulti: 1 << 1,
  Replace: 1 << 2,
} as const;

/**
 * A program attached with BPF_PROG_ATTACH. Closing it detaches the program (the kernel
 * would not); it cannot be pinned or asked for info.
 */
export class ProgAttachLink implements Link {
  readonly #target: FD;
  #program: FD;
  /** The hook the program is attached to. */
  readonly attachType: AttachType;
  /** The {@linkcode ProgAttachFlags} it was attached with. */
  readonly flags: number;

  /** Keeps duplicates of `targetFd` and the program fd, to detach exactly this program. */
  constructor(targetFd: number, program: Program, attachType: AttachType, flags: number) {
    this.#target = new FD(dupFd(targetFd, 1), "attach target");
    this.#program = new FD(dupFd(program.fd, 1), "Program");
    this.attachType = attachType;
    this.flags = flags;
    refuseStructuredClone(
      this,
      "ProgAttachLink",
      "it detaches when its owner closes it: keep it in the thread that made it",
    );
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#target.closed;
  }

  /** Detaches the program, then closes the fds held. */
  close(): void {
    if (this.closed) return;
    try {
      this.detach();
    } finally {
      this.#target.close();
      this.#program.close();
    }
  }

  /** Same as close, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Not possible for BPF_PROG_ATTACH attachments. */
  pin(_path: string): void {
    throw new NotSupportedError("pinning a BPF_PROG_ATTACH attachment");
  }

  /** Nothing is pinned. */
  unpin(): void {}

  /** Replaces the program (with `BPF_F_REPLACE` when attached with AllowMulti). */
  update(program: Program): void {
    const multi = (this.flags & ProgAttachFlags.AllowMulti) !== 0;
    bpf(
      BpfCmd.PROG_ATTACH,
      progAttachAttr(
        this.#target.raw,
        program.fd,
        this.attachType,
        multi ? this.flags | ProgAttachFlags.Replace : this.flags,
        multi ? { replaceFd: this.#program.raw } : {},
      ),
    );
    this.#program.close();
    this.#program = new FD(dupFd(program.fd, 1), "Program");
  }

  /** BPF_PROG_DETACH of this program. */
  detach(): void {
    bpf(
      BpfCmd.PROG_DETACH,
      progAttachAttr(this.#target.raw, this.#program.raw, this.attachType, 0),
    );
  }

  /** Not possible for BPF_PROG_ATTACH attachments. */
  info(): LinkInfo {
    throw new NotSupportedError("info of a BPF_PROG_ATTACH attachment");
  }
}

/** BPF_PROG_ATTACH of `program` to `targetFd`. */
export function progAttach(
  targetFd: number,
  program: Program,
  attachType: AttachType,
  flags: number,
): ProgAttachLink {
  bpf(BpfCmd.PROG_ATTACH, progAttachAttr(targetFd, program.fd, attachType, flags));
  return new ProgAttachLink(targetFd, program, attachType, flags);
}
