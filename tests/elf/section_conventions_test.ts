// libbpf's SEC() conventions, checked two ways: against the table of the kernel document
// "Program Types and ELF Sections" and libbpf's section_defs[] (transcribed here by hand, in
// uapi spelling, so that a slip in elf/section_conventions.ts shows up as a difference), and
// against Debian's libbpf 1.1.2 itself, called through libbpf_prog_type_by_name().
import { assert, assertEquals } from "@std/assert";
import {
  type SectionConvention,
  sectionConvention,
  sectionDefinitions,
  type SectionKind,
} from "../../elf/section_conventions.ts";
import { attachTypeName } from "../../prog/attach_type.ts";
import { programTypeName } from "../../prog/program_type.ts";

// ---------------------------------------------------------------------------------------
// The documented table.

/** Flag letters: S sleepable, F xdp frags, R retprobe, B attach BTF, A attachable,
 * O expected attach type optional, U usdt; L marks a legacy row (not libbpf 1.x's). */
type Row = [
  pattern: string,
  progType: string,
  attachType: string,
  kind: SectionKind,
  flags: string,
];

const TABLE: Row[] = [
  ["socket", "SOCKET_FILTER", "", "socket", ""],
  ["sk_reuseport/migrate", "SK_REUSEPORT", "SK_REUSEPORT_SELECT_OR_MIGRATE", "sk_reuseport", "A"],
  ["sk_reuseport", "SK_REUSEPORT", "SK_REUSEPORT_SELECT", "sk_reuseport", "A"],
  ["kprobe+", "KPROBE", "", "kprobe", ""],
  ["uprobe+", "KPROBE", "", "uprobe", ""],
  ["uprobe.s+", "KPROBE", "", "uprobe", "S"],
  ["kretprobe+", "KPROBE", "", "kprobe", "R"],
  ["uretprobe+", "KPROBE", "", "uprobe", "R"],
  ["uretprobe.s+", "KPROBE", "", "uprobe", "RS"],
  ["kprobe.multi+", "KPROBE", "TRACE_KPROBE_MULTI", "kprobe_multi", ""],
  ["kretprobe.multi+", "KPROBE", "TRACE_KPROBE_MULTI", "kprobe_multi", "R"],
  ["kprobe.session+", "KPROBE", "TRACE_KPROBE_SESSION", "kprobe_session", ""],
  ["uprobe.multi+", "KPROBE", "TRACE_UPROBE_MULTI", "uprobe_multi", ""],
  ["uretprobe.multi+", "KPROBE", "TRACE_UPROBE_MULTI", "uprobe_multi", "R"],
  ["uprobe.session+", "KPROBE", "TRACE_UPROBE_SESSION", "uprobe_session", ""],
  ["uprobe.multi.s+", "KPROBE", "TRACE_UPROBE_MULTI", "uprobe_multi", "S"],
  ["uretprobe.multi.s+", "KPROBE", "TRACE_UPROBE_MULTI", "uprobe_multi", "RS"],
  ["uprobe.session.s+", "KPROBE", "TRACE_UPROBE_SESSION", "uprobe_session", "S"],
  ["ksyscall+", "KPROBE", "", "ksyscall", ""],
  ["kretsyscall+", "KPROBE", "", "ksyscall", "R"],
  ["usdt+", "KPROBE", "", "usdt", "U"],
  ["usdt.s+", "KPROBE", "", "usdt", "US"],
  ["tc/ingress", "SCHED_CLS", "TCX_INGRESS", "tcx", ""],
  ["tc/egress", "SCHED_CLS", "TCX_EGRESS", "tcx", ""],
  ["tcx/ingress", "SCHED_CLS", "TCX_INGRESS", "tcx", ""],
  ["tcx/egress", "SCHED_CLS", "TCX_EGRESS", "tcx", ""],
  ["tc", "SCHED_CLS", "", "tc", ""],
  ["classifier", "SCHED_CLS", "", "tc", ""],
  ["action", "SCHED_ACT", "", "tc", ""],
  ["netkit/primary", "SCHED_CLS", "NETKIT_PRIMARY", "netkit", ""],
  ["netkit/peer", "SCHED_CLS", "NETKIT_PEER", "netkit", ""],
  ["tracepoint+", "TRACEPOINT", "", "tracepoint", ""],
  ["tp+", "TRACEPOINT", "", "tracepoint", ""],
  ["raw_tracepoint+", "RAW_TRACEPOINT", "", "raw_tracepoint", ""],
  ["raw_tp+", "RAW_TRACEPOINT", "", "raw_tracepoint", ""],
  ["raw_tracepoint.w+", "RAW_TRACEPOINT_WRITABLE", "", "raw_tracepoint", ""],
  ["raw_tp.w+", "RAW_TRACEPOINT_WRITABLE", "", "raw_tracepoint", ""],
  ["tp_btf+", "TRACING", "TRACE_RAW_TP", "tracing", "B"],
  ["fentry+", "TRACING", "TRACE_FENTRY", "tracing", "B"],
  ["fmod_ret+", "TRACING", "MODIFY_RETURN", "tracing", "B"],
  ["fexit+", "TRACING", "TRACE_FEXIT", "tracing", "B"],
  ["fentry.s+", "TRACING", "TRACE_FENTRY", "tracing", "BS"],
  ["fmod_ret.s+", "TRACING", "MODIFY_RETURN", "tracing", "BS"],
  ["fexit.s+", "TRACING", "TRACE_FEXIT", "tracing", "BS"],
  ["freplace+", "EXT", "", "freplace", "B"],
  ["lsm+", "LSM", "LSM_MAC", "lsm", "B"],
  ["lsm.s+", "LSM", "LSM_MAC", "lsm", "BS"],
  ["lsm_cgroup+", "LSM", "LSM_CGROUP", "cgroup", "B"],
  ["iter+", "TRACING", "TRACE_ITER", "iter", "B"],
  ["iter.s+", "TRACING", "TRACE_ITER", "iter", "BS"],
  ["syscall", "SYSCALL", "", "syscall", "S"],
  ["xdp.frags/devmap", "XDP", "XDP_DEVMAP", "xdp", "F"],
  ["xdp/devmap", "XDP", "XDP_DEVMAP", "xdp", "A"],
  ["xdp.frags/cpumap", "XDP", "XDP_CPUMAP", "xdp", "F"],
  ["xdp/cpumap", "XDP", "XDP_CPUMAP", "xdp", "A"],
  ["xdp.frags", "XDP", "XDP", "xdp", "F"],
  ["xdp", "XDP", "XDP", "xdp", "AO"],
  ["perf_event", "PERF_EVENT", "", "perf_event", ""],
  ["lwt_in", "LWT_IN", "", "lwt", ""],
  ["lwt_out", "LWT_OUT", "", "lwt", ""],
  ["lwt_xmit", "LWT_XMIT", "", "lwt", ""],
  ["lwt_seg6local", "LWT_SEG6LOCAL", "", "lwt", ""],
  ["sockops", "SOCK_OPS", "CGROUP_SOCK_OPS", "cgroup", "AO"],
  ["sk_skb/stream_parser", "SK_SKB", "SK_SKB_STREAM_PARSER", "sockmap", "AO"],
  ["sk_skb/stream_verdict", "SK_SKB", "SK_SKB_STREAM_VERDICT", "sockmap", "AO"],
  ["sk_skb", "SK_SKB", "", "sockmap", ""],
  ["sk_msg", "SK_MSG", "SK_MSG_VERDICT", "sockmap", "AO"],
  ["lirc_mode2", "LIRC_MODE2", "LIRC_MODE2", "lirc_mode2", "AO"],
  ["flow_dissector", "FLOW_DISSECTOR", "FLOW_DISSECTOR", "netns", "AO"],
  ["cgroup_skb/ingress", "CGROUP_SKB", "CGROUP_INET_INGRESS", "cgroup", "AO"],
  ["cgroup_skb/egress", "CGROUP_SKB", "CGROUP_INET_EGRESS", "cgroup", "AO"],
  ["cgroup/skb", "CGROUP_SKB", "", "cgroup", ""],
  ["cgroup/sock_create", "CGROUP_SOCK", "CGROUP_INET_SOCK_CREATE", "cgroup", "A"],
  ["cgroup/sock_release", "CGROUP_SOCK", "CGROUP_INET_SOCK_RELEASE", "cgroup", "A"],
  ["cgroup/sock", "CGROUP_SOCK", "CGROUP_INET_SOCK_CREATE", "cgroup", "AO"],
  ["cgroup/post_bind4", "CGROUP_SOCK", "CGROUP_INET4_POST_BIND", "cgroup", "A"],
  ["cgroup/post_bind6", "CGROUP_SOCK", "CGROUP_INET6_POST_BIND", "cgroup", "A"],
  ["cgroup/bind4", "CGROUP_SOCK_ADDR", "CGROUP_INET4_BIND", "cgroup", "A"],
  ["cgroup/bind6", "CGROUP_SOCK_ADDR", "CGROUP_INET6_BIND", "cgroup", "A"],
  ["cgroup/connect4", "CGROUP_SOCK_ADDR", "CGROUP_INET4_CONNECT", "cgroup", "A"],
  ["cgroup/connect6", "CGROUP_SOCK_ADDR", "CGROUP_INET6_CONNECT", "cgroup", "A"],
  ["cgroup/connect_unix", "CGROUP_SOCK_ADDR", "CGROUP_UNIX_CONNECT", "cgroup", "A"],
  ["cgroup/sendmsg4", "CGROUP_SOCK_ADDR", "CGROUP_UDP4_SENDMSG", "cgroup", "A"],
  ["cgroup/sendmsg6", "CGROUP_SOCK_ADDR", "CGROUP_UDP6_SENDMSG", "cgroup", "A"],
  ["cgroup/sendmsg_unix", "CGROUP_SOCK_ADDR", "CGROUP_UNIX_SENDMSG", "cgroup", "A"],
  ["cgroup/recvmsg4", "CGROUP_SOCK_ADDR", "CGROUP_UDP4_RECVMSG", "cgroup", "A"],
  ["cgroup/recvmsg6", "CGROUP_SOCK_ADDR", "CGROUP_UDP6_RECVMSG", "cgroup", "A"],
  ["cgroup/recvmsg_unix", "CGROUP_SOCK_ADDR", "CGROUP_UNIX_RECVMSG", "cgroup", "A"],
  ["cgroup/getpeername4", "CGROUP_SOCK_ADDR", "CGROUP_INET4_GETPEERNAME", "cgroup", "A"],
  ["cgroup/getpeername6", "CGROUP_SOCK_ADDR", "CGROUP_INET6_GETPEERNAME", "cgroup", "A"],
  ["cgroup/getpeername_unix", "CGROUP_SOCK_ADDR", "CGROUP_UNIX_GETPEERNAME", "cgroup", "A"],
  ["cgroup/getsockname4", "CGROUP_SOCK_ADDR", "CGROUP_INET4_GETSOCKNAME", "cgroup", "A"],
  ["cgroup/getsockname6", "CGROUP_SOCK_ADDR", "CGROUP_INET6_GETSOCKNAME", "cgroup", "A"],
  ["cgroup/getsockname_unix", "CGROUP_SOCK_ADDR", "CGROUP_UNIX_GETSOCKNAME", "cgroup", "A"],
  ["cgroup/sysctl", "CGROUP_SYSCTL", "CGROUP_SYSCTL", "cgroup", "A"],
  ["cgroup/getsockopt", "CGROUP_SOCKOPT", "CGROUP_GETSOCKOPT", "cgroup", "A"],
  ["cgroup/setsockopt", "CGROUP_SOCKOPT", "CGROUP_SETSOCKOPT", "cgroup", "A"],
  ["cgroup/dev", "CGROUP_DEVICE", "CGROUP_DEVICE", "cgroup", "AO"],
  ["struct_ops+", "STRUCT_OPS", "", "struct_ops", ""],
  ["struct_ops.s+", "STRUCT_OPS", "", "struct_ops", "S"],
  ["sk_lookup", "SK_LOOKUP", "SK_LOOKUP", "netns", "A"],
  ["netfilter", "NETFILTER", "NETFILTER", "netfilter", ""],
  // libbpf 0.x's names for XDP in a devmap or cpumap (SEC_DEPRECATED there, gone in 1.0), and
  // cilium/ebpf's early socket filter alias.
  ["xdp_devmap/", "XDP", "XDP_DEVMAP", "xdp", "AL"],
  ["xdp_cpumap/", "XDP", "XDP_CPUMAP", "xdp", "AL"],
  ["seccomp", "SOCKET_FILTER", "", "socket", "L"],
];

