// Kernel tests of legacy tc attachments (attachTC: clsact qdisc + cls_bpf filter over
// rtnetlink), the path tc programs take on kernels without tcx (before 6.6). They run in a
// child Deno process inside a new network namespace (fixtures/tc_legacy_child.ts) joined to
// a peer namespace by a veth pair; iproute2's `tc -j filter show` is the oracle.
import {
  assert,
  assertEquals,
  assertGreaterOrEqual,
  assertNotEquals,
  assertThrows,
} from "@std/assert";
import * as asm from "../../asm/mod.ts";
import { ProgramType } from "../../prog/mod.ts";
import { attachTC } from "../../link/mod.ts";
import { NotSupportedError, SyscallError } from "../../errors.ts";
import { inNetns, runChild, withVethPair } from "./_netns.ts";
import { kernelTest, run } from "./_deps.ts";
import { load } from "./_progs.ts";

const CHILD = new URL("./fixtures/tc_legacy_child.ts", import.meta.url).pathname;

function child(prefix: string[], args: string[]) {
  return runChild(CHILD, prefix, args);
}

const noTc = () => {
  try {
    run("tc", ["-V"]);
    return undefined;
  } catch {
    return "needs iproute2 (ip, tc)";
  }
};

kernelTest(
  "attachTC: a cls_bpf filter on a veth's ingress sees packets, update drops them, close deletes it",
  () => {
    const r = withVethPair("tc", (a, b) => child(inNetns(b), ["tc", a]));
    const { pass, drop } = r.programIds;
    assertEquals(r.link.priority, 7, "the asked-for priority");
    assert(r.link.handle > 0, "the kernel picked a handle and echoed it");
    assertEquals(r.attached, [{ priority: 7, handle: r.link.handle, name: "link_test", id: pass }]);
    assertGreaterOrEqual(r.seen, 3, "the pass program saw the packets");
    assertEquals(r.passed, 3, "and they reached the stack");
    assertEquals(r.afterUpdate, [{
      priority: 7,
      handle: r.link.handle,
      name: "link_test",
      id: drop,
    }]);
    assertGreaterOrEqual(r.dropped, 3, "the drop program saw the packets");
    assertEquals(r.arrivedWhileDropping, 0, "and none reached the stack");
    assertEquals(r.both.length, 2, "a second filter with a kernel-picked priority");
    assertNotEquals(r.picked.priority, 7);
    assert(r.both.some((f: { priority: number }) => f.priority === r.picked.priority));
    assertEquals(r.afterClose, [], "close deleted both filters");
    assertEquals(r.closeAfterDeviceGone, "no error");
    assertEquals(r.refusals.length, 3);
    for (const e of r.refusals) assert(e.startsWith(`${NotSupportedError.name}: `), e);
    assert(r.refusals[0].includes("info of a legacy tc filter"), r.refusals[0]);
  },
  { skipIf: noTc },
);

kernelTest(
  "attachXDP through netlink on a veth sees packets, update drops them, close removes it",
  () => {
    const r = withVethPair("tc", (a, b) => child(inNetns(b), ["xdp", a]));
    const { pass, drop } = r.programIds;
    assert(r.isNetlinkLink);
    assertEquals(r.attached, pass, "ip link shows the program");
    assertGreaterOrEqual(r.seen, 3, "the pass program saw the packets");
    assertEquals(r.passed, 3, "and they reached the stack");
    assertEquals(r.afterUpdate, drop);
    assertGreaterOrEqual(r.dropped, 3, "the drop program saw the packets");
    assertEquals(r.arrivedWhileDropping, 0, "and none reached the stack");
    assertEquals(r.afterClose, null, "close removed it");
    assert(r.refusals[0].startsWith("NotSupportedError: info of XDP attached through netlink"));
    assert(r.refusals[1].startsWith("SyscallError: RTM_SETLINK xdp failed: EBUSY"), r.refusals[1]);
    assert(
      r.refusals[2].startsWith("SyscallError: RTM_SETLINK xdp (replace) failed"),
      r.refusals[2],
    );
  },
  { skipIf: noTc },
);

kernelTest("attachTC refuses bad arguments with typed errors", () => {
  using prog = load(
    ProgramType.SchedCLS,
    new asm.Instructions([asm.Mov.Imm(asm.R0, 0), asm.Return()]),
  );
  using xdp = load(ProgramType.XDP, new asm.Instructions([asm.Mov.Imm(asm.R0, 2), asm.Return()]));
  assertThrows(
    () => attachTC(xdp, { interface: "lo", direction: "ingress" }),
    TypeError,
    "sched_cls",
  );
  assertThrows(
    () => attachTC(prog, { interface: "lo", direction: "ingress", priority: 0x10000 }),
    RangeError,
    "priority",
  );
  assertThrows(
    // deno-lint-ignore no-explicit-any
    () => attachTC(prog, { interface: "lo", direction: "sideways" as any }),
    TypeError,
  );
  assertThrows(
    () => attachTC(prog, { interface: 0x7ffffff0, direction: "ingress" }),
    SyscallError,
    "RTM_NEWQDISC",
  );
});
