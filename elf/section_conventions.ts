/**
 * libbpf's SEC() conventions: how the name of an executable ELF section gives a program its
 * type, expected attach type, attach target and load flags.
 *
 * The table follows `section_defs[]` in libbpf's `src/libbpf.c` (libbpf 1.6, Linux 6.18
 * attach types) and the kernel's "Program Types and ELF Sections" document. Matching first
 * follows libbpf exactly:
 *
 * - `name` matches only the exact section name `name`;
 * - `name+` matches `name` itself or `name/<extras>`, where `<extras>` is the attach target;
 * - `name/` matches only `name/<extras>`;
 * - the first entry that matches wins;
 * - a leading `?` (`SEC("?kprobe/foo")`) is not part of the name: it only marks the program
 *   as not loaded by default.
 *
 * Names that match nothing that way get a second chance, as legacy names: every exact
 * pattern then matches as a plain prefix (`socket/1`, `socket_filter`, `xdp_prog`,
 * `classifier/ingress`, `sk_lookup/x`), which is how libbpf before 1.0 read most of them
 * (its `SEC_SLOPPY_PFX`) and how cilium/ebpf still reads them all. The table also keeps the
 * few names libbpf 1.0 dropped (`xdp_devmap/`, `xdp_cpumap/`) and cilium/ebpf's `seccomp`.
 * Such a match says `legacy: true`; libbpf 1.x would refuse the program.
 *
 * A section that matches nothing gives an unspecified program rather than an error, as in
 * cilium/ebpf: an inspector can still read it, and the caller may set the type by hand;
 * loading it as it is fails before any syscall.
 *
 * @module
 */

import { AttachType } from "../prog/attach_type.ts";
import { ProgramType } from "../prog/program_type.ts";

/**
 * The family of hook a section names: what an attach layer needs to attach such a program
 * and how it reads {@linkcode SectionConvention.attachTo}.
 *
 * - `socket`: a socket filter, attached to a socket (SO_ATTACH_BPF).
 * - `sk_reuseport`: selects a socket in a reuseport group (SO_ATTACH_REUSEPORT_EBPF).
 * - `kprobe`: `kprobe/<function>[+<offset>]`, `kretprobe/…`.
 * - `uprobe`: `uprobe[.s]/<path>:<function>[+<offset>]`, `uretprobe[.s]/…`.
 * - `kprobe_multi`, `kprobe_session`: `kprobe.multi/<pattern>` with `*` and `?` wildcards.
 * - `uprobe_multi`, `uprobe_session`: `uprobe.multi/<path>:<pattern>`.
 * - `ksyscall`: `ksyscall/<syscall>`, `kretsyscall/<syscall>`.
 * - `usdt`: `usdt/<path>:<provider>:<name>`.
 * - `tracepoint`: `tracepoint/<category>/<name>`.
 * - `raw_tracepoint`: `raw_tracepoint[.w]/<tracepoint>`.
 * - `tracing`: fentry, fexit, fmod_ret and tp_btf; the target is a kernel BTF function or
 *   raw tracepoint, resolved when loading.
 * - `freplace`: replaces `<function>` of another BPF program.
 * - `lsm`: `lsm[.s]/<hook>`.
 * - `iter`: `iter[.s]/<struct-name>`, a BPF iterator.
 * - `struct_ops`: a member of a `.struct_ops` map; attached through that map.
 * - `syscall`: run from user space with BPF_PROG_TEST_RUN, never attached.
 * - `xdp`: a network device, or an entry of a devmap or cpumap.
 * - `tc`: legacy tc classifier or action (cls_bpf, act_bpf through netlink).
 * - `tcx`, `netkit`: a network device, through bpf_link.
 * - `lwt`: a lightweight tunnel route (netlink).
 * - `perf_event`: a perf event.
 * - `cgroup`: a cgroup (cgroup_skb, cgroup/*, sockops, lsm_cgroup).
 * - `sockmap`: a sockmap or sockhash (sk_skb, sk_msg).
 * - `lirc_mode2`: a LIRC device.
 * - `netns`: a network namespace (flow_dissector, sk_lookup).
 * - `netfilter`: a netfilter hook.
 * - `unspecified`: no convention matched.
 */
