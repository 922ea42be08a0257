/**
 * The link kinds a kernel may lack, each with the first kernel that has it and a probe that
 * asks the running kernel (once per process) instead of trusting a version string. Attach
 * functions consult it when the kernel refuses a link with an errno that could mean "no such
 * hook" (EINVAL, EOPNOTSUPP), so the caller gets a {@linkcode NotSupportedError} naming the
 * feature rather than a bare `EINVAL`.
 *
 * @module
 */

import { allocBuffer, Attr, BpfCmd, bpfErrno, closeFd, cString, currentBackend } from "../ffi.ts";
import { feature, type FeatureProbe } from "../_internal/feature.ts";
import { Errno, NotSupportedError } from "../errors.ts";
import { AttachType } from "../prog/attach_type.ts";
import { ProgramType } from "../prog/program_type.ts";
import { loadProbeProgram } from "../prog/_probe_load.ts";
import { structOpsLinkMaps } from "../map/map_type_probe.ts";
import { keepAlive, LinkCreate, linkCreateError } from "./_link_create.ts";

/** `r0 = 0` encoded, the body of every probe program (`r0 = 0; exit`). */
const R0_ZERO = [0xb7, 0, 0, 0, 0, 0, 0, 0];
/** An ifindex no device has; as a target fd, -1. */
const NO_IFINDEX = 0xffffffff;

/**
 * Loads a probe program of `type` (with `expectedAttachType`), runs BPF_LINK_CREATE with the
 * attr `fill` builds around its fd, closes what was made and returns the negated errno (0 on
 * success). Undefined when the kernel refuses the program itself.
 */
function tryLinkCreate(
  type: ProgramType,
  expectedAttachType: AttachType,
  fill: (attr: Attr, progFd: number) => void,
): number | undefined {
  const prog = loadProbeProgram(type, R0_ZERO, undefined, expectedAttachType);
  if (prog === undefined) return undefined;
  try {
    const attr = new Attr();
    fill(attr, prog.raw);
    const r = bpfErrno(BpfCmd.LINK_CREATE, attr);
    if (r >= 0) {
      closeFd(r);
      return 0;
    }
    return r;
  } finally {
    prog.close();
  }
}

/** A multi-program (tcx, netkit) attach type: ENODEV for a missing device means it is known. */
function mprogProbe(attachType: AttachType): () => boolean {
  return () =>
    tryLinkCreate(ProgramType.SchedCLS, 0, (attr, fd) => {
      attr.u32(LinkCreate.progFd, fd).u32(LinkCreate.targetFd, NO_IFINDEX)
        .u32(LinkCreate.attachType, attachType);
    }) === -Errno.ENODEV;
}

/**
 * A link kind whose target is an fd: with the kind, the kernel gets as far as the target
 * and says EBADF for fd -1; without it, it refuses the attach type (EINVAL).
 */
function fdTargetProbe(type: ProgramType, attachType: AttachType): () => boolean {
  return () =>
    tryLinkCreate(type, attachType, (attr, fd) => {
      attr.u32(LinkCreate.progFd, fd).u32(LinkCreate.targetFd, NO_IFINDEX)
        .u32(LinkCreate.attachType, attachType);
    }) === -Errno.EBADF;
}

/** A link kind the running kernel may lack. */
export type LinkFeature =
  | "cgroup"
  | "netns"
  | "perfEvent"
  | "tcx"
  | "netkit"
  | "netfilter"
  | "structOps"
  | "sockmap"
  | "uprobeMulti"
  | "kprobeMulti"
  | "kprobeSession";

/**
 * What each feature is called in errors, its first kernel, its probe, for features a
 * kernel may leave out of its build, the config option that does, and what to use instead
 * where the library has a fallback.
 */
const TABLE: Readonly<
  Record<LinkFeature, readonly [string, string, () => boolean, string?, string?]>