/** Whether a pattern is exact (no `+` or `/` suffix): only those match as legacy prefixes. */
function isExact(pattern: string): boolean {
  return !pattern.endsWith("+") && !pattern.endsWith("/");
}

/**
 * The pattern a name matches only as a legacy prefix: the first exact pattern of the table
 * that starts the name (cilium/ebpf's reading, a superset of libbpf 0.x's SEC_SLOPPY_PFX).
 */
function legacyPrefixOf(name: string): string | undefined {
  return TABLE.find(([p]) => isExact(p) && name.startsWith(p))?.[0];
}

/**
 * Patterns that libbpf gained after 1.1 (Debian's oracle): libbpf 1.1 answers -ESRCH for
 * them, so they are checked against the documented table above only.
 * - 1.2: netfilter.
 * - 1.3: tcx (and tc/ingress, tc/egress as its aliases), netkit, uprobe.multi and its
 *   return and sleepable forms, cgroup/*_unix, struct_ops.s.
 * - 1.4: kprobe.session, usdt.s.
 * - 1.6: uprobe.session (+ .s).
 */
const NEWER_THAN_LIBBPF_1_1 = new Set([
  "netfilter",
  "tc/ingress",
  "tc/egress",
  "tcx/ingress",
  "tcx/egress",
  "netkit/primary",
  "netkit/peer",
  "uprobe.multi+",
  "uretprobe.multi+",
  "uprobe.multi.s+",
  "uretprobe.multi.s+",
  "cgroup/connect_unix",
  "cgroup/sendmsg_unix",
  "cgroup/recvmsg_unix",
  "cgroup/getpeername_unix",
  "cgroup/getsockname_unix",
  "struct_ops.s+",
  "kprobe.session+",
  "usdt.s+",
  "uprobe.session+",
  "uprobe.session.s+",
]);