export type SectionKind =
  | "socket"
  | "sk_reuseport"
  | "kprobe"
  | "uprobe"
  | "kprobe_multi"
  | "kprobe_session"
  | "uprobe_multi"
  | "uprobe_session"
  | "ksyscall"
  | "usdt"
  | "tracepoint"
  | "raw_tracepoint"
  | "tracing"
  | "freplace"
  | "lsm"
  | "iter"
  | "struct_ops"
  | "syscall"
  | "xdp"
  | "tc"
  | "tcx"
  | "netkit"
  | "lwt"
  | "perf_event"
  | "cgroup"
  | "sockmap"
  | "lirc_mode2"
  | "netns"
  | "netfilter"
  | "unspecified";

/** What a section name says about loading and attaching, beyond types and target. */
export interface SectionFlags {
  /** Load with BPF_F_SLEEPABLE: the `.s` variants and `syscall`. */
  sleepable: boolean;
  /** Load with BPF_F_XDP_HAS_FRAGS: the `xdp.frags` variants (multi-buffer XDP). */
  xdpFrags: boolean;
  /** A return probe: kretprobe, uretprobe, kretsyscall and the `.multi` return forms. */
  retprobe: boolean;
  /**
   * The target is a BTF type that the loader must look up (in the kernel's BTF, or in the
   * target program's for freplace) to fill in `attach_btf_id` (libbpf's SEC_ATTACH_BTF).
   */
  attachBtf: boolean;
  /**
   * The attach type is also the one to pass to BPF_PROG_ATTACH or BPF_LINK_CREATE
   * (libbpf's SEC_ATTACHABLE, what `libbpf_attach_type_by_name` answers from).
   */
  attachable: boolean;
  /**
   * The expected attach type may be left out when loading on a kernel that predates
   * expected attach types (libbpf's SEC_EXP_ATTACH_OPT): a fallback for the loader.
   */
  expectedAttachTypeOptional: boolean;
  /** A USDT probe, which relies on the USDT spec maps of libbpf's `usdt.bpf.h` (SEC_USDT). */
  usdt: boolean;
}

/** One row of the convention table, as libbpf writes it. */
export interface SectionDefinition {
  /** The pattern in libbpf's spelling: `"socket"`, `"kprobe+"`, `"xdp.frags/devmap"`. */
  readonly pattern: string;
  /** The program type of matching sections. */
  readonly programType: ProgramType;
  /** The expected attach type of matching sections; `AttachType.None` (0) when none. */
  readonly attachType: AttachType;
  /** The hook family. */
  readonly kind: SectionKind;
  /** Flags of matching sections. */
  readonly flags: Readonly<SectionFlags>;
  /** A name libbpf 1.0 dropped (or never had) that older loaders and cilium/ebpf accept. */
  readonly legacy: boolean;
}

/** What libbpf's conventions make of one section name: see {@linkcode sectionConvention}. */
export interface SectionConvention {
  /** The section name as given, `?` included. */
  sectionName: string;
  /** The pattern that matched, in libbpf's spelling (`"kprobe+"`), or undefined if none. */
  pattern: string | undefined;
  /** The hook family; `"unspecified"` when no pattern matched. */
  kind: SectionKind;
  /** The program type; `ProgramType.Unspecified` when no pattern matched. */
  programType: ProgramType;
  /** The expected attach type; `AttachType.None` (0) when the section implies none. */
  attachType: AttachType;
  /**
   * The attach target: whatever follows the first `/` for `type+` and `type/` patterns
   * (`tracepoint/syscalls/sys_enter_getpid` gives `syscalls/sys_enter_getpid`,
   * `uprobe//usr/bin/bash:readline` gives `/usr/bin/bash:readline`), else `""`. The section
   * name says nothing more; for struct_ops the member comes from the `.struct_ops` map.
   */
  attachTo: string;
  /** False when the name starts with `?`: libbpf then does not load the program by default. */
  autoload: boolean;
  /**
   * True when only a legacy reading gives the name a meaning: a legacy row of the table, or
   * an exact pattern matched as a prefix (`socket/1` as `socket`). libbpf 1.x refuses it.
   */
  legacy: boolean;
  /**
   * True when libbpf's skeleton attach (`bpf_object__attach_skeleton`) would attach the
   * program from its section name alone: probes and tracepoints that name a target, and
   * BTF-based tracing, LSM and iterator programs. Programs that need a file descriptor
   * (cgroup, network device, socket, map) are never attached this way.
   */
  autoAttach: boolean;
  /** The `prog_flags` bits for BPF_PROG_LOAD: BPF_F_SLEEPABLE (16), BPF_F_XDP_HAS_FRAGS (32). */
  programFlags: number;
  /** Flags for the loader and the attach layer. */
  flags: SectionFlags;
}

