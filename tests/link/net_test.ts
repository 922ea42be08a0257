// Kernel tests of the networking links. Namespaced hooks (XDP, tcx, sk_lookup, flow
// dissector) run in a child Deno process inside a new network namespace
// (fixtures/net_child.ts); cgroup, netfilter and sockmap run in this process.
import { assert, assertEquals, assertGreaterOrEqual, assertThrows } from "@std/assert";
import * as asm from "../../asm/mod.ts";
import { AttachType, ProgramType } from "../../prog/mod.ts";
import { BpfMap, MapSpec, MapType } from "../../map/mod.ts";
import {
  attachCgroup,
  attachNetfilter,
  attachSockmap,
  CgroupLink,
  LinkType,
  NetfilterHook,
  NetfilterLink,
  NetfilterProtocol,
  ProgAttachLink,
  SockmapLink,
} from "../../link/mod.ts";
import { NotSupportedError } from "../../errors.ts";
import { assertNoFdLeak, kernelTest, run } from "./_deps.ts";
import { count, counters, increment, load } from "./_progs.ts";

const { R0, R1, R6 } = asm;
const CHILD = new URL("./fixtures/net_child.ts", import.meta.url).pathname;
const CGROUP2 = "/sys/fs/cgroup/unified";

function counting(map: BpfMap, type: ProgramType, ret: number, attachType?: AttachType) {
  return load(
    type,
    new asm.Instructions([
      asm.Mov.Reg(R6, R1),
      ...increment(map, 0, "out"),
      asm.Label("out"),
      asm.Mov.Imm(R0, ret),
      asm.Return(),
    ]),
    attachType,
  );
}