const PROG_TYPES = new Map<string, number>();
for (let i = 0; i < 64; i++) PROG_TYPES.set(programTypeName(i).replace("BPF_PROG_TYPE_", ""), i);
const ATTACH_TYPES = new Map<string, number>();
for (let i = 0; i < 64; i++) ATTACH_TYPES.set(attachTypeName(i).replace("BPF_", ""), i);

function progType(name: string): number {
  const n = PROG_TYPES.get(name);
  if (n === undefined) throw new Error(`No program type "${name}"`);
  return n;
}

function attachType(name: string): number {
  if (name === "") return 0;
  const n = ATTACH_TYPES.get(name);
  if (n === undefined) throw new Error(`No attach type "${name}"`);
  return n;
}

/** Attach targets in the forms the document's footnotes give, per hook family. */
const TARGETS: Partial<Record<SectionKind, string[]>> = {
  kprobe: ["do_unlinkat", "do_sys_open+0x10"],
  uprobe: ["/usr/lib/libc.so.6:malloc", "/proc/self/exe:main+8"],
  kprobe_multi: ["bpf_fentry_test*", "tcp_?end*"],
  kprobe_session: ["bpf_fentry_test?"],
  uprobe_multi: ["/usr/bin/bash:read*"],
  uprobe_session: ["/usr/bin/bash:readline"],
  ksyscall: ["getpid"],
  usdt: ["/usr/lib/libc.so.6:libc:setjmp"],
  tracepoint: ["syscalls/sys_enter_getpid"],
  raw_tracepoint: ["sched_switch"],
  tracing: ["bpf_fentry_test1"],
  freplace: ["xdp_prog"],
  lsm: ["file_open"],
  cgroup: ["socket_bind"],
  iter: ["task", "bpf_map_elem"],
  struct_ops: ["tcp_congestion_ops_init"],
};

