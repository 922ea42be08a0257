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
  linkFeatureMissing,
  LinkType,
  NetfilterHook,
  NetfilterLink,
  NetfilterProtocol,
  ProgAttachLink,
  SockmapLink,
} from "../../link/mod.ts";
import { Errno, NotSupportedError } from "../../errors.ts";
import { inNetns, runChild, withVethPair } from "./_netns.ts";
import { readable, recv, send, tcpPair } from "./_libc.ts";
import { assertNoFdLeak, kernelTest, run } from "./_deps.ts";
import { count, counters, countingInstructions, increment, load } from "./_progs.ts";
import { CGROUP2, noCgroup2, noIproute2 } from "./_skips.ts";

const { R0, R1, R6 } = asm;
const CHILD = new URL("./fixtures/net_child.ts", import.meta.url).pathname;

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

function child(prefix: string[], args: string[]) {
  return runChild(CHILD, prefix, args);
}

kernelTest("XDP on a veth in a new netns sees UDP packets, then drops them after update", () => {
  const r = withVethPair("link", (a, b) => child(inNetns(b), ["xdp", a]));
  assertEquals(r.info.type, LinkType.XDP);
  assertEquals(r.info.details.kind, "xdp");
  assertGreaterOrEqual(r.seen, 3, "the pass program saw the packets");
  assertEquals(r.passed, 3, "and they reached the stack");
  assertGreaterOrEqual(r.dropped, 1, "the drop program saw packets");
  assertEquals(r.arrivedWhileDropping, 0, "and none reached the stack");
}, { skipIf: noIproute2 });

kernelTest(
  "tcx ingress on a veth in a new netns sees packets, then drops them after update",
  () => {
    const r = withVethPair("link", (a, b) => child(inNetns(b), ["tcx", a]));
    assertEquals(r.info.type, LinkType.TCX);
    assertEquals(r.info.details, { kind: "tcx", ifindex: r.info.details.ifindex, attachType: 46 });
    assertGreaterOrEqual(r.seen, 3);
    assertEquals(r.passed, 3);
    assertGreaterOrEqual(r.dropped, 3);
    assertEquals(r.arrivedWhileDropping, 0);
  },
  { skipIf: () => noIproute2() ?? linkFeatureMissing("tcx") },
);

kernelTest("tcx anchors: a program attached before another runs first", () => {
  const r = withVethPair("link", (a, b) => child(inNetns(b), ["tcx_order", a]));
  assertEquals(r.chain, [r.b, r.a]);
}, { skipIf: () => noIproute2() ?? linkFeatureMissing("tcx") });

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
  { skipIf: noCgroup2 },
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
}, { skipIf: () => linkFeatureMissing("netfilter") });

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
}, { skipIf: () => linkFeatureMissing("sockmap") });

function sockmap(): BpfMap {
  return BpfMap.create(
    new MapSpec({ name: "socks", type: MapType.SockMap, keySize: 4, valueSize: 4, maxEntries: 4 }),
  );
}

/** Counts in `map[index]` and returns `ret`. */
function verdict(map: BpfMap, type: ProgramType, index: number, ret: number, at: AttachType) {
  return load(type, countingInstructions(map, { index, ret }), at);
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);
const bytes = (s: string) => new TextEncoder().encode(s);

/**
 * What arrives at `fd`, waiting for it: the verdict path queues data asynchronously. The
 * 30 s bound only ends a wait for data that never comes.
 */
function receive(fd: number): string {
  return readable(fd, 30_000) ? text(recv(fd)) : "";
}

kernelTest(
  "sockmap: an sk_msg verdict program sees each send of a socket in the map; after update " +
    "a socket added to the map is dropped",
  async () => {
    await assertNoFdLeak(() => {
      using socks = sockmap();
      using map = counters(2);
      using pass = verdict(map, ProgramType.SkMsg, 0, 1, AttachType.SkMsgVerdict); // SK_PASS
      using drop = verdict(map, ProgramType.SkMsg, 1, 0, AttachType.SkMsgVerdict); // SK_DROP
      using link = attachSockmap(pass, socks, AttachType.SkMsgVerdict);
      assert(link instanceof SockmapLink);
      using tcp = tcpPair();
      assertEquals(send(tcp.client, bytes("before")), 6);
      assertEquals(receive(tcp.server), "before");
      assertEquals(count(map, 0), 0n, "a socket outside the map is not seen");
      socks.update(0, tcp.client);
      for (const word of ["one", "two", "three"]) {
        assertEquals(send(tcp.client, bytes(word)), word.length);
        assertEquals(receive(tcp.server), word);
      }
      assertEquals(count(map, 0), 3n, "one run per sendmsg");
      // A socket takes the map's programs when it is added: after the update, a new socket
      // gets the dropping program (SK_DROP: sendmsg fails with EACCES, nothing is sent)
      // while the first keeps the program it was given.
      link.update(drop);
      using second = tcpPair();
      socks.update(1, second.client);
      assertEquals(send(second.client, bytes("four")), { errno: Errno.EACCES });
      assertEquals(count(map, 1), 1n);
      assertEquals(readable(second.server, 0), false, "nothing was sent, so nothing is queued");
      assertEquals(send(tcp.client, bytes("five")), 4);
      assertEquals(receive(tcp.server), "five");
      assertEquals(count(map, 0), 4n);
      link.close();
      // After close, a socket added to the map runs no program.
      using third = tcpPair();
      socks.update(2, third.client);
      assertEquals(send(third.client, bytes("six")), 3);
      assertEquals(receive(third.server), "six");
      assertEquals([count(map, 0), count(map, 1)], [4n, 1n], "no verdict ran for it");
    });
  },
  { skipIf: () => linkFeatureMissing("sockmap") },
);

kernelTest(
  "sockmap: an sk_skb verdict program sees what a socket in the map receives",
  async () => {
    await assertNoFdLeak(() => {
      using socks = sockmap();
      using map = counters(1);
      using prog = verdict(map, ProgramType.SkSKB, 0, 1, AttachType.SkSKBVerdict);
      using link = attachSockmap(prog, socks, AttachType.SkSKBVerdict);
      assert(link instanceof SockmapLink);
      assertEquals(link.info().details, {
        kind: "sockmap",
        mapId: socks.info().id,
        attachType: AttachType.SkSKBVerdict,
      });
      using tcp = tcpPair();
      socks.update(0, tcp.server);
      let got = "";
      for (const word of ["alpha", "beta"]) {
        assertEquals(send(tcp.client, bytes(word)), word.length);
        got += receive(tcp.server);
      }
      assertEquals(got, "alphabeta", "SK_PASS delivers the data");
      assertGreaterOrEqual(count(map), 2n, "the verdict ran for each segment");
      assertEquals(send(tcp.server, bytes("back")), 4);
      const seen = count(map);
      assertEquals(receive(tcp.client), "back");
      assertEquals(count(map), seen, "the client, not in the map, is not seen");
    });
  },
  { skipIf: () => linkFeatureMissing("sockmap") },
);
