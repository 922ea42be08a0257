/**
 * BPF_PROG_QUERY: which programs are attached to a hook, in run order — cgroup hooks, tcx and
 * netkit chains, a network namespace's sk_lookup and flow dissector, a sockmap's parser and
 * verdict programs, a lirc device — with link ids, attach flags and the chain's revision.
 *
 * @module
 */

import { allocBuffer, Attr, BpfCmd, bpfErrno, bpfError } from "../ffi.ts";
import { Errno, NotSupportedError } from "../errors.ts";
import { feature } from "../_internal/feature.ts";
import { AttachType, attachTypeName } from "../prog/attach_type.ts";
import { BpfMap } from "../map/bpf_map.ts";
import { MapSpec } from "../map/map_spec.ts";
import { MapType } from "../map/map_type.ts";
import { type HookTarget, MPROG_TYPES, withHookTarget } from "./_hook_target.ts";
import { haveLinkFeature, LINK_FEATURES } from "./link_features.ts";

/** `BPF_F_QUERY_EFFECTIVE`: a cgroup's effective programs, inherited ones included. */
const QUERY_EFFECTIVE = 1 << 0;

/** Offsets in the `query` member of `union bpf_attr` (Linux 6.18). */
const Query = {
  targetFd: 0, // or target_ifindex
  attachType: 4,
  queryFlags: 8,
  attachFlags: 12,
  progIds: 16,
  count: 24,
  progAttachFlags: 32, // 6.0
  linkIds: 40, // 6.6, with tcx
  linkAttachFlags: 48, // 6.6
  revision: 56, // 6.6
} as const;

/** What to query: the object the hook belongs to. */
export type QueryTarget = HookTarget;

/** Options of {@linkcode queryPrograms}. */
export interface QueryOptions {
  /**
   * For cgroup hooks: the programs that run for the cgroup, including those inherited from
   * its ancestors (`BPF_F_QUERY_EFFECTIVE`), instead of those attached to it directly.
   */
  effective?: boolean;
}

/**
 * One program attached to the hook. It is also an {@linkcode AnchorTarget}, so a tcx or
 * netkit attachment can go `{ before: program }` or `{ after: program }`.
 */
export interface AttachedProgram {
  /** The program's id. */
  programId: number;
  /** The id of the bpf_link that holds it, where the kernel reports links (tcx, netkit). */
  linkId?: number;
  /**
   * Its own attach flags (cgroup: `ProgAttachFlags`; 0 where the kernel has none, in
   * effective queries and before Linux 6.0).
   */
  attachFlags: number;
  /** The attach flags of its link, where the kernel reports links. */
  linkAttachFlags?: number;
}

/** What {@linkcode queryPrograms} returns. */
export interface QueryResult {
  /** The programs, in the order they run. */
  programs: AttachedProgram[];
  /**
   * The hook's attach flags: for a cgroup hook, the mode its BPF_PROG_ATTACH programs use
   * (`ProgAttachFlags.AllowMulti`, `AllowOverride`, or 0); 0 elsewhere.
   */
  attachFlags: number;
  /**
   * The chain's revision (tcx, netkit; cgroup hooks on kernels that keep one): it changes
   * with every attach and detach. Pass it as `expectedRevision` when attaching, so the
   * attachment fails if the chain moved on since this query. 0n where the kernel keeps none.
   */
  revision: bigint;
}

const SOCKMAP_TYPES: ReadonlySet<number> = new Set([
  AttachType.SkSKBStreamParser,
  AttachType.SkSKBStreamVerdict,
  AttachType.SkSKBVerdict,
  AttachType.SkMsgVerdict,
]);

/** The cgroup hooks (BPF_CGROUP_*, and BPF_LSM_CGROUP). */
const CGROUP_TYPES: ReadonlySet<number> = new Set(
  Object.entries(AttachType)
    .filter(([name]) => name.startsWith("Cgroup") || name === "LSMCgroup")
    .map(([, value]) => value),
);

/** Every attach type BPF_PROG_QUERY answers for (Linux 6.18, `bpf_prog_query()`). */
const QUERYABLE: ReadonlySet<number> = new Set<number>([
  ...CGROUP_TYPES,
  AttachType.LircMode2,
  AttachType.FlowDissector,
  AttachType.SkLookup,
  ...SOCKMAP_TYPES,
  ...MPROG_TYPES.keys(),
]);

/**
 * Sockmap programs became queryable in 6.0; before, the kernel answers EINVAL for their
 * attach types whatever the map. An empty sockmap tells.
 */
const sockmapQuery = feature("BPF_PROG_QUERY of sockmap programs", "6.0", () => {
  using map = BpfMap.create(
    new MapSpec({ type: MapType.SockMap, keySize: 4, valueSize: 4, maxEntries: 1 }),
  );
  const attr = new Attr().u32(Query.targetFd, map.fd).u32(
    Query.attachType,
    AttachType.SkMsgVerdict,
  );
  return bpfErrno(BpfCmd.PROG_QUERY, attr) === 0;
});

