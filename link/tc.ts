/**
 * Legacy tc attachments: a `sched_cls` program as a `cls_bpf` filter in direct-action mode on
 * the `clsact` qdisc of an interface, made over rtnetlink. This is how tc programs attach on
 * kernels without tcx (before 6.6), and what `tc filter add … bpf da` and libbpf's
 * `bpf_tc_attach` make. The filter is not a bpf_link: {@linkcode TCLink} owns it by its
 * interface, direction, priority and handle, and deletes it on close.
 *
 * @module
 */

import { NotSupportedError } from "../errors.ts";
import type { Program } from "../prog/program.ts";
import { ProgramType, programTypeName } from "../prog/program_type.ts";
import { choices, enumOption } from "../_internal/enum_option.ts";
import { refuseStructuredClone } from "../_internal/clone_guard.ts";
import { ifindexOf, type NetInterface } from "./_netdev.ts";
import { concat, isGone, nlAttr, NlFlags, nlNest, RtNetlink, str, u32 } from "./_netlink.ts";
import type { Link, LinkInfo, LinkUpdateOptions } from "./link.ts";

const RTM_NEWQDISC = 36;
const RTM_NEWTFILTER = 44;
const RTM_DELTFILTER = 45;
const TCA_KIND = 1;
const TCA_OPTIONS = 2;
const TCA_BPF_FD = 6;
const TCA_BPF_NAME = 7;
const TCA_BPF_FLAGS = 8;
const TCA_BPF_FLAG_ACT_DIRECT = 1;
/** The clsact qdisc's handle and parent (`TC_H_CLSACT`, the same value as `TC_H_INGRESS`). */
const TC_H_CLSACT = 0xfffffff1;
const TC_H_MIN_INGRESS = 0xfff2;
const TC_H_MIN_EGRESS = 0xfff3;
/** `htons(ETH_P_ALL)`: the filter sees every protocol. */
const ETH_P_ALL_BE = 0x0300;
const TCMSG_SIZE = 20;

/** Options of {@linkcode attachTC}. */
export interface TCOptions {
  /** The interface, by index or name. */
  interface: NetInterface;
  /** Which hook of the clsact qdisc. */
  direction: "ingress" | "egress";
  /**
   * The filter's priority, 1-65535: lower runs first. Default: the kernel picks one below
   * the filters already there.
   */
  priority?: number;
  /** The filter's handle, nonzero (default: the kernel picks one). */
  handle?: number;
}

/** The `struct tcmsg` addressing a filter on the clsact hook of `ifindex`. */
function tcmsg(ifindex: number, handle: number, parent: number, info: number): Uint8Array {
  const b = new Uint8Array(TCMSG_SIZE); // tcm_family AF_UNSPEC and padding: zeros
  const v = new DataView(b.buffer);
  v.setInt32(4, ifindex, true);
  v.setUint32(8, handle >>> 0, true);
  v.setUint32(12, parent >>> 0, true);
  v.setUint32(16, info >>> 0, true);
  return b;
}

/** The cls_bpf options for `program`: its fd, its name, direct action. */
function bpfOptions(program: Program): Uint8Array {
  return concat(
    nlAttr(TCA_KIND, str("bpf")),
    nlNest(
      TCA_OPTIONS,
      nlAttr(TCA_BPF_FD, u32(program.fd)),
      nlAttr(TCA_BPF_NAME, str(program.name || "ebpf")),
      nlAttr(TCA_BPF_FLAGS, u32(TCA_BPF_FLAG_ACT_DIRECT)),
    ),
  );
}

function checkRange(value: number | undefined, what: string, max: number): number {
  if (value === undefined) return 0;
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new RangeError(`Invalid tc ${what}: ${value} (expected 1-${max})`);
  }
  return value;
}

/**
 * A `cls_bpf` filter on a clsact hook. Closing it deletes the filter; the clsact qdisc stays
 * (other filters may use it; `tc qdisc del dev X clsact` removes it). It keeps the netlink
 * socket it was made with, so it deletes the filter in the network namespace where it was
 * made.
 */
export class TCLink implements Link {
  readonly #nl: RtNetlink;
  #attached = true;
  /** The interface's index. */
  readonly ifindex: number;
  /** The hook. */
  readonly direction: "ingress" | "egress";
  /** The filter's priority (the one the kernel picked when none was asked for). */
  readonly priority: number;
  /** The filter's handle (the one the kernel picked when none was asked for). */
  readonly handle: number;

  /** Wraps a filter made on `nl`; use {@linkcode attachTC}. */
  private constructor(
    nl: RtNetlink,
    ifindex: number,
    direction: "ingress" | "egress",
    priority: number,
    handle: number,
  ) {
    this.#nl = nl;
    this.ifindex = ifindex;
    this.direction = direction;
    this.priority = priority;
    this.handle = handle;
    refuseStructuredClone(
      this,
      "TCLink",
      "attach the program in the worker with `attachTC` (the filter is kept by this object's netlink socket)",
    );
  }