/** BPF_F_SLEEPABLE from include/uapi/linux/bpf.h. */
const BPF_F_SLEEPABLE = 1 << 4;
/** BPF_F_XDP_HAS_FRAGS from include/uapi/linux/bpf.h. */
const BPF_F_XDP_HAS_FRAGS = 1 << 5;

// libbpf's SEC_* cookie bits, with the retprobe bit that libbpf reads from the name instead.
const NONE = 0;
const EXP_ATTACH_OPT = 1 << 0;
const ATTACHABLE = 1 << 1;
const ATTACHABLE_OPT = ATTACHABLE | EXP_ATTACH_OPT;
const ATTACH_BTF = 1 << 2;
const SLEEPABLE = 1 << 3;
const XDP_FRAGS = 1 << 4;
const USDT = 1 << 5;
const RETPROBE = 1 << 6;
/** Not a bit of libbpf's: a row for a legacy name. */
const LEGACY = 1 << 7;

function row(
  pattern: string,
  programType: ProgramType,
  attachType: AttachType,
  kind: SectionKind,
  bits: number,
): SectionDefinition {
  return Object.freeze({
    pattern,
    programType,
    attachType,
    kind,
    legacy: (bits & LEGACY) !== 0,
    flags: Object.freeze({
      sleepable: (bits & SLEEPABLE) !== 0,
      xdpFrags: (bits & XDP_FRAGS) !== 0,
      retprobe: (bits & RETPROBE) !== 0,
      attachBtf: (bits & ATTACH_BTF) !== 0,
      attachable: (bits & ATTACHABLE) !== 0,
      expectedAttachTypeOptional: (bits & EXP_ATTACH_OPT) !== 0,
      usdt: (bits & USDT) !== 0,
    }),
  });
}

const P = ProgramType;
const A = AttachType;

/**
 * libbpf's convention table, in libbpf's order (the first match wins). Each row gives the
 * pattern, program type, expected attach type, hook family and flags.
 *
 * @example
 * ```ts
 * import { sectionDefinitions } from "@ebpf/ebpf/elf";
 *
 * const sleepable = sectionDefinitions.filter((d) => d.flags.sleepable).map((d) => d.pattern);
 * console.log(sleepable.includes("lsm.s+")); // true
 * ```
 */