/**
 * The programs attached to `target` at `attachType`, in the order they run (BPF_PROG_QUERY).
 * Needs CAP_NET_ADMIN. A kernel without the hook (tcx before 6.6, netkit before 6.7,
 * sockmap queries before 6.0) gives {@linkcode NotSupportedError}.
 *
 * @example
 * ```ts ignore
 * const { programs, revision } = queryPrograms({ interface: "eth0" }, AttachType.TCXIngress);
 * // Insert before the first program, unless someone changed the chain meanwhile.
 * attachTCX(prog, {
 *   interface: "eth0",
 *   direction: "ingress",
 *   anchor: programs.length ? { before: programs[0] } : "head",
 *   expectedRevision: revision,
 * });
 * ```
 */
export function queryPrograms(
  target: QueryTarget,
  attachType: AttachType,
  options: QueryOptions = {},
): QueryResult {
  if (!QUERYABLE.has(attachType)) {
    throw new TypeError(
      `Cannot query programs at ${attachTypeName(attachType)}: BPF_PROG_QUERY answers for ` +
        "cgroup, tcx, netkit, sk_lookup, flow_dissector, sockmap and lirc attach types",
    );
  }
  const mprog = MPROG_TYPES.get(attachType);
  if (options.effective && !CGROUP_TYPES.has(attachType)) {
    throw new TypeError(`Invalid query option: effective: only for cgroup hooks`);
  }
  const result = withHookTarget(
    target,
    attachType,
    (fd) => query(fd, attachType, options.effective ? QUERY_EFFECTIVE : 0, mprog),
  );
  if (typeof result !== "number") return result;
  throw notSupported(result, attachType, mprog) ??
    bpfError(BpfCmd.PROG_QUERY, result, undefined, `programs at ${attachTypeName(attachType)}`);
}

/**
 * Asks for the count, then for that many entries; when the chain grew in between (ENOSPC),
 * asks again with room for the new count. The errno when the kernel refuses.
 */
function query(
  fd: number,
  attachType: number,
  flags: number,
  mprog: string | undefined,
): QueryResult | number {
  const attr = new Attr();
  let room = 0;
  // Per-program flags: not for effective queries, and unknown to kernels before 6.0.
  let perProgramFlags = (flags & QUERY_EFFECTIVE) === 0;
  for (;;) {
    const ids = allocBuffer(room * 4);
    const progFlags = allocBuffer(perProgramFlags ? room * 4 : 0);
    const linkIds = allocBuffer(mprog ? room * 4 : 0);
    const linkFlags = allocBuffer(mprog ? room * 4 : 0);
    attr.reset()
      .u32(Query.targetFd, fd)
      .u32(Query.attachType, attachType)
      .u32(Query.queryFlags, flags)
      .pointer(Query.progIds, ids)
      .u32(Query.count, room)
      .pointer(Query.progAttachFlags, progFlags) // an empty buffer leaves it NULL
      .pointer(Query.linkIds, linkIds)
      .pointer(Query.linkAttachFlags, linkFlags);
    const r = bpfErrno(BpfCmd.PROG_QUERY, attr);
    const count = attr.getU32(Query.count);
    if (r === -Errno.ENOSPC || (r === 0 && count > room)) {
      room = count + 1;
      continue;
    }
    if (r === -Errno.EINVAL && progFlags.byteLength > 0) {
      perProgramFlags = false; // a kernel before 6.0: ask again without them
      continue;
    }
    if (r < 0) return -r;
    const u32 = (buffer: Uint8Array, i: number) =>
      buffer.byteLength ? new DataView(buffer.buffer, buffer.byteOffset).getUint32(i * 4, true) : 0;
    const programs: AttachedProgram[] = [];
    for (let i = 0; i < count; i++) {
      const program: AttachedProgram = { programId: u32(ids, i), attachFlags: u32(progFlags, i) };
      if (mprog) {
        const linkId = u32(linkIds, i);
        if (linkId !== 0) program.linkId = linkId;
        program.linkAttachFlags = u32(linkFlags, i);
      }
      programs.push(program);
    }
    return {
      programs,
      attachFlags: attr.getU32(Query.attachFlags),
      revision: attr.getU64(Query.revision),
    };
  }
}

/**
 * A {@linkcode NotSupportedError} when EINVAL came from a kernel that does not know the
 * hook, as its probe says; else undefined.
 */
function notSupported(
  errno: number,
  attachType: number,
  mprog: "tcx" | "netkit" | undefined,
): NotSupportedError | undefined {
  if (errno !== Errno.EINVAL) return undefined;
  if (mprog !== undefined && !haveLinkFeature(mprog)) {
    const { feature, minKernel } = LINK_FEATURES[mprog];
    return new NotSupportedError(`BPF_PROG_QUERY of a ${feature}`, minKernel);
  }
  if (SOCKMAP_TYPES.has(attachType) && !sockmapQuery.supported()) {
    return new NotSupportedError(sockmapQuery.feature, sockmapQuery.minKernel);
  }
  return undefined;
}
