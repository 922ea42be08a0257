// Enum-typed options are checked where the public call takes them: undefined (a misspelt
// member) or a value outside the enum is a TypeError naming the option and the allowed
// members, before any bpf() call. Before, `attachCgroup` with `attachType: undefined`
// attached to BPF_CGROUP_INET_INGRESS, the attach type numbered 0.
import { assertEquals, assertStringIncludes, assertThrows } from "@std/assert";
import * as asm from "../asm/mod.ts";
import { type Attr, type Backend, BpfCmd, dupFd, kernelBackend, setBackend } from "../ffi.ts";
import { BpfMap, MapSpec, MapType, type PinType } from "../map/mod.ts";
import {
  AttachType,
  CollectionSpec,
  newCollection,
  Program,
  ProgramSpec,
  ProgramType,
} from "../prog/mod.ts";
import {
  attachCgroup,
  attachNetfilter,
  attachPerfEvent,
  attachSockmap,
  attachTCX,
  attachTracing,
  attachXDP,
  PerfType,
} from "../link/mod.ts";
import { enumOption } from "../_internal/enum_option.ts";
import { kernelTest } from "./_harness.ts";

/** Passes calls to the kernel and records their commands. */
class RecordingKernel implements Backend {
  commands: number[] = [];
  bpf(cmd: number, attr: Attr): number {
    this.commands.push(cmd);
    return kernelBackend.bpf(cmd, attr);
  }
  address(buffer: Uint8Array): bigint {
    return kernelBackend.address(buffer);
  }
}

const CGROUP2 = "/sys/fs/cgroup/unified";

function returnZero(type: ProgramType, attachType: AttachType = AttachType.None): ProgramSpec {
  return new ProgramSpec({
    name: "enum_opt",
    type,
    attachType,
    instructions: new asm.Instructions([asm.Mov.Imm(asm.R0, 0), asm.Return()]),
    license: "GPL",
  });
}

/** A program handle of `type` over a real program's fd (the checks run before its use). */
function asType(prog: Program, type: ProgramType): Program {
  return Program.fromFd(dupFd(prog.fd), type);
}

Deno.test("enum options: the message names the option and every allowed member", () => {
  const e = assertThrows(() => enumOption(undefined, "XDP mode", { A: 1, B: 2 }, "XDPMode"));
  assertEquals(e.message, "Invalid XDP mode: undefined: expected one of XDPMode.A, XDPMode.B");
  assertThrows(
    () => enumOption("links", "cgroup attach mode", { auto: "auto", link: "link" }),
    TypeError,
    'Invalid cgroup attach mode: "links": expected one of "auto", "link"',
  );
  assertEquals(enumOption(2, "x", { A: 1, B: 2 }), 2);
});