export const sectionDefinitions: readonly SectionDefinition[] = Object.freeze([
  row("socket", P.SocketFilter, A.None, "socket", NONE),
  row(
    "sk_reuseport/migrate",
    P.SkReuseport,
    A.SkReuseportSelectOrMigrate,
    "sk_reuseport",
    ATTACHABLE,
  ),
  row("sk_reuseport", P.SkReuseport, A.SkReuseportSelect, "sk_reuseport", ATTACHABLE),
  row("kprobe+", P.Kprobe, A.None, "kprobe", NONE),
  row("uprobe+", P.Kprobe, A.None, "uprobe", NONE),
  row("uprobe.s+", P.Kprobe, A.None, "uprobe", SLEEPABLE),
  row("kretprobe+", P.Kprobe, A.None, "kprobe", RETPROBE),
  row("uretprobe+", P.Kprobe, A.None, "uprobe", RETPROBE),
  row("uretprobe.s+", P.Kprobe, A.None, "uprobe", RETPROBE | SLEEPABLE),
  row("kprobe.multi+", P.Kprobe, A.TraceKprobeMulti, "kprobe_multi", NONE),
  row("kretprobe.multi+", P.Kprobe, A.TraceKprobeMulti, "kprobe_multi", RETPROBE),
  row("kprobe.session+", P.Kprobe, A.TraceKprobeSession, "kprobe_session", NONE),
  row("uprobe.multi+", P.Kprobe, A.TraceUprobeMulti, "uprobe_multi", NONE),
  row("uretprobe.multi+", P.Kprobe, A.TraceUprobeMulti, "uprobe_multi", RETPROBE),
  row("uprobe.session+", P.Kprobe, A.TraceUprobeSession, "uprobe_session", NONE),
  row("uprobe.multi.s+", P.Kprobe, A.TraceUprobeMulti, "uprobe_multi", SLEEPABLE),
  row("uretprobe.multi.s+", P.Kprobe, A.TraceUprobeMulti, "uprobe_multi", RETPROBE | SLEEPABLE),
  row("uprobe.session.s+", P.Kprobe, A.TraceUprobeSession, "uprobe_session", SLEEPABLE),
  row("ksyscall+", P.Kprobe, A.None, "ksyscall", NONE),
  row("kretsyscall+", P.Kprobe, A.None, "ksyscall", RETPROBE),
  row("usdt+", P.Kprobe, A.None, "usdt", USDT),
  row("usdt.s+", P.Kprobe, A.None, "usdt", USDT | SLEEPABLE),
  // libbpf made tc/ingress and tc/egress aliases of tcx when tcx arrived (libbpf 1.3).
  row("tc/ingress", P.SchedCLS, A.TCXIngress, "tcx", NONE),
  row("tc/egress", P.SchedCLS, A.TCXEgress, "tcx", NONE),
  row("tcx/ingress", P.SchedCLS, A.TCXIngress, "tcx", NONE),
  row("tcx/egress", P.SchedCLS, A.TCXEgress, "tcx", NONE),
  row("tc", P.SchedCLS, A.None, "tc", NONE),
  row("classifier", P.SchedCLS, A.None, "tc", NONE),
  row("action", P.SchedACT, A.None, "tc", NONE),
  row("netkit/primary", P.SchedCLS, A.NetkitPrimary, "netkit", NONE),
  row("netkit/peer", P.SchedCLS, A.NetkitPeer, "netkit", NONE),
  row("tracepoint+", P.TracePoint, A.None, "tracepoint", NONE),
  row("tp+", P.TracePoint, A.None, "tracepoint", NONE),
  row("raw_tracepoint+", P.RawTracepoint, A.None, "raw_tracepoint", NONE),
  row("raw_tp+", P.RawTracepoint, A.None, "raw_tracepoint", NONE),
  row("raw_tracepoint.w+", P.RawTracepointWritable, A.None, "raw_tracepoint", NONE),
  row("raw_tp.w+", P.RawTracepointWritable, A.None, "raw_tracepoint", NONE),
  row("tp_btf+", P.Tracing, A.TraceRawTP, "tracing", ATTACH_BTF),
  row("fentry+", P.Tracing, A.TraceFentry, "tracing", ATTACH_BTF),
  row("fmod_ret+", P.Tracing, A.ModifyReturn, "tracing", ATTACH_BTF),
  row("fexit+", P.Tracing, A.TraceFexit, "tracing", ATTACH_BTF),
  row("fentry.s+", P.Tracing, A.TraceFentry, "tracing", ATTACH_BTF | SLEEPABLE),
  row("fmod_ret.s+", P.Tracing, A.ModifyReturn, "tracing", ATTACH_BTF | SLEEPABLE),
  row("fexit.s+", P.Tracing, A.TraceFexit, "tracing", ATTACH_BTF | SLEEPABLE),
  row("freplace+", P.Extension, A.None, "freplace", ATTACH_BTF),
  row("lsm+", P.LSM, A.LSMMAC, "lsm", ATTACH_BTF),
  row("lsm.s+", P.LSM, A.LSMMAC, "lsm", ATTACH_BTF | SLEEPABLE),
  row("lsm_cgroup+", P.LSM, A.LSMCgroup, "cgroup", ATTACH_BTF),
  row("iter+", P.Tracing, A.TraceIter, "iter", ATTACH_BTF),
  row("iter.s+", P.Tracing, A.TraceIter, "iter", ATTACH_BTF | SLEEPABLE),
  row("syscall", P.Syscall, A.None, "syscall", SLEEPABLE),
  row("xdp.frags/devmap", P.XDP, A.XDPDevMap, "xdp", XDP_FRAGS),
  row("xdp/devmap", P.XDP, A.XDPDevMap, "xdp", ATTACHABLE),
  row("xdp.frags/cpumap", P.XDP, A.XDPCPUMap, "xdp", XDP_FRAGS),
  row("xdp/cpumap", P.XDP, A.XDPCPUMap, "xdp", ATTACHABLE),
  row("xdp.frags", P.XDP, A.XDP, "xdp", XDP_FRAGS),
  row("xdp", P.XDP, A.XDP, "xdp", ATTACHABLE_OPT),
  row("perf_event", P.PerfEvent, A.None, "perf_event", NONE),
  row("lwt_in", P.LWTIn, A.None, "lwt", NONE),
  row("lwt_out", P.LWTOut, A.None, "lwt", NONE),
  row("lwt_xmit", P.LWTXmit, A.None, "lwt", NONE),
  row("lwt_seg6local", P.LWTSeg6Local, A.None, "lwt", NONE),
  row("sockops", P.SockOps, A.CgroupSockOps, "cgroup", ATTACHABLE_OPT),
  row("sk_skb/stream_parser", P.SkSKB, A.SkSKBStreamParser, "sockmap", ATTACHABLE_OPT),
  row("sk_skb/stream_verdict", P.SkSKB, A.SkSKBStreamVerdict, "sockmap", ATTACHABLE_OPT),
  row("sk_skb", P.SkSKB, A.None, "sockmap", NONE),
  row("sk_msg", P.SkMsg, A.SkMsgVerdict, "sockmap", ATTACHABLE_OPT),
  row("lirc_mode2", P.LircMode2, A.LircMode2, "lirc_mode2", ATTACHABLE_OPT),
  row("flow_dissector", P.FlowDissector, A.FlowDissector, "netns", ATTACHABLE_OPT),
  row("cgroup_skb/ingress", P.CGroupSKB, A.CgroupInetIngress, "cgroup", ATTACHABLE_OPT),
  row("cgroup_skb/egress", P.CGroupSKB, A.CgroupInetEgress, "cgroup", ATTACHABLE_OPT),
  row("cgroup/skb", P.CGroupSKB, A.None, "cgroup", NONE),
  row("cgroup/sock_create", P.CGroupSock, A.CgroupInetSockCreate, "cgroup", ATTACHABLE),
  row("cgroup/sock_release", P.CGroupSock, A.CgroupInetSockRelease, "cgroup", ATTACHABLE),
  row("cgroup/sock", P.CGroupSock, A.CgroupInetSockCreate, "cgroup", ATTACHABLE_OPT),
  row("cgroup/post_bind4", P.CGroupSock, A.CgroupInet4PostBind, "cgroup", ATTACHABLE),
  row("cgroup/post_bind6", P.CGroupSock, A.CgroupInet6PostBind, "cgroup", ATTACHABLE),
  row("cgroup/bind4", P.CGroupSockAddr, A.CgroupInet4Bind, "cgroup", ATTACHABLE),
  row("cgroup/bind6", P.CGroupSockAddr, A.CgroupInet6Bind, "cgroup", ATTACHABLE),
  row("cgroup/connect4", P.CGroupSockAddr, A.CgroupInet4Connect, "cgroup", ATTACHABLE),
  row("cgroup/connect6", P.CGroupSockAddr, A.CgroupInet6Connect, "cgroup", ATTACHABLE),
  row("cgroup/connect_unix", P.CGroupSockAddr, A.CgroupUnixConnect, "cgroup", ATTACHABLE),
  row("cgroup/sendmsg4", P.CGroupSockAddr, A.CgroupUDP4Sendmsg, "cgroup", ATTACHABLE),
  row("cgroup/sendmsg6", P.CGroupSockAddr, A.CgroupUDP6Sendmsg, "cgroup", ATTACHABLE),
  row("cgroup/sendmsg_unix", P.CGroupSockAddr, A.CgroupUnixSendmsg, "cgroup", ATTACHABLE),
  row("cgroup/recvmsg4", P.CGroupSockAddr, A.CgroupUDP4Recvmsg, "cgroup", ATTACHABLE),
  row("cgroup/recvmsg6", P.CGroupSockAddr, A.CgroupUDP6Recvmsg, "cgroup", ATTACHABLE),
  row("cgroup/recvmsg_unix", P.CGroupSockAddr, A.CgroupUnixRecvmsg, "cgroup", ATTACHABLE),
  row("cgroup/getpeername4", P.CGroupSockAddr, A.CgroupInet4Getpeername, "cgroup", ATTACHABLE),
  row("cgroup/getpeername6", P.CGroupSockAddr, A.CgroupInet6Getpeername, "cgroup", ATTACHABLE),
  row("cgroup/getpeername_unix", P.CGroupSockAddr, A.CgroupUnixGetpeername, "cgroup", ATTACHABLE),
  row("cgroup/getsockname4", P.CGroupSockAddr, A.CgroupInet4Getsockname, "cgroup", ATTACHABLE),
  row("cgroup/getsockname6", P.CGroupSockAddr, A.CgroupInet6Getsockname, "cgroup", ATTACHABLE),
  row("cgroup/getsockname_unix", P.CGroupSockAddr, A.CgroupUnixGetsockname, "cgroup", ATTACHABLE),
  row("cgroup/sysctl", P.CGroupSysctl, A.CgroupSysctl, "cgroup", ATTACHABLE),
  row("cgroup/getsockopt", P.CGroupSockopt, A.CgroupGetsockopt, "cgroup", ATTACHABLE),
  row("cgroup/setsockopt", P.CGroupSockopt, A.CgroupSetsockopt, "cgroup", ATTACHABLE),
  row("cgroup/dev", P.CGroupDevice, A.CgroupDevice, "cgroup", ATTACHABLE_OPT),
  row("struct_ops+", P.StructOps, A.None, "struct_ops", NONE),
  row("struct_ops.s+", P.StructOps, A.None, "struct_ops", SLEEPABLE),
  row("sk_lookup", P.SkLookup, A.SkLookup, "netns", ATTACHABLE),
  row("netfilter", P.Netfilter, A.Netfilter, "netfilter", NONE),
  // Legacy names, after libbpf's rows: XDP for a devmap or cpumap entry as libbpf 0.x spelled
  // it (before `xdp/devmap`), and cilium/ebpf's early alias of a socket filter.
  row("xdp_devmap/", P.XDP, A.XDPDevMap, "xdp", ATTACHABLE | LEGACY),
  row("xdp_cpumap/", P.XDP, A.XDPCPUMap, "xdp", ATTACHABLE | LEGACY),
  row("seccomp", P.SocketFilter, A.None, "socket", LEGACY),
]);

