/**
 * cgroup links (`BPF_LINK_TYPE_CGROUP`): programs on a cgroup v2 directory, with a fallback
 * to BPF_PROG_ATTACH and its multi/override flags on kernels before 5.7.
 *
 * @module
 */

import { Attr, closeFd, openFd, OpenFlags } from "../ffi.ts";
import { Errno } from "../errors.ts";
import { AttachType, attachTypeName } from "../prog/attach_type.ts";
import { choices, enumOption, enumSubset } from "../_internal/enum_option.ts";
import type { Program } from "../prog/program.ts";
import { LinkCreate, linkCreateErrno, linkCreateError } from "./_link_create.ts";
import { progAttach, ProgAttachFlags, type ProgAttachLink } from "./_prog_attach.ts";
import { RawLink } from "./link.ts";

export { ProgAttachFlags, ProgAttachLink } from "./_prog_attach.ts";

/** A program on a cgroup through a bpf_link. */
export class CgroupLink extends RawLink {}

/**
 * How to attach: `"link"` only a bpf_link; `"multi"` or `"override"` BPF_PROG_ATTACH with
 * `BPF_F_ALLOW_MULTI` or `BPF_F_ALLOW_OVERRIDE`; `"auto"` (default) a bpf_link, falling
 * back to BPF_PROG_ATTACH with multi on kernels without cgroup links.
 */
export type CgroupAttachMode = "auto" | "link" | "multi" | "override";

/** Options of {@linkcode attachCgroup}. */
export interface CgroupOptions {
  /** The cgroup v2 directory, such as `/sys/fs/cgroup/unified/my.slice`. */
  path: string;
  /** The hook, such as `AttachType.CgroupInetIngress`. */
  attachType: AttachType;
  /** See {@linkcode CgroupAttachMode}. */
  mode?: CgroupAttachMode;
}

/** The attach types of cgroup hooks (BPF_CGROUP_*, and BPF_LSM_CGROUP). */
const CGROUP_ATTACH_TYPES = enumSubset(
  AttachType,
  (name) => name.startsWith("Cgroup") || name === "LSMCgroup",
);
const CGROUP_MODES = choices<CgroupAttachMode>("auto", "link", "multi", "override");

/**
 * Attaches a cgroup program (cgroup_skb, cgroup_sock, sock_ops, sockopt, sysctl, device…)
 * to a cgroup.
 *
 * @example
 * ```ts ignore
 * using l = attachCgroup(prog, { path: "/sys/fs/cgroup/unified/test", attachType: AttachType.CgroupInetEgress });
 * ```
 */
export function attachCgroup(
  program: Program,
  options: CgroupOptions,
): CgroupLink | ProgAttachLink {
  const attachType = enumOption(
    options.attachType,
    "cgroup attachType",
    CGROUP_ATTACH_TYPES,
    "AttachType",
  );
  const mode = enumOption(options.mode ?? "auto", "cgroup attach mode", CGROUP_MODES);
  const cgroup = openFd(options.path, OpenFlags.DIRECTORY);
  try {
    if (mode === "multi" || mode === "override") {
      const flags = mode === "multi" ? ProgAttachFlags.AllowMulti : ProgAttachFlags.AllowOverride;
      return progAttach(cgroup, program, attachType, flags);
    }
    const attr = new Attr()
      .u32(LinkCreate.progFd, program.fd)
      .u32(LinkCreate.targetFd, cgroup)
      .u32(LinkCreate.attachType, attachType);
    const r = linkCreateErrno(attr);
    if (r >= 0) return new CgroupLink(r);
    if (mode === "auto" && -r === Errno.EINVAL) {
      try {
        return progAttach(cgroup, program, attachType, ProgAttachFlags.AllowMulti);
      } catch {
        // Report the bpf_link error below.
      }
    }
    throw linkCreateError(-r, `cgroup link for ${attachTypeName(attachType)}`, "5.7");
  } finally {
    closeFd(cgroup);
  }
}
