// The attach functions against a fake kernel: the exact attrs they send to bpf() and
// perf_event_open(2), for hooks this machine's kernel refuses (kprobes, trampolines) and
// for encodings that are easy to get subtly wrong (anchors, multi-attach arrays).
import { assertEquals, assertThrows } from "@std/assert";
import { type Attr, type Backend, BpfCmd, eventFd, setBackend } from "../../ffi.ts";
import { type BpfMap, MapType } from "../../map/mod.ts";
import { assertNoFdLeak } from "../_harness.ts";
import { Errno, NotSupportedError, PermissionError, SyscallError } from "../../errors.ts";
import { AttachType, Program, ProgramType } from "../../prog/mod.ts";
import {
  attachFentry,
  attachFexit,
  attachKprobe,
  attachKprobeMulti,
  attachKretprobe,
  attachLSM,
  attachModifyReturn,
  attachNetfilter,
  attachStructOps,
  attachTCX,
  attachTracing,
  attachUprobeMulti,
  attachXDP,
  PerfEventIoctlLink,
  PerfEventLink,
  type RawLink,
  TracingLink,
  XDPMode,
} from "../../link/mod.ts";
import { PerfIoc, setFileReader, setPerfIoctl, setPerfOpener } from "../../link/_perf_event.ts";
import { setTracefsAppender } from "../../link/_tracefs.ts";

interface Call {
  cmd: number;
  bytes: Uint8Array;
  attr: Attr;
}

/** A fake kernel: records bpf() calls, answers from `reply`, hands out real eventfds. */
class FakeKernel implements Backend {
  calls: Call[] = [];
  buffers = new Map<bigint, Uint8Array>();
  #next = 0x10000n;
  fds: number[] = [];
  constructor(public reply: (cmd: number, attr: Attr) => number = () => this.fd()) {}
  fd(): number {
    const fd = eventFd();
    this.fds.push(fd);
    return fd;
  }
  bpf(cmd: number, attr: Attr): number {
    this.calls.push({ cmd, bytes: attr.bytes.slice(), attr });
    return this.reply(cmd, attr);
  }
  address(buffer: Uint8Array): bigint {
    const a = this.#next;
    this.#next += 0x1000n;
    this.buffers.set(a, buffer);
    return a;
  }
  cString(addr: bigint): string {
    const b = this.buffers.get(addr)!;
    return new TextDecoder().decode(b.subarray(0, b.indexOf(0)));
  }
}

const u32 = (b: Uint8Array, o: number) => new DataView(b.buffer).getUint32(o, true);
const u64 = (b: Uint8Array, o: number) => new DataView(b.buffer).getBigUint64(o, true);

interface PerfCall {
  attr: Uint8Array;
  pid: number;
  cpu: number;
  flags: bigint;
}

/** Runs `fn` with the fake kernel, a fake perf_event_open, fake sysfs files and ioctls. */
function withFakes(
  files: Record<string, string>,
  fn: (k: FakeKernel, perf: PerfCall[], ioctls: bigint[][], appended: string[]) => void,
  options: { reply?: (cmd: number, attr: Attr) => number; open?: (attr: Uint8Array) => void } = {},
): void {
  const kernel = new FakeKernel();
  if (options.reply) kernel.reply = options.reply;
  const perf: PerfCall[] = [];
  const ioctls: bigint[][] = [];
  const appended: string[] = [];
  const restore = [
    setBackend(kernel),
    setPerfOpener((attr, args) => {
      perf.push({ attr: attr.slice(), pid: args.pid, cpu: args.cpu, flags: args.flags ?? 0n });
      options.open?.(attr);
      return kernel.fd();
    }),
    setPerfIoctl((fd, req, arg) => {
      ioctls.push([BigInt(fd), req, arg]);
      return 0;
    }),
    setFileReader((path) => {
      if (path in files) return files[path];
      throw new Deno.errors.NotFound(path);
    }),
    setTracefsAppender((_path, text) => {
      appended.push(text);
    }),
  ];
  try {
    fn(kernel, perf, ioctls, appended);
  } finally {
    for (const r of restore.reverse()) r();
  }
}

