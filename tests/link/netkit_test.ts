// Kernel tests of netkit links (Linux 6.7; CONFIG_NETKIT): a pair made over rtnetlink in
// new network namespaces (tests/link/fixtures/net_child.ts), packets through both sides,
// queryPrograms and revisions, the live inspector's `net` against `bpftool -j link list`.
// Apart from net_test.ts so that the 6.18 leg of `deno task test:kernels` runs only these.
import {
  assert,
  assertEquals,
  assertGreater,
  assertGreaterOrEqual,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import * as asm from "../../asm/mod.ts";
import { linkTypeName } from "../../cmd/_live/names.ts";
import { Errno, NotSupportedError, SyscallError } from "../../errors.ts";
import { attachNetkit, linkFeatureMissing, LinkType } from "../../link/mod.ts";
import { AttachType, ProgramType } from "../../prog/mod.ts";
import { kernelTest, run } from "./_deps.ts";
import { LibcError } from "./_libc.ts";
import { inNetns, netnsCommand, runChild, withNetnsPair } from "./_netns.ts";
import { load } from "./_progs.ts";
import { createNetkit } from "./_rtnetlink.ts";
import { noIproute2 } from "./_skips.ts";

const CHILD = new URL("./fixtures/net_child.ts", import.meta.url).pathname;
const { R0 } = asm;

function child(prefix: string[], args: string[]) {
  return runChild(CHILD, prefix, args);
}

let netkitReason: string | undefined | null = null;

/** ERANGE (asm-generic/errno-base.h): a netlink attribute outside its policy's range. */
const ERANGE = 34;

/** What the kernel's build configuration says about netkit, when it can be read. */
function netkitConfig(): string {
  try {
    const line = run("bash", ["-c", "zcat /proc/config.gz | grep -E 'CONFIG_NETKIT[ =]'"]);
    return `; ${line.trim()}`;
  } catch {
    return "";
  }
}

/**
 * Why this kernel cannot make netkit devices, or undefined when it can. Asks rtnetlink for a
 * netkit pair with an invalid mode: a kernel with the driver rejects the mode (EINVAL/ERANGE) before
 * creating anything, one without it does not know the kind (EOPNOTSUPP).
 */
function netkitUnavailable(): string | undefined {
  if (netkitReason !== null) return netkitReason;
  try {
    createNetkit({ primary: `nkprobe${Deno.pid % 100000}`, peer: "nkprobe_peer", mode: 0xff });
    return netkitReason = "netkit probe unexpectedly created a device";
  } catch (e) {
    // The mode is checked after the kind is known: EINVAL (6.7), ERANGE from the attribute
    // policy (6.18).
    if (e instanceof LibcError && (e.errno === Errno.EINVAL || e.errno === ERANGE)) {
      return netkitReason = undefined;
    }
    if (e instanceof LibcError && e.errno === Errno.EOPNOTSUPP) {
      return netkitReason = 'this kernel has no netkit driver (RTM_NEWLINK of kind "netkit": ' +
        `EOPNOTSUPP${netkitConfig()})`;
    }
    return netkitReason = `netkit probe failed: ${e}`;
  }
}

kernelTest("rtnetlink helper: the framing that creates netkit pairs creates a veth pair", () => {
  withNetnsPair("link", (a, b) => {
    child(inNetns(a), ["veth_rtnetlink", b]);
    assert(/\bveth\b/.test(run(...netnsCommand(a, "ip", ["-d", "link", "show", "rv0"]))));
    assert(
      run(...netnsCommand(b, "ip", ["link", "show", "rv1"])).includes("rv1@"),
      "the peer is in B",
    );
  });
}, { skipIf: noIproute2 });

kernelTest(
  "netkit: programs on the primary and the peer of a pair see the packets each side " +
    "sends, and the primary's drops them after update",
  () => {
    const r = withNetnsPair("link", (a, b) => child(inNetns(a), ["netkit", b]));
    assertGreaterOrEqual(r.primarySeen, 3, "the primary's program saw what nk0 sent");
    assertEquals(r.peerArrived, 3, "and passed it to the peer namespace");
    assertGreaterOrEqual(r.peerSeen, 4, "the peer's program saw what nk1 sent");
    assertEquals(r.arrivedHere, 4);
    assertGreaterOrEqual(r.dropped, 3, "the dropping program ran");
    assertEquals(r.arrivedWhileDropping, 0, "and nothing reached the peer");
    assertEquals(r.primaryInfo.type, LinkType.Netkit);
    assertEquals(r.primaryInfo.details, {
      kind: "netkit",
      ifindex: r.ifindex,
      attachType: AttachType.NetkitPrimary,
    });
    assertEquals(r.peerInfo.details.attachType, AttachType.NetkitPeer);

    // queryPrograms: each chain holds its program (the primary's updated one) and link.
    const { ids } = r;
    assertEquals(r.before.primary.programs, [[ids.drop, ids.primaryLink]]);
    assertEquals(r.before.peer.programs, [[ids.peer, ids.peerLink]]);
    assertGreater(BigInt(r.before.primary.revision), 0n);
    // A stale expectedRevision is refused; the current one at the head is taken, and moves
    // the revision on by one.
    assertStringIncludes(r.staleError, "ESTALE");
    assertStringIncludes(r.staleError, "expectedRevision");
    assertEquals(r.after.programs, [[ids.head, ids.headLink], [ids.drop, ids.primaryLink]]);
    assertEquals(BigInt(r.after.revision), BigInt(r.before.primary.revision) + 1n);

    // The live inspector's net rows for the pair.
    const rows = r.net.filter((t: Record<string, unknown>) => t.devname === "nk0");
    assertEquals(rows.map((t: Record<string, unknown>) => [t.kind, t.prog_id, t.link_id]), [
      ["netkit/primary", ids.drop, ids.primaryLink],
      ["netkit/peer", ids.peer, ids.peerLink],
    ]);
    // bpftool 7.1's net shows no netkit: its link list names the same links and programs.
    for (const [link, prog] of [[ids.primaryLink, ids.drop], [ids.peerLink, ids.peer]]) {
      const l = r.bpftoolLinks.find((x: Record<string, unknown>) => x.id === link);
      assert(l, `bpftool lists link ${link}`);
      assertEquals(l.prog_id, prog);
      assertEquals(typeof l.type === "number" ? linkTypeName(l.type) : l.type, "netkit");
    }
  },
  { skipIf: () => noIproute2() ?? linkFeatureMissing("netkit") ?? netkitUnavailable() },
);

kernelTest("netkit: attaching where the kernel has no netkit device is a typed error", () => {
  using prog = load(
    ProgramType.SchedCLS,
    new asm.Instructions([asm.Mov.Imm(R0, -1), asm.Return()]),
  );
  for (const peer of [false, true]) {
    if (netkitUnavailable() === undefined) {
      // The driver is there: "lo" is simply not a netkit device.
      const e = assertThrows(() => attachNetkit(prog, { interface: "lo", peer }), SyscallError);
      assertEquals((e as SyscallError).code, "ENXIO");
    } else {
      const e = assertThrows(
        () => attachNetkit(prog, { interface: "lo", peer }),
        NotSupportedError,
      );
      assertEquals((e as NotSupportedError).feature, "netkit link");
      assertEquals(((e as Error).cause as SyscallError).code, "EINVAL");
    }
  }
});