function expectedFlags(letters: string) {
  return {
    sleepable: letters.includes("S"),
    xdpFrags: letters.includes("F"),
    retprobe: letters.includes("R"),
    attachBtf: letters.includes("B"),
    attachable: letters.includes("A"),
    expectedAttachTypeOptional: letters.includes("O"),
    usdt: letters.includes("U"),
  };
}

function check(name: string, row: Row, attachTo: string): void {
  const [pattern, prog, attach, kind, letters] = row;
  const got = sectionConvention(name);
  const flags = expectedFlags(letters);
  const want: SectionConvention = {
    sectionName: name,
    pattern,
    kind,
    programType: progType(prog) as SectionConvention["programType"],
    attachType: attachType(attach) as SectionConvention["attachType"],
    attachTo,
    autoload: !name.startsWith("?"),
    legacy: letters.includes("L"),
    autoAttach: got.autoAttach, // checked on its own below
    programFlags: (flags.sleepable ? 16 : 0) | (flags.xdpFrags ? 32 : 0),
    flags,
  };
  assertEquals(got, want, `section "${name}"`);
}

/** The section names each row is walked with, and the attachTo each should give. */
function namesOf(row: Row): [name: string, attachTo: string][] {
  const pattern = row[0];
  if (pattern.endsWith("/")) return [[`${pattern}x`, "x"], [`${pattern}a/b`, "a/b"]];
  if (!pattern.endsWith("+")) return [[pattern, ""]];
  const prefix = pattern.slice(0, -1);
  const targets = TARGETS[row[3]] ?? ["x"];
  return [
    [prefix, ""],
    [`${prefix}/`, ""],
    ...targets.map((t): [string, string] => [`${prefix}/${t}`, t]),
    [`${prefix}/a/b/c`, "a/b/c"],
  ];
}

Deno.test("section conventions: the table is libbpf's, row for row and in order", () => {
  assertEquals(sectionDefinitions.map((d) => d.pattern), TABLE.map((r) => r[0]));
  assertEquals(new Set(TABLE.map((r) => r[0])).size, TABLE.length, "duplicate patterns");
  assert(TABLE.length >= 100, `only ${TABLE.length} patterns`);
});

Deno.test("section conventions: every pattern, exact and with extras, with and without ?", () => {
  let n = 0;
  for (const row of TABLE) {
    for (const [name, attachTo] of namesOf(row)) {
      check(name, row, attachTo);
      check(`?${name}`, row, attachTo);
      n += 2;
    }
  }
  assert(n > 400, `${n} names`);
});

Deno.test("section conventions: exact patterns take extras only as legacy prefixes, + patterns need a '/'", () => {
  let legacy = 0;
  for (const [pattern] of TABLE) {
    const base = pattern.replace(/[+/]$/, "");
    const names = [`${base}x`, `${base}.`, `${base}_`, `${base}-1`, `${base}+`];
    if (isExact(pattern)) names.push(`${pattern}/`, `${pattern}/x`);
    for (const name of names) {
      const c = sectionConvention(name);
      const prefix = legacyPrefixOf(name);
      if (prefix === undefined) {
        assertEquals([c.kind, c.pattern, c.legacy], ["unspecified", undefined, false], name);
        continue;
      }
      // Read as a legacy name: the row's types, no target.
      const row = TABLE.find(([p]) => p === prefix)!;
      assertEquals([c.pattern, c.legacy, c.attachTo, c.kind], [prefix, true, "", row[3]], name);
      assertEquals([c.programType, c.attachType], [progType(row[1]), attachType(row[2])], name);
      legacy++;
    }
  }
  assert(legacy > 300, `${legacy} legacy names`);
});