> = {
  // BPF_LINK_CREATE itself came with cgroup links.
  cgroup: [
    "cgroup link",
    "5.7",
    fdTargetProbe(ProgramType.CGroupSKB, AttachType.CgroupInetIngress),
  ],
  netns: ["netns link", "5.8", fdTargetProbe(ProgramType.FlowDissector, AttachType.FlowDissector)],
  // attachToPerfEvent falls back to PERF_EVENT_IOC_SET_BPF without it.
  perfEvent: [
    "perf_event link",
    "5.15",
    fdTargetProbe(ProgramType.TracePoint, AttachType.PerfEvent),
  ],
  tcx: [
    "tcx link",
    "6.6",
    mprogProbe(AttachType.TCXIngress),
    undefined,
    "attachTC attaches the program as a cls_bpf filter on a clsact qdisc instead",
  ],
  netkit: ["netkit link", "6.7", mprogProbe(AttachType.NetkitPrimary), "CONFIG_NETKIT"],
  // A netfilter link needs a netfilter program, a type 6.4 introduced with it.
  netfilter: ["netfilter link", "6.4", () => probeNetfilter()],
  // Links register struct_ops maps made with BPF_F_LINK: the map layer probes the flag.
  structOps: ["struct_ops link", "6.4", () => structOpsLinkMaps.supported()],
  // With sockmap links, a bad map fd is EBADF; without, the kernel stops at the attach
  // type: EINVAL.
  sockmap: [
    "sockmap link",
    "6.10",
    () =>
      tryLinkCreate(ProgramType.SkMsg, AttachType.SkMsgVerdict, (attr, fd) => {
        attr.u32(LinkCreate.progFd, fd).u32(LinkCreate.targetFd, NO_IFINDEX)
          .u32(LinkCreate.attachType, AttachType.SkMsgVerdict);
      }) === -Errno.EBADF,
  ],
  // With uprobe_multi, "/" (not a regular file) is EBADF; without, EINVAL or EOPNOTSUPP.
  uprobeMulti: ["uprobe_multi link", "6.6", () => {
    const path = cString("/");
    const offsets = allocBuffer(8);
    return tryLinkCreate(ProgramType.Kprobe, AttachType.TraceUprobeMulti, (attr, fd) => {
      attr.u32(LinkCreate.progFd, fd).u32(LinkCreate.attachType, AttachType.TraceUprobeMulti)
        .pointer(LinkCreate.union, path)
        .pointer(LinkCreate.union + 8, offsets)
        .u32(LinkCreate.union + 32, 1);
    }) === -Errno.EBADF;
  }],
  // A real one-symbol attachment, as cilium probes it: kernels without fprobe (such as
  // Debian's 6.1) say EOPNOTSUPP, kernels before 5.18 EINVAL.
  kprobeMulti: [
    "kprobe_multi link",
    "5.18",
    () => kprobeMultiProbe(AttachType.TraceKprobeMulti),
    "CONFIG_FPROBE",
  ],
  // The same with a session program, which kernels before 6.10 refuse to load.
  kprobeSession: [
    "kprobe session link",
    "6.10",
    () => kprobeMultiProbe(AttachType.TraceKprobeSession),
    "CONFIG_FPROBE",
  ],
};

/** Whether a kprobe program of `attachType` attaches to one kernel function. */
function kprobeMultiProbe(attachType: AttachType): boolean {
  const sym = cString("bpf_fentry_test1");
  const backend = currentBackend();
  const syms = allocBuffer(8);
  new DataView(syms.buffer, syms.byteOffset).setBigUint64(0, backend.address(sym), true);
  const r = tryLinkCreate(ProgramType.Kprobe, attachType, (attr, fd) => {
    attr.u32(LinkCreate.progFd, fd).u32(LinkCreate.attachType, attachType)
      .u32(LinkCreate.union + 4, 1)
      .pointer(LinkCreate.union + 8, syms);
  });
  keepAlive(sym);
  return r === 0;
}

function probeNetfilter(): boolean {
  const fd = loadProbeProgram(ProgramType.Netfilter, R0_ZERO, undefined, AttachType.Netfilter);
  fd?.close();
  return fd !== undefined;
}

/** What a {@linkcode LinkFeature} is called in errors, and where the kernel has it. */
export interface LinkFeatureInfo {
  /** The name errors give, such as `"tcx link"`. */
  readonly feature: string;
  /** The first kernel version that has it. */
  readonly minKernel: string;
  /** The kernel config option it also needs, for features a build may leave out. */
  readonly config?: string;
}