// deno-lint-ignore no-explicit-any
function child(prefix: string[], args: string[]): any {
  const out = new Deno.Command(prefix[0], {
    args: [...prefix.slice(1), Deno.execPath(), "run", "-A", CHILD, ...args],
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  const text = new TextDecoder().decode(out.stdout).trim();
  if (!out.success) throw new Error(`Child failed: ${new TextDecoder().decode(out.stderr)}`);
  return JSON.parse(text.split("\n").at(-1)!);
}

/** Two namespaces joined by a veth pair: v0 10.99.0.1 in A, v1 10.99.0.2 in B. */
function withVethPair<T>(fn: (a: string, b: string) => T): T {
  const a = `ebpf_link_a_${Deno.pid}`;
  const b = `ebpf_link_b_${Deno.pid}`;
  run("ip", ["netns", "add", a]);
  try {
    run("ip", ["netns", "add", b]);
    try {
      run("ip", [
        "link",
        "add",
        "v0",
        "netns",
        a,
        "type",
        "veth",
        "peer",
        "name",
        "v1",
        "netns",
        b,
      ]);
      run("ip", ["-n", a, "addr", "add", "10.99.0.1/24", "dev", "v0"]);
      run("ip", ["-n", b, "addr", "add", "10.99.0.2/24", "dev", "v1"]);
      run("ip", ["-n", a, "link", "set", "v0", "up"]);
      run("ip", ["-n", b, "link", "set", "v1", "up"]);
      return fn(a, b);
    } finally {
      run("ip", ["netns", "del", b]);
    }
  } finally {
    run("ip", ["netns", "del", a]);
  }
}

const noIp = () => {
  try {
    run("ip", ["-V"]);
    return undefined;
  } catch {
    return "needs iproute2";
  }
};

kernelTest("XDP on a veth in a new netns sees UDP packets, then drops them after update", () => {
  const r = withVethPair((a, b) => child(["ip", "netns", "exec", b], ["xdp", a]));
  assertEquals(r.info.type, LinkType.XDP);
  assertEquals(r.info.details.kind, "xdp");
  assertGreaterOrEqual(r.seen, 3, "the pass program saw the packets");
  assertEquals(r.passed, 3, "and they reached the stack");
  assertGreaterOrEqual(r.dropped, 1, "the drop program saw packets");
  assertEquals(r.arrivedWhileDropping, 0, "and none reached the stack");
}, { skipIf: noIp });

kernelTest(
  "tcx ingress on a veth in a new netns sees packets, then drops them after update",
  () => {
    const r = withVethPair((a, b) => child(["ip", "netns", "exec", b], ["tcx", a]));
    assertEquals(r.info.type, LinkType.TCX);
    assertEquals(r.info.details, { kind: "tcx", ifindex: r.info.details.ifindex, attachType: 46 });
    assertGreaterOrEqual(r.seen, 3);
    assertEquals(r.passed, 3);
    assertGreaterOrEqual(r.dropped, 3);
    assertEquals(r.arrivedWhileDropping, 0);
  },
  { skipIf: noIp },
);

kernelTest("tcx anchors: a program attached before another runs first", () => {
  const r = withVethPair((a, b) => child(["ip", "netns", "exec", b], ["tcx_order", a]));
  assertEquals(r.chain, [r.b, r.a]);
}, { skipIf: noIp });

kernelTest("sk_lookup steers a connection in a new netns to another listener", () => {
  const r = child(["unshare", "-n"], ["sk_lookup"]);
  assertEquals(r.refusedBefore, true, "port 8888 has no listener");
  assertEquals(r.steered, 1);
  assertEquals(r.received, "hi", "the 7777 listener accepted the connection to 8888");
  assertEquals(r.isNetNsLink, true);
  assertEquals(r.details.kind, "netns");
  assertEquals(r.details.attachType, AttachType.SkLookup);
});

kernelTest("flow_dissector attaches to a new netns", () => {
  const r = child(["unshare", "-n"], ["flow_dissector"]);
  assertEquals(r.details.attachType, AttachType.FlowDissector);
});

function withCgroup<T>(fn: (path: string) => T): T {
  const path = `${CGROUP2}/ebpf_link_test_${Deno.pid}`;
  Deno.mkdirSync(path);
  try {
    return fn(path);
  } finally {
    Deno.removeSync(path);
  }
}

/** Sends `n` UDP datagrams to 127.0.0.1 from a shell that first joins `cgroup`. */
function sendFromCgroup(cgroup: string, n: number): void {
  run("bash", [
    "-c",
    `echo $$ > ${cgroup}/cgroup.procs && for i in $(seq ${n}); do echo x > /dev/udp/127.0.0.1/9999; done`,
  ]);
}

kernelTest(
  "cgroup_skb counts the packets a process in a new cgroup sends (link and multi)",
  async () => {
    await assertNoFdLeak(() => {
      withCgroup((path) => {
        using map = counters();
        using prog = counting(map, ProgramType.CGroupSKB, 1);
        const link = attachCgroup(prog, { path, attachType: AttachType.CgroupInetEgress });
        assert(link instanceof CgroupLink);
        sendFromCgroup(path, 5);
        const n = count(map);
        assertGreaterOrEqual(n, 5n);
        const info = link.info();
        assertEquals(info.details.kind, "cgroup");
        if (info.details.kind === "cgroup") {
          assertEquals(info.details.attachType, AttachType.CgroupInetEgress);
          // bpftool agrees on the cgroup's id.
          const shown = JSON.parse(run("bpftool", ["link", "show", "id", String(info.id), "-j"]));
          assertEquals(BigInt(shown.cgroup_id), info.details.cgroupId);
        }
        link.close();
        sendFromCgroup(path, 5);
        assertEquals(count(map), n, "nothing counted after close");
        // BPF_PROG_ATTACH with BPF_F_ALLOW_MULTI.
        const legacy = attachCgroup(prog, {
          path,
          attachType: AttachType.CgroupInetEgress,
          mode: "multi",
        });
        assert(legacy instanceof ProgAttachLink);
        sendFromCgroup(path, 5);
        assertGreaterOrEqual(count(map) - n, 5n);
        assertThrows(() => legacy.pin("/sys/fs/bpf/x"), NotSupportedError);
        legacy.close();
        const m = count(map);
        sendFromCgroup(path, 3);
        assertEquals(count(map), m, "nothing counted after detach");
      });
    });
  },
  {
    skipIf: () => {
      try {
        Deno.statSync(`${CGROUP2}/cgroup.procs`);
        return undefined;
      } catch {
        return `no cgroup v2 at ${CGROUP2}`;
      }
    },
  },
);

kernelTest("netfilter sees a packet at LOCAL_OUT", () => {
  using map = counters();
  using prog = counting(map, ProgramType.Netfilter, 1, /* NF_ACCEPT */ AttachType.Netfilter);
  using link = attachNetfilter(prog, {
    protocol: NetfilterProtocol.IPv4,
    hook: NetfilterHook.LocalOut,
    priority: -128,
  });
  assert(link instanceof NetfilterLink);
  run("bash", ["-c", "for i in 1 2 3; do echo x > /dev/udp/127.0.0.1/9999; done"]);
  assertGreaterOrEqual(count(map), 3n);
  assertEquals(link.info().details, {
    kind: "netfilter",
    pf: NetfilterProtocol.IPv4,
    hooknum: NetfilterHook.LocalOut,
    priority: -128,
    flags: 0,
  });
  assertThrows(
    () => attachNetfilter(prog, { protocol: 2, hook: 3, priority: 2 ** 31 - 1 }),
    RangeError,
  );
});

kernelTest("sockmap: a verdict program attaches to a sockmap as a link", () => {
  using map = BpfMap.create(
    new MapSpec({ name: "socks", type: MapType.SockMap, keySize: 4, valueSize: 4, maxEntries: 4 }),
  );
  using prog = load(
    ProgramType.SkSKB,
    new asm.Instructions([asm.Mov.Imm(R0, 1), asm.Return()]),
    AttachType.SkSKBStreamVerdict,
  );
  using link = attachSockmap(prog, map, AttachType.SkSKBStreamVerdict);
  assert(link instanceof SockmapLink);
  const info = link.info();
  assertEquals(info.details.kind, "sockmap");
  if (info.details.kind === "sockmap") assertEquals(info.details.mapId, map.info().id);
  assertThrows(() => attachSockmap(prog, map, AttachType.CgroupInetEgress), TypeError);
});

function netkitUnavailable(): string | undefined {
  const ns = `ebpf_link_nkprobe_${Deno.pid}`;
  try {
    run("ip", ["netns", "add", ns]);
  } catch (e) {
    return `cannot make a netns: ${e}`;
  }
  try {
    run("ip", ["-n", ns, "link", "add", "nk0", "type", "netkit"]);
    return undefined;
  } catch (e) {
    return `cannot make a netkit device (iproute2 or kernel): ${
      String(e).split("\n").at(-1)?.slice(-60)
    }`;
  } finally {
    run("ip", ["netns", "del", ns]);
  }
}

kernelTest("netkit: a program attaches to the primary of a netkit pair in a new netns", () => {
  const r = child(["unshare", "-n"], ["netkit"]);
  assertEquals(r.details.kind, "netkit");
  assertEquals(r.details.attachType, AttachType.NetkitPrimary);
}, { skipIf: netkitUnavailable });
