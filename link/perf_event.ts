/**
 * perf_event links (`BPF_LINK_TYPE_PERF_EVENT`): a program on a perf event, which is how
 * tracepoints, kprobes, uprobes and software/hardware events run programs. Kernels before
 * 5.15 have no such link; there the program is set with `PERF_EVENT_IOC_SET_BPF`.
 *
 * @module
 */

import { refuseStructuredClone } from "../_internal/clone_guard.ts";
import { Attr } from "../ffi.ts";
import { FD } from "../_internal/fd.ts";
import { Errno, NotSupportedError } from "../errors.ts";
import type { Program } from "../prog/program.ts";
import { AttachType } from "../prog/attach_type.ts";
import { ProgramType, programTypeName } from "../prog/program_type.ts";
import { LinkCreate, linkCreateErrno, linkCreateError } from "./_link_create.ts";
import { openPerfEvent, perfEventAttr, PerfIoc, perfIoctl, PerfType } from "./_perf_event.ts";
import { type Link, type LinkInfo, RawLink } from "./link.ts";
import { type LinkDetails, PerfEventKind } from "./_link_info.ts";

/**
 * What a perf event link runs on, in the form Linux 6.6+ reports in the link's info: kept
 * by the attach function so that `info()` says it on older kernels too.
 */
export type PerfEventTarget = Omit<Extract<LinkDetails, { kind: "perf_event" }>, "kind">;

export { PerfType } from "./_perf_event.ts";

/** Options shared by attach functions that run a program on a perf event. */
export interface PerfEventAttachOptions {
  /** A value the program reads with `bpf_get_attach_cookie` (needs bpf_link, Linux 5.15). */
  cookie?: bigint;
}

/** A program attached to a perf event through a bpf_link. Owns the perf event fd too. */
export class PerfEventLink extends RawLink {
  readonly #event: FD;
  readonly #cleanup: (() => void) | undefined;
  readonly #target: PerfEventTarget | undefined;

  /**
   * Takes ownership of the link fd, the perf event fd and a cleanup (tracefs events);
   * `target` is what the event is, for kernels whose link info does not say it.
   */
  constructor(linkFd: number, event: FD, cleanup?: () => void, target?: PerfEventTarget) {
    super(linkFd);
    this.#event = event;
    this.#cleanup = cleanup;
    this.#target = target;
  }

