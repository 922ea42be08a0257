// The feature probes (features.ts) against `bpftool feature probe kernel`, field by field:
// program types, map types, the helpers of every program type and the misc section; that
// every probe is memoised (a second full probe makes no syscall); and the require… errors.
import { assert, assertEquals, assertThrows } from "@std/assert";
import { asm, Errno, features, NotSupportedError, PermissionError, ProgramType } from "../mod.ts";
import { BpfCmd, kernelBackend, setBackend } from "../ffi.ts";
import { probeLoad } from "../prog/_probe_load.ts";
import { kernelTest } from "./_harness.ts";

/** What bpftool says, run once: `-j` gives the JSON, without it the text people read. */
let bpftoolCache: { json: Record<string, Record<string, unknown>>; text: string } | undefined;
function bpftool() {
  if (bpftoolCache) return bpftoolCache;
  const run = (args: string[]) => {
    const out = new Deno.Command("bpftool", { args, stdout: "piped", stderr: "piped" })
      .outputSync();
    if (!out.success) {
      throw new Error(`bpftool ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
    }
    return new TextDecoder().decode(out.stdout);
  };
  // `full` probes every helper (also those that write to dmesg when called).
  const json = JSON.parse(run(["-j", "feature", "probe", "kernel", "full"]));
  const text = run(["feature", "probe", "kernel", "full"]);
  return bpftoolCache = { json, text };
}

/** The newer verifier's words for a helper the program type may not call. */
const FORBIDDEN_NEW_WORDS = "program of this type cannot use helper ";

/** Whether the kernel's own log, for libbpf's helper probe program, says "forbidden". */
function kernelSaysForbidden(type: ProgramType, helper: string): boolean {
  const fn = asm.BuiltinFunc.byName(helper)!;
  const call = [0x85, 0, 0, 0, ...new Uint8Array(new Uint32Array([fn.id]).buffer)];
  const attach: Partial<Record<ProgramType, number>> = {
    [ProgramType.CGroupSockAddr]: 10,
    [ProgramType.CGroupSockopt]: 21,
    [ProgramType.SkLookup]: 36,
    [ProgramType.LircMode2]: 16,
  };
  const { fd, log } = probeLoad(type, call, {
    expectedAttachType: attach[type] ?? 0,
    flags: type === ProgramType.Syscall ? 1 << 4 : 0,
    log: true,
  });
  fd?.close();
  return log.includes(`${FORBIDDEN_NEW_WORDS}${helper}#`);
}

kernelTest("program types, map types and misc features agree with bpftool", () => {
  const report = features.featuresJson(features.probeFeatures({ helpers: false }));
  const { json } = bpftool();
  for (const section of ["program_types", "map_types", "misc"]) {
    const theirs = json[section];
    assert(Object.keys(theirs).length > 0, section);
    for (const [key, value] of Object.entries(theirs)) {
      assertEquals(report[section][key], value, `${section}.${key}`);
    }
  }
});

kernelTest("the helpers of every program type agree with bpftool", () => {
  const report = features.probeFeatures();
  const { json } = bpftool();
  const theirs = json.helpers as Record<string, string[]>;
  // bpftool knows the helpers of the uapi header it was built with: compare those.
  const known = Math.max(
    ...Object.values(theirs).flat().map((h) => asm.BuiltinFunc.byName(h)!.id),
  );
  let compared = 0;
  for (const [key, listed] of Object.entries(theirs)) {
    const type = report.programTypes.find((p) => `${p.name}_available_helpers` === key);
    if (type === undefined) throw new Error(`bpftool's ${key} is no program type we know`);
    const ours = (type.helpers ?? []).filter((h) => asm.BuiltinFunc.byName(h)!.id <= known);
    const onlyOurs = ours.filter((h) => !listed.includes(h));
    assertEquals(onlyOurs, [], `${key}: helpers bpftool does not list`);
    // Where bpftool cannot tell (below), the kernel's log is the judge of what we list.
    const forbidden = ours.filter((h) => kernelSaysForbidden(type.type, h));
    assertEquals(forbidden, [], `${key}: helpers we list that the kernel forbids`);
    // bpftool 7.1's libbpf knows only the older verifier's words ("unknown func"); a
    // helper it lists that we do not must be one the kernel's own log calls forbidden.
    const onlyTheirs = listed.filter((h) => !ours.includes(h));
    const unexplained = onlyTheirs.filter((h) => !kernelSaysForbidden(type.type, h));
    assertEquals(unexplained, [], `${key}: helpers bpftool lists that we do not`);
    compared += listed.length;
  }
  assert(compared > 0, "bpftool listed no helper at all");
});

kernelTest("the text report prints bpftool's lines for types and misc features", () => {
  const ours = new Set(
    features.formatFeatures(features.probeFeatures({ helpers: false }))
      .split("\n"),
  );
  const lines = bpftool().text.split("\n").filter((l) =>
    /^eBPF (program|map)_type /.test(l) || /^(Large program|Bounded loop|ISA extension)/.test(l)
  );
  assert(lines.length > 40, `${lines.length} lines`);
  for (const line of lines) assert(ours.has(line), `missing: ${line}`);
});

kernelTest("a second probe of everything makes no syscall", () => {
  let calls = 0;
  const restore = setBackend({
    bpf: (cmd, attr) => {
      calls++;
      return kernelBackend.bpf(cmd, attr);
    },
    address: kernelBackend.address,
  });
  try {
    const first = features.probeFeatures();
    const afterFirst = calls;
    assert(afterFirst > 1000, `${afterFirst} syscalls for the first probe`);
    const second = features.probeFeatures();
    features.haveProgramHelper(ProgramType.XDP, "bpf_redirect_map");
    features.isaVersion();
    features.haveBpfCookie();
    features.haveStructOps();
    assertEquals(calls, afterFirst, "syscalls on the second probe");
    assertEquals(second, first);
  } finally {
    restore();
  }
});

kernelTest("require… throws NotSupportedError naming the feature and its first kernel", () => {
  const report = features.probeFeatures({ helpers: false });
  const check = (
    f: { supported: boolean; minKernel: string },
    name: string,
    require: () => void,
  ) => {
    if (f.supported) return require();
    const e = assertThrows(require, NotSupportedError, undefined, name);
    assertEquals(e.minKernel, f.minKernel, name);
    assert(e.message.includes(`requires Linux ${f.minKernel}`), e.message);
  };
  for (const p of report.programTypes) check(p, p.name, () => features.requireProgramType(p.type));
  for (const m of report.mapTypes) check(m, m.name, () => features.requireMapType(m.type));
  for (const f of report.mapFlags) {
    check(f, f.key, () => features.requireMapFlag(f.key as features.MapFlag));
  }
  for (const f of report.linkKinds) {
    check(f, f.key, () => features.requireLinkKind(f.key as features.LinkFeature));
  }
  const misc = Object.fromEntries(report.misc.map((f) => [f.key, f.supported]));
  assertEquals(features.haveBoundedLoops(), misc.have_bounded_loops);
  assertEquals(features.haveLargePrograms(), misc.have_large_insn_limit);
  assertEquals(features.haveIsaV2(), misc.have_v2_isa_extension);
  assertEquals(features.haveIsaV3(), misc.have_v3_isa_extension);
  assertEquals(features.haveIsaV4(), misc.have_v4_isa_extension);
  assertEquals(features.havePerCpuElemFlags(), misc.have_percpu_elem_flags);
  const expected = misc.have_v4_isa_extension
    ? 4
    : misc.have_v3_isa_extension
    ? 3
    : misc.have_v2_isa_extension
    ? 2
    : 1;
  assertEquals(features.isaVersion(), expected);
  const requires: [boolean, string, () => void][] = [
    [misc.have_bounded_loops, "5.3", features.requireBoundedLoops],
    [misc.have_large_insn_limit, "5.2", features.requireLargePrograms],
    [misc.have_bpf_cookie, "5.15", features.requireBpfCookie],
    [misc.have_v2_isa_extension, "4.14", () => features.requireIsaVersion(2)],
    [misc.have_v3_isa_extension, "5.1", () => features.requireIsaVersion(3)],
    [misc.have_v4_isa_extension, "6.6", () => features.requireIsaVersion(4)],
  ];
  for (const [supported, minKernel, require] of requires) {
    check({ supported, minKernel }, minKernel, require);
  }
  features.requireIsaVersion(1);
  assertThrows(() => features.requireIsaVersion(5 as 4), RangeError);
});

kernelTest("helpers by number, name or BuiltinFunc, and what cannot be probed", () => {
  const byName = features.haveProgramHelper(ProgramType.SocketFilter, "bpf_map_lookup_elem");
  assertEquals(byName, true);
  assertEquals(features.haveProgramHelper(ProgramType.SocketFilter, "map_lookup_elem"), true);
  assertEquals(features.haveProgramHelper(ProgramType.SocketFilter, 1), true);
  assertEquals(features.haveProgramHelper(ProgramType.SocketFilter, asm.FnMapLookupElem), true);
  // Helper numbers past the last one the kernel knows: "invalid func unknown#N".
  assertEquals(features.haveProgramHelper(ProgramType.SocketFilter, 100_000), false);
  const e = assertThrows(
    () => features.requireProgramHelper(ProgramType.SocketFilter, 100_000),
    NotSupportedError,
  );
  assert(e.feature.includes("BPF_PROG_TYPE_SOCKET_FILTER"), e.feature);
  assertThrows(() => features.haveProgramHelper(ProgramType.SocketFilter, "bpf_nope"), RangeError);
  assertThrows(() => features.haveProgramHelper(ProgramType.Tracing, 1), RangeError);
  assertThrows(() => features.haveProgramType(99 as ProgramType), RangeError);
  assertThrows(() => features.haveMapFlag("BPF_F_NOPE" as features.MapFlag), RangeError);
  assertThrows(() => features.haveLinkKind("nope" as features.LinkFeature), RangeError);
});

Deno.test("without privileges every probe is a PermissionError", () => {
  const restore = setBackend({ bpf: () => -Errno.EPERM, address: kernelBackend.address });
  try {
    assertThrows(() => features.haveProgramType(ProgramType.XDP), PermissionError);
    assertThrows(() => features.haveProgramType(ProgramType.Tracing), PermissionError);
    assertThrows(() => features.haveProgramHelper(ProgramType.XDP, 1), PermissionError);
    assertThrows(() => features.haveBoundedLoops(), PermissionError);
    assertThrows(() => features.probeFeatures(), PermissionError);
  } finally {
    restore();
  }
});

Deno.test("a kernel that knows no program type: no helper probe runs, every answer is no", () => {
  const loads: number[] = [];
  const restore = setBackend({
    bpf: (cmd, attr) => {
      if (cmd === BpfCmd.PROG_LOAD) loads.push(attr.getU32(0));
      return -Errno.EINVAL;
    },
    address: kernelBackend.address,
  });
  try {
    assertEquals(features.haveProgramHelper(ProgramType.XDP, "bpf_redirect"), false);
    assertEquals(loads, [ProgramType.XDP], "only the program type probe");
    const e = assertThrows(() => features.requireProgramType(ProgramType.XDP), NotSupportedError);
    assertEquals([e.feature, e.minKernel], ["BPF_PROG_TYPE_XDP", "4.8"]);
    assertEquals(features.isaVersion(), 1);
    for (
      const [require, minKernel] of [
        [features.requireBoundedLoops, "5.3"],
        [features.requireLargePrograms, "5.2"],
        [features.requireBpfCookie, "5.15"],
        [() => features.requireIsaVersion(2), "4.14"],
        [() => features.requireStructOps(), "5.6"],
      ] as const
    ) {
      assertEquals(assertThrows(require, NotSupportedError).minKernel, minKernel);
    }
  } finally {
    restore();
  }
});