kernelTest("enum options: undefined or unknown members are TypeErrors before any syscall", () => {
  using skb = Program.load(returnZero(ProgramType.CGroupSKB));
  using socket = Program.load(returnZero(ProgramType.SocketFilter));
  using sockmap = BpfMap.create(
    new MapSpec({ name: "sm", type: MapType.SockMap, keySize: 4, valueSize: 4, maxEntries: 1 }),
  );
  using xdp = asType(socket, ProgramType.XDP);
  using cls = asType(socket, ProgramType.SchedCLS);
  using skSkb = asType(socket, ProgramType.SkSKB);
  using tracing = asType(socket, ProgramType.Tracing);
  using nf = asType(socket, ProgramType.Netfilter);
  using perf = asType(socket, ProgramType.PerfEvent);
  const undef = undefined as unknown as never;
  const cases: [string, () => unknown, string][] = [
    [
      "attachCgroup attachType undefined",
      () => attachCgroup(skb, { path: CGROUP2, attachType: undef }),
      "Invalid cgroup attachType: undefined: expected one of AttachType.CgroupInetIngress",
    ],
    [
      "attachCgroup attachType not a cgroup hook",
      () => attachCgroup(skb, { path: CGROUP2, attachType: AttachType.XDP }),
      "Invalid cgroup attachType: 37",
    ],
    [
      "attachCgroup mode",
      () =>
        attachCgroup(skb, {
          path: CGROUP2,
          attachType: AttachType.CgroupInetIngress,
          mode: "links" as never,
        }),
      'Invalid cgroup attach mode: "links": expected one of "auto", "link", "multi", "override"',
    ],
    [
      "attachXDP mode",
      () => attachXDP(xdp, { interface: 1, mode: 3 as never }),
      "Invalid XDP mode: 3: expected one of XDPMode.Default, XDPMode.Generic",
    ],
    [
      "attachTCX direction",
      () => attachTCX(cls, { interface: 1, direction: undef }),
      'Invalid tcx direction: undefined: expected one of "ingress", "egress"',
    ],
    [
      "attachTCX anchor",
      () => attachTCX(cls, { interface: 1, direction: "ingress", anchor: "Head" as never }),
      'Invalid anchor: "Head": expected one of "head", "tail"',
    ],
    [
      "attachTCX anchor target",
      () => attachTCX(cls, { interface: 1, direction: "ingress", anchor: { before: undef } }),
      "Invalid anchor: before: undefined: expected a Program",
    ],
    [
      "attachSockmap attachType",
      () => attachSockmap(skSkb, sockmap, undef),
      "Invalid sockmap attachType: undefined: expected one of AttachType.SkSKBStreamParser",
    ],
    [
      "attachTracing attachType",
      () => attachTracing(tracing, { attachType: undef }),
      "Invalid tracing attachType: undefined: expected one of AttachType.None",
    ],
    [
      "attachNetfilter protocol",
      () => attachNetfilter(nf, { protocol: undef, hook: 1, priority: 0 }),
      "Invalid netfilter protocol: undefined: expected one of NetfilterProtocol.IPv4",
    ],
    [
      "attachNetfilter hook",
      () => attachNetfilter(nf, { protocol: 2, hook: 9, priority: 0 }),
      "Invalid netfilter hook: 9: expected one of NetfilterHook.",
    ],
    [
      "attachPerfEvent type",
      () => attachPerfEvent(perf, { type: undef, config: 0n }),
      "Invalid perf event type: undefined: expected one of PerfType.",
    ],
    [
      "attachPerfEvent config",
      () => attachPerfEvent(perf, { type: PerfType.Software, config: undef }),
      "Invalid perf event config: undefined",
    ],
    [
      "BpfMap.create type",
      () => BpfMap.create(new MapSpec({ name: "m", type: undef, keySize: 4, valueSize: 4 })),
      'Invalid type of map "m": undefined: expected one of MapType.',
    ],
    [
      "Program.load type",
      () => Program.load(returnZero(999 as ProgramType)),
      "Invalid type of program 'enum_opt': 999: expected one of ProgramType.",
    ],
    [
      "Program.load attachType",
      () => Program.load(returnZero(ProgramType.SocketFilter, 999 as AttachType)),
      "Invalid attachType of program 'enum_opt': 999: expected one of AttachType.",
    ],
    [
      "newCollection pinning",
      () =>
        newCollection(
          new CollectionSpec({
            maps: {
              m: new MapSpec({
                name: "m",
                type: MapType.Array,
                keySize: 4,
                valueSize: 4,
                maxEntries: 1,
                pinning: 7 as PinType,
              }),
            },
          }),
        ),
      'Invalid pinning of map "m": 7: expected one of PinType.None, PinType.ByName',
    ],
  ];
  const kernel = new RecordingKernel();
  const restore = setBackend(kernel);
  try {
    for (const [name, call, message] of cases) {
      const e = assertThrows(call, TypeError, undefined, name);
      assertStringIncludes(e.message, message, name);
      assertEquals(kernel.commands, [], `${name}: no bpf() call before the check`);
    }
  } finally {
    restore();
  }
  // The misspelt cgroup attach type no longer reaches BPF_LINK_CREATE at all.
  assertEquals(kernel.commands.includes(BpfCmd.LINK_CREATE), false);
});