/** Every {@linkcode LinkFeature}: its name in errors, first kernel and config option. */
export const LINK_FEATURES: Readonly<Record<LinkFeature, LinkFeatureInfo>> = Object.freeze(
  Object.fromEntries(
    Object.entries(TABLE).map(([k, [feature, minKernel, , config]]) => [
      k,
      Object.freeze(config ? { feature, minKernel, config } : { feature, minKernel }),
    ]),
  ) as Record<LinkFeature, LinkFeatureInfo>,
);

/** The error for a missing `name`, saying which build option can also leave it out. */
function notSupported(name: LinkFeature, options?: ErrorOptions): NotSupportedError {
  const [what, minKernel, , config, fallback] = TABLE[name];
  const lack = config ? `older kernels, and kernels built without ${config}, lack it` : undefined;
  const detail = [lack, fallback].filter((d) => d !== undefined).join("; ") || undefined;
  return new NotSupportedError(what, minKernel, detail, options);
}

const probes = new Map<LinkFeature, FeatureProbe>();

function probeFor(name: LinkFeature): FeatureProbe {
  let probe = probes.get(name);
  if (!probe) {
    const [what, minKernel, ask] = TABLE[name];
    probe = feature(what, minKernel, ask);
    probes.set(name, probe);
  }
  return probe;
}

/**
 * Whether the running kernel has the link kind `name` (`"cgroup"`, `"netns"`,
 * `"perfEvent"`, `"tcx"`, `"netkit"`, `"netfilter"`, `"structOps"`, `"sockmap"`,
 * `"uprobeMulti"`, `"kprobeMulti"`, `"kprobeSession"`). Probed once per process;
 * needs `--allow-ffi` and CAP_BPF.
 *
 * @example
 * ```ts ignore
 * import { haveLinkFeature } from "@ebpf/ebpf";
 * if (!haveLinkFeature("tcx")) console.log("no tcx: use a legacy tc filter");
 * ```
 */
export function haveLinkFeature(name: LinkFeature): boolean {
  if (!Object.hasOwn(TABLE, name)) {
    throw new RangeError(`Unknown link feature "${name}": one of ${Object.keys(TABLE).join(", ")}`);
  }
  return probeFor(name).supported();
}

/**
 * The reason a test or caller cannot use `name` here (`"tcx link is not supported (requires
 * Linux 6.6)"`), or undefined when the running kernel has it.
 */
export function linkFeatureMissing(name: LinkFeature): string | undefined {
  return haveLinkFeature(name) ? undefined : notSupported(name).message;
}

/**
 * Throws {@linkcode NotSupportedError} naming the link kind `name`, its first kernel and
 * the build option that can leave it out, when the running kernel lacks it.
 */
export function requireLinkFeature(name: LinkFeature): void {
  if (!haveLinkFeature(name)) throw notSupported(name);
}

/**
 * After BPF_LINK_CREATE of `name` failed with `errno`: a {@linkcode NotSupportedError} (with
 * `cause`) when the errno could mean a missing hook and the probe confirms the kernel lacks
 * it, else undefined (the caller reports the errno itself).
 */
export function missingLinkFeature(
  name: LinkFeature,
  errno: number,
  cause: Error,
): NotSupportedError | undefined {
  const maybeMissing = errno === Errno.EINVAL || errno === Errno.EOPNOTSUPP ||
    errno === Errno.ENOTSUPP || errno === Errno.ENOSYS;
  if (!maybeMissing || haveLinkFeature(name)) return undefined;
  return notSupported(name, { cause });
}

/**
 * BPF_LINK_CREATE of the link kind `name`: the link fd, or the error, a
 * {@linkcode NotSupportedError} when the probe says the kernel lacks the kind.
 */
export function linkCreateOf(attr: Attr, name: LinkFeature): number {
  const r = bpfErrno(BpfCmd.LINK_CREATE, attr);
  if (r >= 0) return r;
  const cause = linkCreateError(-r, TABLE[name][0]);
  throw missingLinkFeature(name, -r, cause) ?? cause;
}
