// Link feature probes: their answers against the running kernel's version and build config,
// and what attach functions report when a kernel lacks the hook.
import { assert, assertEquals, assertInstanceOf, assertThrows } from "@std/assert";
import * as asm from "../../asm/mod.ts";
import { AttachType, ProgramType } from "../../prog/mod.ts";
import { BpfMap, MapSpec, MapType } from "../../map/mod.ts";
import {
  attachKprobeMulti,
  attachNetfilter,
  attachNetkit,
  attachSockmap,
  attachTCX,
  attachTracepoint,
  haveLinkFeature,
  LINK_FEATURES,
  type LinkFeature,
  linkFeatureMissing,
  NetfilterHook,
  NetfilterProtocol,
  PerfEventKind,
  ProgAttachLink,
} from "../../link/mod.ts";
import { Errno, NotSupportedError } from "../../errors.ts";
import { type Backend, BpfCmd, kernelBackend, setBackend } from "../../ffi.ts";
import { ensureTracefs, kernelTest, openFdCount } from "../_harness.ts";
import { load } from "./_progs.ts";

/** The running kernel's build config, from /boot or /proc/config.gz. */
function kernelConfig(): string {
  try {
    return Deno.readTextFileSync(`/boot/config-${Deno.osRelease()}`);
  } catch {
    const out = new Deno.Command("zcat", { args: ["/proc/config.gz"] }).outputSync();
    if (!out.success) throw new Error("no kernel config in /boot or /proc/config.gz");
    return new TextDecoder().decode(out.stdout);
  }
}

/** Whether the running kernel's version is at least `min` ("6.6"). */
function atLeast(min: string): boolean {
  const [major, minor] = Deno.osRelease().split(".").map(Number);
  const [wantMajor, wantMinor] = min.split(".").map(Number);
  return major > wantMajor || (major === wantMajor && minor >= wantMinor);
}

kernelTest("link feature probes agree with the kernel's version and build config", () => {
  const config = kernelConfig();
  const before = openFdCount();
  for (
    const [name, info] of Object.entries(LINK_FEATURES) as [
      LinkFeature,
      typeof LINK_FEATURES[LinkFeature],
    ][]
  ) {
    const built = info.config === undefined ||
      new RegExp(`^${info.config}=[ym]$`, "m").test(config);
    const expected = atLeast(info.minKernel) && built;
    assertEquals(haveLinkFeature(name), expected, `${name} on ${Deno.osRelease()}`);
    const reason = linkFeatureMissing(name);
    if (expected) assertEquals(reason, undefined);
    else assert(reason?.includes(`requires Linux ${info.minKernel}`), reason);
  }
  assertEquals(openFdCount(), before, "probes close what they make");
  assertThrows(() => haveLinkFeature("nope" as LinkFeature), RangeError);
});

/** A backend for which the kernel knows no link kind: every new LINK_CREATE and load fails. */
function kernelWithoutLinks(): Backend {
  return {
    bpf(cmd, attr) {
      if (cmd === BpfCmd.LINK_CREATE || cmd === BpfCmd.PROG_LOAD || cmd === BpfCmd.MAP_CREATE) {
        return -Errno.EINVAL;
      }
      return kernelBackend.bpf(cmd, attr);
    },
    address: kernelBackend.address,
  };
}

function assertMissing(
  fn: () => unknown,
  feature: string,
  minKernel: string,
): NotSupportedError {
  const e = assertThrows(fn, NotSupportedError);
  assertEquals([e.feature, e.minKernel], [feature, minKernel]);
  assert(e.cause instanceof Error, "the kernel's errno is kept as the cause");
  return e;
}