function fakeProgram(type: ProgramType): Program {
  return Program.fromFd(eventFd(), type, "fake");
}

const KPROBE_PMU = {
  "/sys/bus/event_source/devices/kprobe/type": "6\n",
  "/sys/bus/event_source/devices/kprobe/format/retprobe": "config:0\n",
};

Deno.test("fake kernel: kprobe through the PMU sends the symbol, offset and cookie", () => {
  using prog = fakeProgram(ProgramType.Kprobe);
  withFakes(KPROBE_PMU, (k, perf) => {
    using link = attachKprobe(prog, "do_sys_openat2", { offset: 4n, cookie: 0xabcn });
    assertEquals(link instanceof PerfEventLink, true);
    assertEquals(perf.length, 1);
    const a = perf[0].attr;
    assertEquals(u32(a, 0), 6, "perf_event_attr.type: the kprobe PMU");
    assertEquals(u32(a, 4), 128, "size");
    assertEquals(u64(a, 8), 0n, "config: not a retprobe");
    assertEquals(u64(a, 16), 1n, "sample_period");
    assertEquals(k.cString(u64(a, 56)), "do_sys_openat2", "config1: kprobe_func");
    assertEquals(u64(a, 64), 4n, "config2: probe_offset");
    assertEquals([perf[0].pid, perf[0].cpu, perf[0].flags], [-1, 0, 8n]);
    const create = k.calls.find((c) => c.cmd === BpfCmd.LINK_CREATE)!;
    assertEquals(u32(create.bytes, 0), prog.fd);
    assertEquals(u32(create.bytes, 4), link.perfEventFd);
    assertEquals(u32(create.bytes, 8), AttachType.PerfEvent);
    assertEquals(u64(create.bytes, 16), 0xabcn, "perf_event.bpf_cookie");
  });
});

Deno.test("fake kernel: sys_ names try the syscall prefix first, then the plain name", () => {
  using prog = fakeProgram(ProgramType.Kprobe);
  const tried: string[] = [];
  let kernel: FakeKernel;
  withFakes(KPROBE_PMU, (k, perf) => {
    kernel = k;
    using _l = attachKprobe(prog, "sys_getpid");
    assertEquals(perf.length, 2);
    assertEquals(tried, ["__x64_sys_getpid", "sys_getpid"]);
  }, {
    open: (attr) => {
      tried.push(kernel.cString(u64(attr, 56)));
      if (tried.length === 1) throw new SyscallError("perf_event_open", Errno.ENOENT);
    },
  });
});

Deno.test("fake kernel: kretprobe sets the PMU's retprobe bit", () => {
  using prog = fakeProgram(ProgramType.Kprobe);
  withFakes({
    "/sys/bus/event_source/devices/kprobe/type": "9",
    "/sys/bus/event_source/devices/kprobe/format/retprobe": "config:5",
  }, (_k, perf) => {
    using _l = attachKretprobe(prog, "vfs_read");
    assertEquals(u32(perf[0].attr, 0), 9);
    assertEquals(u64(perf[0].attr, 8), 1n << 5n);
  });
  assertThrows(() => attachKretprobe(prog, "vfs_read", { offset: 1n } as never), TypeError);
});

Deno.test("fake kernel: no kprobe PMU and no kprobe_events is NotSupportedError", () => {
  using prog = fakeProgram(ProgramType.Kprobe);
  withFakes({ "/sys/kernel/tracing/available_events": "" }, (k, perf) => {
    assertThrows(() => attachKprobe(prog, "vfs_read"), NotSupportedError);
    assertEquals(perf.length, 0);
    assertEquals(k.calls.length, 0);
  });
});