  /** @internal Adds the filter and returns its link. */
  static attach(program: Program, options: TCOptions): TCLink {
    if (program.type !== ProgramType.SchedCLS) {
      throw new TypeError(
        `Cannot attach ${programTypeName(program.type)} to tc: use a sched_cls program`,
      );
    }
    const direction = enumOption(options.direction, "tc direction", choices("ingress", "egress"));
    const priority = checkRange(options.priority, "priority", 0xffff);
    const handle = checkRange(options.handle, "handle", 0xffffffff);
    const ifindex = ifindexOf(options.interface);
    const nl = new RtNetlink();
    try {
      // The clsact qdisc, unless the interface has it already (EEXIST: keep that one).
      try {
        nl.request(
          RTM_NEWQDISC,
          NlFlags.Create | NlFlags.Excl,
          concat(tcmsg(ifindex, 0xffff0000, TC_H_CLSACT, 0), nlAttr(TCA_KIND, str("clsact"))),
          "RTM_NEWQDISC clsact",
        );
      } catch (e) {
        if (!(e instanceof Error && "code" in e && e.code === "EEXIST")) throw e;
      }
      const parent = 0xffff0000 | (direction === "ingress" ? TC_H_MIN_INGRESS : TC_H_MIN_EGRESS);
      const echoed = nl.request(
        RTM_NEWTFILTER,
        NlFlags.Create | NlFlags.Excl | NlFlags.Echo,
        concat(
          tcmsg(ifindex, handle, parent, (priority << 16) | ETH_P_ALL_BE),
          bpfOptions(program),
        ),
        "RTM_NEWTFILTER bpf",
      );
      // The echo is the filter as made: its handle and priority, picked by the kernel
      // when the caller left them out.
      const made = echoed.find((m) => m.type === RTM_NEWTFILTER);
      if (!made) throw new Error("The kernel did not echo the new tc filter");
      const v = new DataView(made.payload.buffer);
      return new TCLink(nl, ifindex, direction, v.getUint32(16, true) >>> 16, v.getUint32(8, true));
    } catch (e) {
      nl.close();
      throw e;
    }
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#nl.closed;
  }

  #filter(): Uint8Array {
    const parent = 0xffff0000 |
      (this.direction === "ingress" ? TC_H_MIN_INGRESS : TC_H_MIN_EGRESS);
    return tcmsg(this.ifindex, this.handle, parent, (this.priority << 16) | ETH_P_ALL_BE);
  }

  /** Deletes the filter, unless {@linkcode TCLink.detach} did. Safe to call twice. */
  close(): void {
    if (this.#nl.closed) return;
    try {
      if (this.#attached) this.detach();
    } catch (e) {
      // The interface (and with it the filter) is gone already: nothing left to remove.
      if (!isGone(e)) throw e;
    } finally {
      this.#nl.close();
    }
  }

  /** Same as {@linkcode TCLink.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Deletes the filter and keeps this object (closing it then does nothing more). */
  detach(): void {
    if (!this.#attached) return;
    this.#nl.request(
      RTM_DELTFILTER,
      0,
      concat(this.#filter(), nlAttr(TCA_KIND, str("bpf"))),
      "RTM_DELTFILTER bpf",
    );
    this.#attached = false;
  }

  /**
   * Replaces the filter's program in place (`NLM_F_REPLACE` at the same priority and
   * handle): packets see the old program or the new one, never neither.
   */
  update(program: Program, options?: LinkUpdateOptions): void {
    if (options?.expected !== undefined) {
      throw new NotSupportedError(
        "updating a legacy tc filter only if it holds an expected program",
        undefined,
        "netlink replaces without comparing; use tcx (Linux 6.6) for BPF_F_REPLACE",
      );
    }
    if (program.type !== ProgramType.SchedCLS) {
      throw new TypeError(`Cannot attach ${programTypeName(program.type)} to tc`);
    }
    if (!this.#attached) throw new Error("The tc filter was detached");
    this.#nl.request(
      RTM_NEWTFILTER,
      NlFlags.Replace,
      concat(this.#filter(), bpfOptions(program)),
      "RTM_NEWTFILTER bpf (replace)",
    );
  }

  /** Legacy tc filters are not bpf objects and cannot be pinned. */
  pin(_path: string): void {
    throw new NotSupportedError("pinning a legacy tc filter", "6.6", "attach with tcx instead");
  }

  /** Legacy tc filters are not bpf objects and cannot be pinned. */
  unpin(): void {
    throw new NotSupportedError("pinning a legacy tc filter", "6.6", "attach with tcx instead");
  }

  /** A legacy tc filter is not a bpf_link: the kernel has no link info for it. */
  info(): LinkInfo {
    throw new NotSupportedError(
      "info of a legacy tc filter",
      "6.6",
      "it is not a bpf_link; its ifindex, direction, priority and handle are on the TCLink",
    );
  }
}

/**
 * Attaches a `sched_cls` program as a direct-action `cls_bpf` filter on the clsact qdisc of
 * an interface (made when missing), the way tc programs attach on kernels without tcx
 * (before 6.6) — and on any kernel, beside tcx programs, for tools that manage tc filters.
 * {@linkcode attachTCX} does not fall back to this by itself: filters have other semantics
 * (priorities instead of anchors, no pinning, no owner when this process dies: a filter
 * outlives it); call this one when the tcx probe says the kernel lacks it:
 *
 * @example
 * ```ts ignore
 * using l = haveLinkFeature("tcx")
 *   ? attachTCX(prog, { interface: "eth0", direction: "ingress" })
 *   : attachTC(prog, { interface: "eth0", direction: "ingress", priority: 1 });
 * ```
 */
export function attachTC(program: Program, options: TCOptions): TCLink {
  return TCLink.attach(program, options);
}
