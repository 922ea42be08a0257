/**
 * Links: programs attached to kernel hooks. Each kernel `bpf_link_type` has a class (a
 * {@linkcode RawLink} subclass); attach functions are the way in. Hooks that predate
 * bpf_link (perf event + ioctl, BPF_PROG_ATTACH) sit behind the same {@linkcode Link}
 * interface. A hook the kernel lacks gives `NotSupportedError`.
 *
 * @example
 * ```ts ignore
 * import { attachTracepoint } from "@ebpf/ebpf/link";
 * using l = attachTracepoint(prog, "syscalls", "sys_enter_getpid");
 * l.pin("/sys/fs/bpf/getpid");
 * ```
 *
 * `attachUsdt` serves programs written with libbpf's `<bpf/usdt.bpf.h>` (`BPF_USDT`,
 * `bpf_usdt_arg`): it writes their argument specs as libbpf does. `usdtArgInstructions` (in
 * `link/usdt.ts`) emits the loads of a USDT argument for programs built with `asm`.
 *
 * @module
 */

export { LinkType, linkTypeName } from "./link_type.ts";
export { type Link, type LinkInfo, linkInfoOf, type LinkUpdateOptions, RawLink } from "./link.ts";
export { type LinkDetails, PerfEventKind } from "./_link_info.ts";
export { linkFromFd, linkFromId, loadPinnedLink } from "./pinned.ts";
export { linkIds, loadedLinks } from "./loaded_links.ts";
export {
  attachPerfEvent,
  HardwareEvent,
  type PerfEventAttachOptions,
  PerfEventIoctlLink,
  PerfEventLink,
  type PerfEventOptions,
  PerfType,
  SoftwareEvent,
} from "./perf_event.ts";
export { attachTracepoint, type TracepointOptions } from "./tracepoint.ts";
export {
  attachKprobe,
  attachKretprobe,
  kprobeCandidates,
  type KprobeOptions,
  syscallPrefix,
} from "./kprobe.ts";
export { attachKprobeMulti, KprobeMultiLink, type KprobeMultiOptions } from "./kprobe_multi.ts";
export {
  attachUprobe,
  attachUretprobe,
  resolveUprobe,
  type UprobeOptions,
  type UprobeTarget,
} from "./uprobe.ts";
export { attachUprobeMulti, UprobeMultiLink, type UprobeMultiOptions } from "./uprobe_multi.ts";
export {
  attachUsdt,
  parseUsdtArg,
  parseUsdtArgs,
  type UsdtArg,
  UsdtArgError,
  type UsdtLink,
  type UsdtOptions,
  type UsdtProbe,
  usdtProbes,
} from "./usdt.ts";
export {
  attachRawTracepoint,
  RawTracepointLink,
  type RawTracepointOptions,
} from "./raw_tracepoint.ts";
export {
  attachFentry,
  attachFexit,
  attachFreplace,
  attachLSM,
  attachModifyReturn,
  attachTpBtf,
  attachTracing,
  TracingLink,
  type TracingOptions,
} from "./tracing.ts";
export { attachIter, IterLink, type IterOptions, IterReader } from "./iter.ts";
export {
  attachCgroup,
  type CgroupAttachMode,
  CgroupLink,
  type CgroupOptions,
  ProgAttachFlags,
  ProgAttachLink,
} from "./cgroup.ts";
export { attachNetNs, NetNsLink, type NetNsOptions } from "./netns.ts";
export { attachXDP, XDPLink, XDPMode, type XDPOptions } from "./xdp.ts";
export { NetlinkXDPLink } from "./xdp_netlink.ts";
export { attachTC, TCLink, type TCOptions } from "./tc.ts";
export { type Anchor, type AnchorTarget, attachTCX, TCXLink, type TCXOptions } from "./tcx.ts";
export { attachNetkit, NetkitLink, type NetkitOptions } from "./netkit.ts";
export {
  attachNetfilter,
  NetfilterHook,
  NetfilterLink,
  type NetfilterOptions,
  NetfilterProtocol,
} from "./netfilter.ts";
export { attachSockmap, SockmapLink } from "./sockmap.ts";
export { attachSocketFilter, detachSocketFilter } from "./socket_filter.ts";
export {
  type AttachedProgram,
  type QueryOptions,
  queryPrograms,
  type QueryResult,
  type QueryTarget,
} from "./query.ts";
export {
  type RawAttachOptions,
  rawAttachProgram,
  type RawDetachOptions,
  rawDetachProgram,
} from "./raw_attach.ts";
export type { HookTarget } from "./_hook_target.ts";
export {
  haveLinkFeature,
  LINK_FEATURES,
  type LinkFeature,
  type LinkFeatureInfo,
  linkFeatureMissing,
  requireLinkFeature,
} from "./link_features.ts";
export {
  attachStructOps,
  registerStructOps,
  StructOpsLink,
  StructOpsRegistration,
} from "./struct_ops.ts";
export type { NetInterface } from "./_netdev.ts";
export { parseTraceLine, type TraceLine, TracePipe, type TracePipeOptions } from "./trace_pipe.ts";