  /**
   * The kernel's description of the link. Kernels before 6.6 report no perf event details
   * (`perfEventType` 0); the details are then what this link was attached to (the kprobe
   * address, which only the kernel knows, stays 0).
   */
  override info(): LinkInfo {
    const info = super.info();
    const d = info.details;
    if (this.#target && d.kind === "perf_event" && d.perfEventType === PerfEventKind.Unspec) {
      return { ...info, details: { kind: "perf_event", ...this.#target } };
    }
    return info;
  }

  /**
   * Not possible: the link owns a perf event (and perhaps a tracefs event) besides its fd,
   * which a new owner could not close. Throws a TypeError.
   */
  override releaseFd(): number {
    throw new TypeError(
      "Cannot release the fd of a perf event link: it owns a perf event too; keep it in the " +
        "thread that made it",
    );
  }

  /** The perf event's file descriptor. */
  get perfEventFd(): number {
    return this.#event.raw;
  }

  /** Closes the link, then the perf event, then removes any tracefs event it made. */
  override close(): void {
    if (this.closed) return;
    super.close();
    this.#event.close();
    this.#cleanup?.();
  }
}

/**
 * A program set on a perf event with `PERF_EVENT_IOC_SET_BPF` (kernels without perf_event
 * links). It cannot be pinned, updated or asked for info: those throw NotSupportedError.
 */
export class PerfEventIoctlLink implements Link {
  readonly #event: FD;
  readonly #cleanup: (() => void) | undefined;

  /** Takes ownership of the perf event fd and a cleanup. */
  constructor(event: FD, cleanup?: () => void) {
    this.#event = event;
    this.#cleanup = cleanup;
    refuseStructuredClone(
      this,
      "PerfEventIoctlLink",
      "it detaches when its owner closes it: keep it in the thread that made it",
    );
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#event.closed;
  }

  /** The perf event's file descriptor. */
  get perfEventFd(): number {
    return this.#event.raw;
  }

  /** Disables and closes the perf event, detaching the program. */
  close(): void {
    if (this.#event.closed) return;
    this.#event.close();
    this.#cleanup?.();
  }

  /** Same as {@linkcode PerfEventIoctlLink.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Not possible without a bpf_link. */
  pin(_path: string): void {
    throw new NotSupportedError("pinning a perf event attached with ioctl", "5.15");
  }

  /** Nothing is pinned. */
  unpin(): void {}

  /** Not possible without a bpf_link. */
  update(_program: Program): void {
    throw new NotSupportedError("updating a perf event attached with ioctl", "5.15");
  }

  /** Disables the event (`PERF_EVENT_IOC_DISABLE`), which stops the program. */
  detach(): void {
    perfIoctl(this.#event.raw, PerfIoc.Disable);
  }

  /** Not possible without a bpf_link. */
  info(): LinkInfo {
    throw new NotSupportedError("info of a perf event attached with ioctl", "5.15");
  }
}

/**
 * Runs `program` on the perf event `event` (whose fd the result then owns): through a
 * bpf_link where the kernel has them, else through ioctl. `cleanup` runs after close.
 */
export function attachToPerfEvent(
  program: Program,
  event: FD,
  options: PerfEventAttachOptions = {},
  cleanup?: () => void,
  target?: Omit<PerfEventTarget, "cookie">,
): PerfEventLink | PerfEventIoctlLink {
  try {
    const attr = new Attr()
      .u32(LinkCreate.progFd, program.fd)
      .u32(LinkCreate.targetFd, event.raw)
      .u32(LinkCreate.attachType, AttachType.PerfEvent);
    if (options.cookie !== undefined) attr.u64(LinkCreate.union, options.cookie);
    const r = linkCreateErrno(attr);
    if (r >= 0) {
      const described = target && { ...target, cookie: options.cookie ?? 0n };
      return new PerfEventLink(r, event, cleanup, described);
    }
    // EINVAL: a kernel without perf_event links (before 5.15) rejects the attach type.
    if (-r !== Errno.EINVAL || options.cookie !== undefined) {
      throw linkCreateError(-r, `bpf_link for ${programTypeName(program.type)}`, "5.15");
    }
    perfIoctl(event.raw, PerfIoc.SetBpf, BigInt(program.fd));
    perfIoctl(event.raw, PerfIoc.Enable);
    return new PerfEventIoctlLink(event, cleanup);
  } catch (e) {
    event.close();
    cleanup?.();
    throw e;
  }
}

/** `PERF_COUNT_SW_*` software events. */
export const SoftwareEvent = {
  CpuClock: 0n,
  TaskClock: 1n,
  PageFaults: 2n,
  ContextSwitches: 3n,
  CpuMigrations: 4n,
  PageFaultsMin: 5n,
  PageFaultsMaj: 6n,
  AlignmentFaults: 7n,
  EmulationFaults: 8n,
  Dummy: 9n,
  BpfOutput: 10n,
  CgroupSwitches: 11n,
} as const;

/** `PERF_COUNT_HW_*` hardware events. */
export const HardwareEvent = {
  CpuCycles: 0n,
  Instructions: 1n,
  CacheReferences: 2n,
  CacheMisses: 3n,
  BranchInstructions: 4n,
  BranchMisses: 5n,
  BusCycles: 6n,
  StalledCyclesFrontend: 7n,
  StalledCyclesBackend: 8n,
  RefCpuCycles: 9n,
} as const;

/** Options of {@linkcode attachPerfEvent}. */
export interface PerfEventOptions extends PerfEventAttachOptions {
  /** `PerfType.Software`, `PerfType.Hardware`, or another PMU's type. */
  type: number;
  /** The event (`SoftwareEvent.*`, `HardwareEvent.*`, or a PMU config). */
  config: bigint;
  /** Run the program every `samplePeriod` events … */
  samplePeriod?: bigint;
  /** … or this many times a second (exclusive with samplePeriod). */
  frequency?: bigint;
  /** Process to watch (-1: every process, needs `cpu` ≥ 0). Default -1. */
  pid?: number;
  /** CPU to watch (-1: every CPU, needs `pid` ≥ 0). Default 0. */
  cpu?: number;
  /** Count child tasks created after the attach too. */
  inherit?: boolean;
}

/**
 * Opens a software or hardware perf event and runs a `BPF_PROG_TYPE_PERF_EVENT` program on
 * each sample. One event watches one (pid, cpu) pair, as perf_event_open(2) does.
 *
 * @example
 * ```ts ignore
 * using l = attachPerfEvent(prog, {
 *   type: PerfType.Software, config: SoftwareEvent.CpuClock, samplePeriod: 100_000n, pid: 0, cpu: -1,
 * });
 * ```
 */
export function attachPerfEvent(
  program: Program,
  options: PerfEventOptions,
): PerfEventLink | PerfEventIoctlLink {
  if (program.type !== ProgramType.PerfEvent) {
    throw new TypeError(
      `Cannot attach ${programTypeName(program.type)} to a perf event: use a perf_event program`,
    );
  }
  if (options.samplePeriod !== undefined && options.frequency !== undefined) {
    throw new TypeError("Give samplePeriod or frequency, not both");
  }
  // Open sets (any PMU's type and config): a misspelt member is undefined, not a number.
  if (!Number.isInteger(options.type) || options.type < 0) {
    throw new TypeError(
      `Invalid perf event type: ${String(options.type)}: expected one of ` +
        `${Object.keys(PerfType).map((k) => `PerfType.${k}`).join(", ")}, or a PMU's type number`,
    );
  }
  if (typeof options.config !== "bigint") {
    throw new TypeError(
      `Invalid perf event config: ${String(options.config)}: expected a SoftwareEvent or ` +
        "HardwareEvent member, or a PMU's config (a bigint)",
    );
  }
  const pid = options.pid ?? -1;
  const cpu = options.cpu ?? 0;
  if (pid === -1 && cpu === -1) throw new RangeError("pid and cpu cannot both be -1");
  const attr = perfEventAttr({
    type: options.type,
    config: options.config,
    sample: options.frequency ?? options.samplePeriod ?? 1n,
    freq: options.frequency !== undefined,
    inherit: options.inherit,
  });
  const fd = new FD(openPerfEvent(attr, { pid, cpu }), "perf event");
  return attachToPerfEvent(program, fd, options, undefined, {
    perfEventType: PerfEventKind.Event,
    name: "",
    offset: options.config,
    address: 0n,
    missed: 0n,
    refCtrOffset: 0n,
    eventType: options.type,
  });
}