Deno.test("fake kernel: kprobe through tracefs kprobe_events, removed on close", () => {
  using prog = fakeProgram(ProgramType.Kprobe);
  const files: Record<string, string> = {
    "/sys/kernel/tracing/available_events": "",
    "/sys/kernel/tracing/kprobe_events": "",
  };
  // Any event the library creates gets id 1234.
  const reader = new Proxy(files, {
    has: (t, p) => typeof p === "string" && (p in t || p.endsWith("/id")),
    get: (t, p) => typeof p === "string" && p.endsWith("/id") ? "1234\n" : t[p as string],
  });
  withFakes(reader, (_k, perf, _i, appended) => {
    const link = attachKprobe(prog, "vfs_read", { offset: 16n });
    const m = /^p:(ebpf_deno_\d+)\/(p_\d+) vfs_read\+16\n$/.exec(appended[0]);
    assertEquals(m !== null, true, appended[0]);
    assertEquals(u32(perf[0].attr, 0), 2, "PERF_TYPE_TRACEPOINT");
    assertEquals(u64(perf[0].attr, 8), 1234n);
    link.close();
    assertEquals(appended[1], `-:${m![1]}/${m![2]}\n`);
  });
});

Deno.test("fake kernel: perf event without bpf_link falls back to PERF_EVENT_IOC_SET_BPF", () => {
  using prog = fakeProgram(ProgramType.Kprobe);
  withFakes(KPROBE_PMU, (_k, _perf, ioctls) => {
    const link = attachKprobe(prog, "vfs_read");
    assertEquals(link instanceof PerfEventIoctlLink, true);
    const fd = BigInt((link as PerfEventIoctlLink).perfEventFd);
    assertEquals(ioctls, [[fd, PerfIoc.SetBpf, BigInt(prog.fd)], [fd, PerfIoc.Enable, 0n]]);
    assertThrows(() => link.pin("/sys/fs/bpf/x"), NotSupportedError);
    assertThrows(() => link.info(), NotSupportedError);
    link.close();
  }, { reply: (cmd) => cmd === BpfCmd.LINK_CREATE ? -Errno.EINVAL : 3 });
});

Deno.test("fake kernel: kprobe_multi sends symbol pointers, count, flags and cookies", () => {
  using prog = fakeProgram(ProgramType.Kprobe);
  withFakes({}, (k) => {
    using _l = attachKprobeMulti(prog, {
      symbols: ["vfs_read", "vfs_write"],
      cookies: [1n, 2n],
      return: true,
    });
    const c = k.calls[0];
    assertEquals(c.cmd, BpfCmd.LINK_CREATE);
    assertEquals(u32(c.bytes, 8), AttachType.TraceKprobeMulti);
    assertEquals(u32(c.bytes, 16), 1, "BPF_F_KPROBE_MULTI_RETURN");
    assertEquals(u32(c.bytes, 20), 2, "cnt");
    const syms = k.buffers.get(u64(c.bytes, 24))!;
    assertEquals([k.cString(u64(syms, 0)), k.cString(u64(syms, 8))], ["vfs_read", "vfs_write"]);
    assertEquals(u64(c.bytes, 32), 0n, "no addrs");
    const cookies = k.buffers.get(u64(c.bytes, 40))!;
    assertEquals([u64(cookies, 0), u64(cookies, 8)], [1n, 2n]);
  });
  withFakes({}, () => {
    assertThrows(() => attachKprobeMulti(prog, { symbols: ["x"] }), NotSupportedError);
  }, { reply: () => -Errno.EOPNOTSUPP });
  assertThrows(() => attachKprobeMulti(prog, { symbols: ["a"], cookies: [] }), RangeError);
});

Deno.test("fake kernel: kprobe session is a kprobe_multi link of attach type KPROBE_SESSION", () => {
  using prog = fakeProgram(ProgramType.Kprobe);
  withFakes({}, (k) => {
    using _l = attachKprobeMulti(prog, { symbols: ["vfs_read"], session: true });
    const c = k.calls[0];
    assertEquals(c.cmd, BpfCmd.LINK_CREATE);
    assertEquals(u32(c.bytes, 8), AttachType.TraceKprobeSession);
    assertEquals(u32(c.bytes, 16), 0, "no BPF_F_KPROBE_MULTI_RETURN: a session runs at both");
    assertEquals(u32(c.bytes, 20), 1, "cnt");
    assertEquals(k.cString(u64(k.buffers.get(u64(c.bytes, 24))!, 0)), "vfs_read");
  });
  withFakes({}, () => {
    const e = assertThrows(
      () => attachKprobeMulti(prog, { symbols: ["x"], session: true }),
      NotSupportedError,
    );
    assertEquals([e.feature, e.minKernel], ["kprobe session link", "6.10"]);
  }, { reply: () => -Errno.EOPNOTSUPP });
  assertThrows(
    () => attachKprobeMulti(prog, { symbols: ["a"], session: true, return: true }),
    TypeError,
  );
});