Deno.test("section conventions: legacy names of libbpf 0.x and cilium/ebpf", () => {
  const cases: [name: string, pattern: string, progType: string, attachType: string][] = [
    // libbpf 0.x read these exact names as prefixes (SEC_SLOPPY_PFX); iproute2, samples/bpf
    // and old cilium code use them.
    ["socket/1", "socket", "SOCKET_FILTER", ""],
    ["socket1", "socket", "SOCKET_FILTER", ""],
    ["socket_filter", "socket", "SOCKET_FILTER", ""],
    ["?socket/2", "socket", "SOCKET_FILTER", ""],
    ["classifier/ingress", "classifier", "SCHED_CLS", ""],
    ["classifier_tc", "classifier", "SCHED_CLS", ""],
    ["action/police", "action", "SCHED_ACT", ""],
    ["tc/other", "tc", "SCHED_CLS", ""],
    ["xdp_prog", "xdp", "XDP", "XDP"],
    ["xdp/pass", "xdp", "XDP", "XDP"],
    ["xdp.frags/other", "xdp.frags", "XDP", "XDP"],
    ["xdp/devmap/x", "xdp/devmap", "XDP", "XDP_DEVMAP"],
    ["perf_event/cycles", "perf_event", "PERF_EVENT", ""],
    ["lwt_in/x", "lwt_in", "LWT_IN", ""],
    ["lwt_seg6local/x", "lwt_seg6local", "LWT_SEG6LOCAL", ""],
    ["sockops/x", "sockops", "SOCK_OPS", "CGROUP_SOCK_OPS"],
    ["sk_skb/stream_parser/x", "sk_skb/stream_parser", "SK_SKB", "SK_SKB_STREAM_PARSER"],
    ["sk_skb/x", "sk_skb", "SK_SKB", ""],
    ["sk_msg/x", "sk_msg", "SK_MSG", "SK_MSG_VERDICT"],
    ["lirc_mode2/x", "lirc_mode2", "LIRC_MODE2", "LIRC_MODE2"],
    ["flow_dissector/x", "flow_dissector", "FLOW_DISSECTOR", "FLOW_DISSECTOR"],
    ["cgroup_skb/ingress/x", "cgroup_skb/ingress", "CGROUP_SKB", "CGROUP_INET_INGRESS"],
    ["cgroup/skb/x", "cgroup/skb", "CGROUP_SKB", ""],
    ["cgroup/sock/x", "cgroup/sock", "CGROUP_SOCK", "CGROUP_INET_SOCK_CREATE"],
    ["cgroup/dev/x", "cgroup/dev", "CGROUP_DEVICE", "CGROUP_DEVICE"],
    ["sk_reuseport/x", "sk_reuseport", "SK_REUSEPORT", "SK_REUSEPORT_SELECT"],
    [
      "sk_reuseport/migrate/x",
      "sk_reuseport/migrate",
      "SK_REUSEPORT",
      "SK_REUSEPORT_SELECT_OR_MIGRATE",
    ],
    ["sk_lookup/dispatcher", "sk_lookup", "SK_LOOKUP", "SK_LOOKUP"],
    // cilium/ebpf reads every exact pattern as a prefix.
    ["syscall/x", "syscall", "SYSCALL", ""],
    ["netfilter/x", "netfilter", "NETFILTER", "NETFILTER"],
    ["cgroup/connect4/x", "cgroup/connect4", "CGROUP_SOCK_ADDR", "CGROUP_INET4_CONNECT"],
    ["tcx", "tc", "SCHED_CLS", ""],
    // Rows of their own.
    ["seccomp", "seccomp", "SOCKET_FILTER", ""],
    ["seccomp/x", "seccomp", "SOCKET_FILTER", ""],
  ];
  for (const [name, pattern, prog, attach] of cases) {
    const c = sectionConvention(name);
    assertEquals(
      [c.pattern, c.legacy, c.programType, c.attachType, c.attachTo, c.autoAttach],
      [pattern, true, progType(prog), attachType(attach), "", false],
      name,
    );
    assertEquals(c.autoload, !name.startsWith("?"), name);
  }
  // The dropped devmap and cpumap spellings keep their target, as libbpf 0.x's "xdp_devmap/".
  for (
    const [name, pattern, attach] of [
      ["xdp_devmap/redirect", "xdp_devmap/", "XDP_DEVMAP"],
      ["xdp_cpumap/redirect", "xdp_cpumap/", "XDP_CPUMAP"],
    ]
  ) {
    const c = sectionConvention(name);
    assertEquals(
      [c.pattern, c.legacy, c.programType, c.attachType, c.attachTo],
      [pattern, true, progType("XDP"), attachType(attach), "redirect"],
      name,
    );
  }
  // What libbpf 1.x reads is never legacy, whatever prefix it also has.
  for (
    const name of [
      "socket",
      "xdp",
      "xdp.frags",
      "tc/ingress",
      "tcx/egress",
      "sk_skb/stream_verdict",
    ]
  ) {
    assertEquals(sectionConvention(name).legacy, false, name);
  }
});