kernelTest("a kernel without the hook: attach functions say which feature and kernel", () => {
  const ret0 = new asm.Instructions([asm.Mov.Imm(asm.R0, 0), asm.Return()]);
  using cls = load(ProgramType.SchedCLS, ret0);
  using kmulti = load(ProgramType.Kprobe, ret0, AttachType.TraceKprobeMulti);
  // Kernels without netfilter links have no netfilter programs either (both came in 6.4).
  using nf = haveLinkFeature("netfilter")
    ? load(ProgramType.Netfilter, ret0, AttachType.Netfilter)
    : undefined;
  using msg = load(ProgramType.SkMsg, ret0, AttachType.SkMsgVerdict);
  using sockmap = BpfMap.create(
    new MapSpec({ type: MapType.SockMap, keySize: 4, valueSize: 4, maxEntries: 1 }),
  );
  const restore = setBackend(kernelWithoutLinks());
  try {
    const tcx = assertMissing(
      () => attachTCX(cls, { interface: "lo", direction: "ingress" }),
      "tcx link",
      "6.6",
    );
    assert(tcx.message.includes("attachTC attaches"), "it names the legacy fallback");
    assertMissing(() => attachNetkit(cls, { interface: "lo" }), "netkit link", "6.7");
    if (nf) {
      const options = {
        protocol: NetfilterProtocol.IPv4,
        hook: NetfilterHook.LocalOut,
        priority: 1,
      };
      assertMissing(() => attachNetfilter(nf, options), "netfilter link", "6.4");
    }
    assertMissing(
      () => attachKprobeMulti(kmulti, { symbols: ["bpf_fentry_test1"] }),
      "kprobe_multi link",
      "5.18",
    );
    assertMissing(
      () => attachKprobeMulti(kmulti, { symbols: ["bpf_fentry_test1"], session: true }),
      "kprobe session link",
      "6.10",
    );
    // Without sockmap links the program is attached the old way, BPF_PROG_ATTACH.
    using old = attachSockmap(msg, sockmap, AttachType.SkMsgVerdict);
    assertInstanceOf(old, ProgAttachLink);
  } finally {
    restore();
  }
});

kernelTest("an errno that is not about the hook stays the kernel's error", () => {
  const ret0 = new asm.Instructions([asm.Mov.Imm(asm.R0, 0), asm.Return()]);
  using cls = load(ProgramType.SchedCLS, ret0);
  // A device index no interface has: the kernel's ENODEV (tcx kernels), or NotSupportedError.
  const e = assertThrows(() => attachTCX(cls, { interface: 0x7fffffff, direction: "egress" }));
  if (haveLinkFeature("tcx")) assertEquals((e as { code?: string }).code, "ENODEV");
  else assertInstanceOf(e, NotSupportedError);
});

/**
 * The real kernel, except that link info reads lose everything after the common fields
 * (type, id, prog_id), as kernels before 6.6 report perf_event links.
 */
function kernelWithoutPerfEventInfo(): Backend & { hidden: number } {
  const buffers = new Map<bigint, Uint8Array>();
  return {
    hidden: 0,
    bpf(cmd, attr) {
      const r = kernelBackend.bpf(cmd, attr);
      if (cmd === BpfCmd.OBJ_GET_INFO_BY_FD && r === 0) {
        const info = buffers.get(attr.getU64(8));
        if (info && new DataView(info.buffer, info.byteOffset).getUint32(0, true) === 7) {
          info.fill(0, 16); // BPF_LINK_TYPE_PERF_EVENT: the union stays empty
          this.hidden++;
        }
      }
      return r;
    },
    address(buffer) {
      const at = kernelBackend.address(buffer);
      buffers.set(at, buffer);
      return at;
    },
  };
}

kernelTest("before 6.6, a perf event link's info says what it was attached to", () => {
  ensureTracefs();
  using prog = load(
    ProgramType.TracePoint,
    new asm.Instructions([asm.Mov.Imm(asm.R0, 0), asm.Return()]),
  );
  using link = attachTracepoint(prog, "syscalls", "sys_enter_getpid", { cookie: 7n });
  const real = link.info();
  const old61 = kernelWithoutPerfEventInfo();
  const restore = setBackend(old61);
  let old;
  try {
    old = link.info();
  } finally {
    restore();
  }
  assert(old61.hidden > 0, "the kernel's perf event details were hidden");
  assertEquals([old.type, old.id, old.programId], [real.type, real.id, real.programId]);
  // What the library remembers equals what a 6.6+ kernel reports.
  if (real.details.kind === "perf_event" && real.details.perfEventType !== 0) {
    assertEquals(old.details, real.details);
  }
  assertEquals(old.details, {
    kind: "perf_event",
    perfEventType: PerfEventKind.Tracepoint,
    name: "sys_enter_getpid",
    offset: 0n,
    address: 0n,
    cookie: 7n,
    missed: 0n,
    refCtrOffset: 0n,
    eventType: 0,
  });
});