Deno.test("fake kernel: fentry, fexit, fmod_ret and lsm links repeat the attach type", () => {
  using tracing = fakeProgram(ProgramType.Tracing);
  using lsm = fakeProgram(ProgramType.LSM);
  const cases: [() => RawLink, number, Program][] = [
    [() => attachFentry(tracing, 77n), AttachType.TraceFentry, tracing],
    [() => attachFexit(tracing), AttachType.TraceFexit, tracing],
    [() => attachModifyReturn(tracing), AttachType.ModifyReturn, tracing],
    [() => attachLSM(lsm), AttachType.LSMMAC, lsm],
  ];
  for (const [attach, type, prog] of cases) {
    withFakes({}, (k) => {
      using link = attach();
      assertEquals(link instanceof TracingLink, true);
      const c = k.calls[0];
      assertEquals(c.cmd, BpfCmd.LINK_CREATE);
      assertEquals([u32(c.bytes, 0), u32(c.bytes, 4), u32(c.bytes, 8)], [prog.fd, 0, type]);
      assertEquals(u32(c.bytes, 12), 0, "flags");
      assertEquals(u32(c.bytes, 16), 0, "target_btf_id");
      assertEquals(u64(c.bytes, 24), type === AttachType.TraceFentry ? 77n : 0n, "cookie");
    });
  }
  // Kernels before 5.11: EINVAL from LINK_CREATE, then BPF_RAW_TRACEPOINT_OPEN with no name.
  withFakes({}, (k) => {
    using link = attachFentry(tracing);
    assertEquals(link instanceof TracingLink, true);
    assertEquals(k.calls.map((c) => c.cmd), [BpfCmd.LINK_CREATE, BpfCmd.RAW_TRACEPOINT_OPEN]);
    assertEquals(u64(k.calls[1].bytes, 0), 0n, "name NULL");
    assertEquals(u32(k.calls[1].bytes, 8), tracing.fd);
  }, {
    reply: (cmd) => cmd === BpfCmd.LINK_CREATE ? -Errno.EINVAL : eventFd(),
  });
  // EPERM (this kernel) is a PermissionError, not NotSupportedError.
  withFakes({}, () => {
    assertThrows(() => attachFexit(tracing), Error);
  }, { reply: () => -Errno.EPERM });
  using sock = fakeProgram(ProgramType.SocketFilter);
  assertThrows(() => attachTracing(sock, { attachType: AttachType.TraceFentry }), TypeError);
});

Deno.test("fake kernel: tcx anchors encode flags and the relative fd or id", () => {
  using prog = fakeProgram(ProgramType.SchedCLS);
  using other = fakeProgram(ProgramType.SchedCLS);
  withFakes({}, (k) => {
    const sent = () => {
      const b = k.calls.at(-1)!.bytes;
      return {
        target: u32(b, 4),
        type: u32(b, 8),
        flags: u32(b, 12),
        rel: u32(b, 16),
        rev: u64(b, 24),
      };
    };
    using a = attachTCX(prog, { interface: 7, direction: "ingress" });
    assertEquals(sent(), {
      target: 7,
      type: AttachType.TCXIngress,
      flags: 1 << 4,
      rel: 0,
      rev: 0n,
    });
    using _b = attachTCX(prog, { interface: 7, direction: "egress", anchor: "head" });
    assertEquals(sent().flags, 1 << 3);
    assertEquals(sent().type, AttachType.TCXEgress);
    using _c = attachTCX(prog, { interface: 7, direction: "ingress", anchor: { before: a } });
    assertEquals([sent().flags, sent().rel], [(1 << 3) | (1 << 13), a.fd]);
    using _d = attachTCX(prog, {
      interface: 7,
      direction: "ingress",
      anchor: { after: other },
      expectedRevision: 5n,
    });
    assertEquals([sent().flags, sent().rel, sent().rev], [1 << 4, other.fd, 5n]);
    using _e = attachTCX(prog, {
      interface: 7,
      direction: "ingress",
      anchor: { before: { programId: 42 } },
    });
    assertEquals([sent().flags, sent().rel], [(1 << 3) | (1 << 5), 42]);
  });
  assertThrows(() => attachTCX(prog, { interface: 0, direction: "ingress" }), RangeError);
  assertThrows(() => attachTCX(prog, { interface: "a/b", direction: "ingress" }), TypeError);
});

