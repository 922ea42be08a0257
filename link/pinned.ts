/**
 * Links from outside this process: a pin on bpffs, or a kernel link id. The object built is
 * the class of the link's kernel type.
 *
 * @module
 */

import { BpfCmd } from "../ffi.ts";
import { FD } from "../_internal/fd.ts";
import { fdById } from "../_internal/object_ids.ts";
import { type LoadPinOptions, openPinnedFd } from "../_internal/pin.ts";
import { CgroupLink } from "./cgroup.ts";
import { IterLink } from "./iter.ts";
import { KprobeMultiLink } from "./kprobe_multi.ts";
import { linkInfoOf, RawLink } from "./link.ts";
import { LinkType } from "./link_type.ts";
import { NetfilterLink } from "./netfilter.ts";
import { NetkitLink } from "./netkit.ts";
import { NetNsLink } from "./netns.ts";
import { RawTracepointLink } from "./raw_tracepoint.ts";
import { SockmapLink } from "./sockmap.ts";
import { StructOpsLink } from "./struct_ops.ts";
import { TCXLink } from "./tcx.ts";
import { TracingLink } from "./tracing.ts";
import { UprobeMultiLink } from "./uprobe_multi.ts";
import { XDPLink } from "./xdp.ts";

type LinkClass = new (fd: FD, pinnedAt?: string) => RawLink;

const CLASSES: Partial<Record<number, LinkClass>> = {
  [LinkType.RawTracepoint]: RawTracepointLink,
  [LinkType.Tracing]: TracingLink,
  [LinkType.Cgroup]: CgroupLink,
  [LinkType.Iter]: IterLink,
  [LinkType.NetNs]: NetNsLink,
  [LinkType.XDP]: XDPLink,
  [LinkType.KprobeMulti]: KprobeMultiLink,
  [LinkType.StructOps]: StructOpsLink,
  [LinkType.Netfilter]: NetfilterLink,
  [LinkType.TCX]: TCXLink,
  [LinkType.UprobeMulti]: UprobeMultiLink,
  [LinkType.Netkit]: NetkitLink,
  [LinkType.Sockmap]: SockmapLink,
};

/**
 * Wraps a bpf_link fd (taking ownership) in the class of its kernel type; perf_event links
 * and types this library does not know become a plain {@linkcode RawLink}.
 */
export function linkFromFd(fd: number, pinnedAt?: string): RawLink {
  const owner = new FD(fd, "Link");
  try {
    const cls = CLASSES[linkInfoOf(owner.raw).type] ?? RawLink;
    return new cls(owner, pinnedAt);
  } catch (e) {
    owner.close();
    throw e;
  }
}

/**
 * Opens the link pinned at `path` (BPF_OBJ_GET). The result remembers the path, so
 * `unpin()` removes it. The kernel opens links read-write only: `readOnly` or `writeOnly`
 * in `options` is its EINVAL.
 *
 * @example
 * ```ts ignore
 * using l = loadPinnedLink("/sys/fs/bpf/my_link");
 * l.update(newProgram);
 * ```
 */
export function loadPinnedLink(path: string, options?: LoadPinOptions): RawLink {
  return linkFromFd(openPinnedFd(path, "link", options), path);
}

/** Opens the link with kernel id `id` (BPF_LINK_GET_FD_BY_ID). */
export function linkFromId(id: number): RawLink {
  return linkFromFd(fdById(BpfCmd.LINK_GET_FD_BY_ID, id, "link"));
}