// Hook families whose libbpf attach function needs a target in the section name.
const AUTO_ATTACH_WITH_TARGET: ReadonlySet<SectionKind> = new Set<SectionKind>([
  "kprobe",
  "uprobe",
  "kprobe_multi",
  "kprobe_session",
  "uprobe_multi",
  "uprobe_session",
  "ksyscall",
  "usdt",
  "tracepoint",
  "raw_tracepoint",
]);

// Hook families whose target was fixed at load time (BTF id), so libbpf always attaches them.
const AUTO_ATTACH_ALWAYS: ReadonlySet<SectionKind> = new Set<SectionKind>([
  "tracing",
  "freplace",
  "lsm",
  "iter",
]);

/**
 * The attach target of `name` if `pattern` matches it, else undefined: libbpf's
 * `sec_def_matches`, returning what follows the separator.
 */
function match(name: string, pattern: string): string | undefined {
  const last = pattern[pattern.length - 1];
  if (last === "/") {
    // "type/" requires the "type/extras" form; extras may be empty.
    return name.startsWith(pattern) ? name.slice(pattern.length) : undefined;
  }
  if (last === "+") {
    // "type+" is "type" exactly, or "type/extras".
    const prefix = pattern.slice(0, -1);
    if (!name.startsWith(prefix)) return undefined;
    if (name.length === prefix.length) return "";
    return name[prefix.length] === "/" ? name.slice(prefix.length + 1) : undefined;
  }
  return name === pattern ? "" : undefined;
}