Deno.test("section conventions: examples from the brief and the document", () => {
  const cases: [string, string, string][] = [
    ["tracepoint/syscalls/sys_enter_getpid", "tracepoint+", "syscalls/sys_enter_getpid"],
    ["tp/sched/sched_switch", "tp+", "sched/sched_switch"],
    ["kprobe/do_unlinkat", "kprobe+", "do_unlinkat"],
    ["kretprobe/do_unlinkat", "kretprobe+", "do_unlinkat"],
    ["uprobe//usr/bin/bash:readline+0x10", "uprobe+", "/usr/bin/bash:readline+0x10"],
    ["uprobe.s/libc.so.6:malloc", "uprobe.s+", "libc.so.6:malloc"],
    [
      "usdt/./urandom_read:urand:read_without_sema",
      "usdt+",
      "./urandom_read:urand:read_without_sema",
    ],
    ["usdt.s/:libc:setjmp", "usdt.s+", ":libc:setjmp"],
    ["iter/task", "iter+", "task"],
    ["iter.s/bpf_map_elem", "iter.s+", "bpf_map_elem"],
    ["fentry/bpf_fentry_test1", "fentry+", "bpf_fentry_test1"],
    ["fentry.s/bpf_fentry_test1", "fentry.s+", "bpf_fentry_test1"],
    ["fmod_ret/bpf_modify_return_test", "fmod_ret+", "bpf_modify_return_test"],
    ["struct_ops/init", "struct_ops+", "init"],
    ["struct_ops.s/init", "struct_ops.s+", "init"],
    ["freplace/get_constant", "freplace+", "get_constant"],
    ["lsm/file_mprotect", "lsm+", "file_mprotect"],
    ["lsm.s/bprm_committed_creds", "lsm.s+", "bprm_committed_creds"],
    ["lsm_cgroup/socket_bind", "lsm_cgroup+", "socket_bind"],
    ["tp_btf/sched_switch", "tp_btf+", "sched_switch"],
    ["raw_tp/sys_enter", "raw_tp+", "sys_enter"],
    [
      "raw_tracepoint.w/bpf_testmod_test_writable_bare",
      "raw_tracepoint.w+",
      "bpf_testmod_test_writable_bare",
    ],
    ["ksyscall/nanosleep", "ksyscall+", "nanosleep"],
    ["kretsyscall/nanosleep", "kretsyscall+", "nanosleep"],
    ["kprobe.multi/bpf_fentry_test*", "kprobe.multi+", "bpf_fentry_test*"],
    ["kprobe.session/bpf_fentry_test?", "kprobe.session+", "bpf_fentry_test?"],
    [
      "uprobe.multi//proc/self/exe:uprobe_multi_func_*",
      "uprobe.multi+",
      "/proc/self/exe:uprobe_multi_func_*",
    ],
    ["uprobe.multi.s//proc/self/exe:f", "uprobe.multi.s+", "/proc/self/exe:f"],
    ["uprobe.session//proc/self/exe:f", "uprobe.session+", "/proc/self/exe:f"],
    ["cgroup/connect4", "cgroup/connect4", ""],
    ["xdp.frags/devmap", "xdp.frags/devmap", ""],
    ["tc/ingress", "tc/ingress", ""],
    ["sk_reuseport/migrate", "sk_reuseport/migrate", ""],
  ];
  for (const [name, pattern, attachTo] of cases) {
    const c = sectionConvention(name);
    assertEquals([c.pattern, c.attachTo], [pattern, attachTo], name);
  }
});

Deno.test("section conventions: unknown names are unspecified programs, not errors", () => {
  const names = [
    "",
    "?",
    "??socket",
    ".text",
    "license",
    "version",
    "maps",
    ".maps",
    ".data",
    ".rodata.str1.1",
    "Socket",
    "kprobe_do_unlinkat",
    "kprobe.multi.s/x",
    "netkit",
    "cgroup",
    "cgroup/",
    "cgroup/connect",
    "cgroup_skb",
    "uprobe.unique/x",
    " socket",
    "/kprobe/x",
    "kprobe_multi/x",
    "tracepiont/syscalls/sys_enter_getpid",
    "foo/bar",
  ];
  for (const name of names) {
    const c = sectionConvention(name);
    assertEquals(c.programType, 0, name);
    assertEquals(c.attachType, 0, name);
    assertEquals([c.kind, c.pattern, c.attachTo, c.programFlags, c.legacy], [
      "unspecified",
      undefined,
      "",
      0,
      false,
    ], name);
    assertEquals(Object.values(c.flags).filter((f) => f), [], name);
    assertEquals(c.autoAttach, false, name);
    assertEquals(c.autoload, !name.startsWith("?"), name);
  }
});