Deno.test("fake kernel: a failed attach closes the perf event it opened", async () => {
  using prog = fakeProgram(ProgramType.Kprobe);
  await assertNoFdLeak(() => {
    withFakes(KPROBE_PMU, (_k, perf) => {
      assertThrows(() => attachKprobe(prog, "vfs_read", { cookie: 1n }), PermissionError);
      assertEquals(perf.length, 1, "a perf event was opened, and closed again");
    }, { reply: () => -Errno.EPERM });
  });
});

Deno.test("fake kernel: struct_ops, netfilter and XDP attrs", () => {
  withFakes({}, (k) => {
    const map = { fd: 1234, type: MapType.StructOpsMap, flags: 1 << 13 } as unknown as BpfMap;
    using _s = attachStructOps(map);
    assertThrows(() => attachStructOps({ ...map, flags: 0 } as BpfMap), TypeError, "BPF_F_LINK");
    assertEquals(k.calls.length, 1, "no syscall for a map made without BPF_F_LINK");
    const b = k.calls[0].bytes;
    assertEquals([u32(b, 0), u32(b, 4), u32(b, 8), u32(b, 12)], [1234, 0, AttachType.StructOps, 0]);
  });
  using nf = fakeProgram(ProgramType.Netfilter);
  withFakes({}, (k) => {
    using _l = attachNetfilter(nf, { protocol: 10, hook: 4, priority: -5, defrag: true });
    const b = k.calls[0].bytes;
    assertEquals(u32(b, 8), AttachType.Netfilter);
    assertEquals([u32(b, 16), u32(b, 20), new DataView(b.buffer).getInt32(24, true), u32(b, 28)], [
      10,
      4,
      -5,
      1,
    ]);
  });
  using xdp = fakeProgram(ProgramType.XDP);
  withFakes({}, (k) => {
    using _l = attachXDP(xdp, { interface: 3, mode: XDPMode.Driver });
    const b = k.calls[0].bytes;
    assertEquals([u32(b, 4), u32(b, 8), u32(b, 12)], [3, AttachType.XDP, 4]);
  });
});

Deno.test("fake kernel: uprobe_multi sends path, offsets, cookies, pid and the return flag", () => {
  using prog = fakeProgram(ProgramType.Kprobe);
  withFakes({}, (k) => {
    using _l = attachUprobeMulti(prog, "/proc/self/exe", {
      offsets: [0x1000n, 0x2000n],
      cookies: [5n, 6n],
      pid: 77,
      return: true,
    });
    const b = k.calls[0].bytes;
    assertEquals(u32(b, 8), AttachType.TraceUprobeMulti);
    assertEquals(u32(b, 12), 0, "link_create.flags");
    assertEquals(k.cString(u64(b, 16)), "/proc/self/exe");
    const offs = k.buffers.get(u64(b, 24))!;
    assertEquals([u64(offs, 0), u64(offs, 8)], [0x1000n, 0x2000n]);
    assertEquals(u64(b, 32), 0n, "no ref_ctr_offsets");
    const cookies = k.buffers.get(u64(b, 40))!;
    assertEquals([u64(cookies, 0), u64(cookies, 8)], [5n, 6n]);
    assertEquals([u32(b, 48), u32(b, 52), u32(b, 56)], [2, 1, 77]);
  });
});