/** The legacy reading of an exact pattern: a plain prefix, whatever follows ignored. */
function matchLegacy(name: string, pattern: string): string | undefined {
  const last = pattern[pattern.length - 1];
  if (last === "/" || last === "+") return undefined;
  return name.startsWith(pattern) ? "" : undefined;
}

/**
 * What libbpf's SEC() conventions make of an ELF section name: program type, expected attach
 * type, attach target and flags. Unknown names give `ProgramType.Unspecified` and
 * `kind: "unspecified"` rather than an error. Pure: no I/O, same answer everywhere.
 *
 * @example
 * ```ts
 * import { sectionConvention } from "@ebpf/ebpf/elf";
 *
 * const c = sectionConvention("tracepoint/syscalls/sys_enter_getpid");
 * console.log(c.programType, c.attachTo); // 5 "syscalls/sys_enter_getpid"
 * console.log(sectionConvention("lsm.s/file_open").flags.sleepable); // true
 * ```
 */
export function sectionConvention(sectionName: string): SectionConvention {
  // libbpf forgets a leading "?" once it has noted that the program is not autoloaded.
  const autoload = !sectionName.startsWith("?");
  const name = autoload ? sectionName : sectionName.slice(1);
  // libbpf's reading first, so that no legacy prefix shadows a name libbpf knows.
  for (const matcher of [match, matchLegacy]) {
    for (const def of sectionDefinitions) {
      const attachTo = matcher(name, def.pattern);
      if (attachTo === undefined) continue;
      return matched(sectionName, def, attachTo, autoload, def.legacy || matcher !== match);
    }
  }
  return {
    sectionName,
    pattern: undefined,
    kind: "unspecified",
    programType: ProgramType.Unspecified,
    attachType: AttachType.None,
    attachTo: "",
    autoload,
    legacy: false,
    autoAttach: false,
    programFlags: 0,
    flags: {
      sleepable: false,
      xdpFrags: false,
      retprobe: false,
      attachBtf: false,
      attachable: false,
      expectedAttachTypeOptional: false,
      usdt: false,
    },
  };
}

function matched(
  sectionName: string,
  def: SectionDefinition,
  attachTo: string,
  autoload: boolean,
  legacy: boolean,
): SectionConvention {
  const autoAttach = AUTO_ATTACH_ALWAYS.has(def.kind) ||
    (AUTO_ATTACH_WITH_TARGET.has(def.kind) && attachTo !== "");
  return {
    sectionName,
    pattern: def.pattern,
    kind: def.kind,
    programType: def.programType,
    attachType: def.attachType,
    attachTo,
    autoload,
    legacy,
    autoAttach,
    programFlags: (def.flags.sleepable ? BPF_F_SLEEPABLE : 0) |
      (def.flags.xdpFrags ? BPF_F_XDP_HAS_FRAGS : 0),
    flags: { ...def.flags },
  };
}