Deno.test("section conventions: autoAttach follows libbpf's skeleton attach", () => {
  const yes = [
    "kprobe/f",
    "kretprobe/f",
    "uprobe/p:f",
    "uretprobe.s/p:f",
    "ksyscall/getpid",
    "usdt/p:a:b",
    "tp/a/b",
    "tracepoint/a/b",
    "raw_tp/x",
    "raw_tracepoint.w/x",
    "kprobe.multi/f*",
    "kprobe.session/f",
    "uprobe.multi/p:f*",
    "uprobe.session.s/p:f",
    // The target of BTF-based programs is fixed when loading, so the bare names attach too.
    "fentry",
    "fexit/f",
    "fmod_ret.s/f",
    "tp_btf/x",
    "freplace/f",
    "lsm/file_open",
    "lsm.s",
    "iter/task",
    "iter.s",
  ];
  const no = [
    "kprobe",
    "kprobe/",
    "uprobe",
    "uretprobe.s",
    "usdt",
    "tp",
    "raw_tp",
    "kprobe.multi",
    "uprobe.multi.s",
    "ksyscall",
    "lsm_cgroup/socket_bind",
    "struct_ops/x",
    "xdp",
    "tcx/ingress",
    "cgroup/connect4",
    "socket",
    "syscall",
    "perf_event",
    "sk_lookup",
    "netfilter",
    "unknown",
  ];
  for (const name of yes) assertEquals(sectionConvention(name).autoAttach, true, name);
  for (const name of no) assertEquals(sectionConvention(name).autoAttach, false, name);
});

Deno.test("section conventions: results are fresh objects; the table is frozen", () => {
  const a = sectionConvention("lsm.s/x");
  a.flags.sleepable = false;
  assertEquals(sectionConvention("lsm.s/x").flags.sleepable, true);
  assert(Object.isFrozen(sectionDefinitions));
  assert(sectionDefinitions.every((d) => Object.isFrozen(d) && Object.isFrozen(d.flags)));
});

Deno.test({
  name: "section conventions: pure, needs no permission",
  permissions: "none",
  fn() {
    assertEquals(sectionConvention("xdp.frags").programFlags, 32);
  },
});

// ---------------------------------------------------------------------------------------
// The oracle: Debian's libbpf 1.1.2.

const LIBBPF = "/usr/lib/x86_64-linux-gnu/libbpf.so.1";

function oracleUnavailable(): string | undefined {
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return "needs --allow-ffi";
  if (Deno.permissions.querySync({ name: "read", path: LIBBPF }).state !== "granted") {
    return "needs --allow-read";
  }
  try {
    Deno.statSync(LIBBPF);
  } catch {
    return `no ${LIBBPF}`;
  }
  return undefined;
}

interface Oracle {
  /** libbpf's [program type, expected attach type], or undefined when it knows no such name. */
  lookup(name: string): [number, number] | undefined;
  close(): void;
}

function openOracle(): Oracle {
  const lib = Deno.dlopen(LIBBPF, {
    libbpf_prog_type_by_name: { parameters: ["buffer", "buffer", "buffer"], result: "i32" },
  });
  const encoder = new TextEncoder();
  return {
    lookup(name) {
      // Each buffer is a local that outlives the call, so the GC cannot take it mid-call.
      const cName = new Uint8Array(new ArrayBuffer(encoder.encode(name).length + 1));
      encoder.encodeInto(name, cName);
      const progType = new Uint8Array(new ArrayBuffer(4));
      const attach = new Uint8Array(new ArrayBuffer(4));
      const r = lib.symbols.libbpf_prog_type_by_name(cName, progType, attach);
      // libbpf 1.1 answers -ESRCH for names it does not know (-EINVAL only for NULL).
      if (r < 0) return undefined;
      assertEquals(r, 0);
      const le = (b: Uint8Array) => new DataView(b.buffer).getUint32(0, true);
      return [le(progType), le(attach)];
    },
    close: () => lib.close(),
  };
}

/**
 * Asserts that our answer for `name` agrees with libbpf 1.1's: equal types where libbpf knows
 * the name, and otherwise unspecified or a pattern newer than libbpf 1.1.
 * libbpf_prog_type_by_name() does not strip the "?" that bpf_object__open() strips.
 */
function agree(oracle: Oracle, name: string): "known" | "newer" | "legacy" | "unknown" {
  const ours = sectionConvention(name);
  const theirs = oracle.lookup(name.startsWith("?") ? name.slice(1) : name);
  if (theirs !== undefined) {
    assertEquals([ours.programType, ours.attachType], theirs, `libbpf 1.1 on "${name}"`);
    assert(ours.pattern !== undefined);
    assertEquals(ours.legacy, false, `"${name}" is libbpf 1.1's, not legacy`);
    return "known";
  }
  if (ours.pattern === undefined) return "unknown";
  if (ours.legacy) return "legacy";
  assert(
    NEWER_THAN_LIBBPF_1_1.has(ours.pattern),
    `"${name}" matches "${ours.pattern}" here, but libbpf 1.1 does not know it`,
  );
  return "newer";
}

function oracleTest(name: string, fn: (oracle: Oracle) => void): void {
  const reason = oracleUnavailable();
  Deno.test({
    name: reason === undefined ? name : `${name} [skipped: ${reason}]`,
    ignore: reason !== undefined,
    fn() {
      const oracle = openOracle();
      try {
        fn(oracle);
      } finally {
        oracle.close();
      }
    },
  });
}

oracleTest("section conventions: libbpf 1.1 agrees on every pattern it knows", (oracle) => {
  const newer = new Set<string>();
  for (const row of TABLE) {
    for (const [name] of namesOf(row)) {
      const verdict = agree(oracle, name);
      assert(verdict !== "unknown", `"${name}" matches nothing here`);
      if (verdict === "newer") newer.add(row[0]);
      agree(oracle, `?${name}`);
    }
  }
  // Every pattern listed as newer really is unknown to libbpf 1.1, and no other one is.
  assertEquals([...newer].sort(), [...NEWER_THAN_LIBBPF_1_1].sort());
});

/** The NUL-terminated strings of a binary that look like section names. */
function stringsOf(bytes: Uint8Array): Set<string> {
  const out = new Set<string>();
  let start = 0;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] !== 0) continue;
    if (i - start >= 2 && i - start <= 64) {
      const s = new TextDecoder().decode(bytes.subarray(start, i));
      if (/^[a-z_][a-z0-9_./+]*$/.test(s)) out.add(s);
    }
    start = i + 1;
  }
  return out;
}

oracleTest("section conventions: every name in libbpf 1.1's binary, and its patterns", (oracle) => {
  const strings = stringsOf(Deno.readFileSync(LIBBPF));
  let known = 0;
  const theirPatterns = new Set<string>();
  for (const s of strings) {
    const base = s.replace(/[+/]$/, "");
    for (const name of [s, base, `${base}/`, `${base}/t`, `${base}x`]) {
      if (agree(oracle, name) === "known") known++;
    }
    // The linker merges string tails ("tp+" may live inside "raw_tp+"), so every suffix of
    // a string may be one of libbpf 1.1's patterns.
    for (let i = 0; i < s.length - 1; i++) {
      const t = s.slice(i);
      const pattern = t.endsWith("+")
        ? oracle.lookup(t.slice(0, -1)) && oracle.lookup(`${t.slice(0, -1)}/t`)
        : oracle.lookup(t) && !oracle.lookup(`${t}/t`);
      if (pattern) {
        theirPatterns.add(t);
        agree(oracle, t.replace(/\+$/, "/t"));
      }
    }
  }
  const ours = new Set(sectionDefinitions.map((d) => d.pattern));
  const missing = [...theirPatterns].filter((p) => !ours.has(p));
  assertEquals(missing, [], "patterns libbpf 1.1 has and we lack");
  // libbpf 1.1 has every pattern of ours but the newer ones (exact names found as strings).
  const legacyRows = new Set(sectionDefinitions.filter((d) => d.legacy).map((d) => d.pattern));
  const absent = [...ours].filter((p) =>
    !theirPatterns.has(p) && !NEWER_THAN_LIBBPF_1_1.has(p) && !legacyRows.has(p)
  );
  assertEquals(absent, [], "patterns not found in libbpf 1.1's binary");
  assert(known > 200, `only ${known} names libbpf knows`);
});

oracleTest("section conventions: 20,000 mutated names agree with libbpf 1.1", (oracle) => {
  let seed = 0x9e3779b9;
  const rand = (n: number) => {
    // xorshift32: deterministic, so a failure reproduces.
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % n;
  };
  const alphabet = "abcdefgiklmnoprstuwx_./+?:*-0123456789";
  const seeds = TABLE.flatMap((row) => namesOf(row).map(([name]) => name));
  const counts = { known: 0, newer: 0, legacy: 0, unknown: 0 };
  for (let i = 0; i < 20_000; i++) {
    let name = seeds[rand(seeds.length)];
    for (let edits = 1 + rand(3); edits > 0; edits--) {
      const at = rand(name.length + 1);
      const ch = alphabet[rand(alphabet.length)];
      switch (rand(4)) {
        case 0:
          name = name.slice(0, at) + ch + name.slice(at);
          break;
        case 1:
          name = name.slice(0, at) + name.slice(at + 1);
          break;
        case 2:
          name = name.slice(0, at) + ch + name.slice(at + 1);
          break;
        default:
          name = name.slice(0, at);
      }
    }
    counts[agree(oracle, name)]++;
  }
  // The mutations must exercise both sides, or the comparison proves little.
  assert(
    counts.known > 2000 && counts.unknown > 2000 && counts.legacy > 500,
    JSON.stringify(counts),
  );
});
