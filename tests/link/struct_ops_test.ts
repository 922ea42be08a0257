// Kernel test of struct_ops links: a tcp_congestion_ops made of four BPF programs is
// registered through a bpf_link, shows up in tcp_available_congestion_control, is chosen
// by a TCP socket (its `init` program counts the connection), is replaced with
// BPF_LINK_UPDATE by another of the same name (whose `init` then counts instead), and is
// gone when the link closes.
//
// The struct_ops map is made here with BPF_MAP_CREATE options that map/ already takes
// (a BTF fd and vmlinux value type id, BPF_F_LINK); its value, the kernel's
// `struct bpf_struct_ops_tcp_congestion_ops`, is laid out from vmlinux BTF by hand.
import { assert, assertEquals, assertGreaterOrEqual, assertThrows } from "@std/assert";
import * as asm from "../../asm/mod.ts";
import { type AttachType, type Program, ProgramType } from "../../prog/mod.ts";
import { BpfMap, MapSpec, MapType } from "../../map/mod.ts";
import { attachStructOps, linkFeatureMissing, LinkType, StructOpsLink } from "../../link/mod.ts";
import { PermissionError, SyscallError } from "../../errors.ts";
import { BtfHandle } from "../../btf/handle.ts";
import { Int } from "../../btf/types.ts";
import { assertNoFdLeak, kernelTest, run } from "./_deps.ts";
import { btfId, count, counters, countingInstructions, loadWithBtfId, vmlinux } from "./_progs.ts";
import { getStringOpt, IPPROTO_TCP, setStringOpt, TCP_CONGESTION, tcpPair } from "./_libc.ts";

const { R0 } = asm;
const BPF_F_LINK = 1 << 13;
const AVAILABLE = "/proc/sys/net/ipv4/tcp_available_congestion_control";

interface Member {
  name: string;
  offset: number;
}

/** The members of the vmlinux struct `name` (offsets in bytes) and its size. */
function layout(name: string): { id: number; size: number; members: Member[] } {
  const id = btfId(name, "struct");
  const t = vmlinux().typeById(id) as unknown as {
    size: number;
    members: { name: string; offset: number }[];
  };
  return {
    id,
    size: t.size,
    members: t.members.map((m) => ({ name: m.name, offset: m.offset / 8 })),
  };
}

function memberIndex(members: Member[], name: string): number {
  const i = members.findIndex((m) => m.name === name);
  if (i < 0) throw new Error(`No member "${name}" in tcp_congestion_ops`);
  return i;
}

/** A struct_ops program for member `member` of tcp_congestion_ops. */
function opsProgram(member: string, instructions: asm.Instructions): Program {
  const ops = layout("tcp_congestion_ops");
  const r = loadWithBtfId(
    ProgramType.StructOps,
    memberIndex(ops.members, member) as AttachType,
    ops.id,
    instructions,
  );
  if ("program" in r) return r.program;
  throw new SyscallError("BPF_PROG_LOAD", r.errno, `struct_ops "${member}": ${r.log}`);
}

const returning = (value: number) => new asm.Instructions([asm.Mov.Imm(R0, value), asm.Return()]);

/**
 * A struct_ops map holding a tcp_congestion_ops named `name` whose `init` counts in
 * `counter[index]`; the programs are returned for closing.
 */
function congestionOps(name: string, counter: BpfMap, index: number) {
  const value = layout("bpf_struct_ops_tcp_congestion_ops");
  const ops = layout("tcp_congestion_ops");
  const data = value.members.find((m) => m.name === "data")!.offset;
  const programs: Record<string, Program> = {
    init: opsProgram("init", countingInstructions(counter, { index })),
    // Reno-like constants are enough: the test looks at which ops a socket uses, not at
    // its congestion window.
    ssthresh: opsProgram("ssthresh", returning(10)),
    cong_avoid: opsProgram("cong_avoid", returning(0)),
    undo_cwnd: opsProgram("undo_cwnd", returning(10)),
  };
  // The kernel wants a BTF object's fd beside a vmlinux value type (libbpf passes the
  // object file's); any BTF does, so a one-type blob stands in.
  const objectBtf = BtfHandle.load([new Int("int", 4, 1)]);
  const bytes = new Uint8Array(value.size);
  const v = new DataView(bytes.buffer);
  for (const [member, prog] of Object.entries(programs)) {
    const at = data + ops.members[memberIndex(ops.members, member)].offset;
    v.setBigUint64(at, BigInt(prog.fd), true);
  }
  bytes.set(
    new TextEncoder().encode(name),
    data + ops.members[memberIndex(ops.members, "name")].offset,
  );
  const map = BpfMap.create(
    new MapSpec({
      name: "ebpf_l3cc",
      type: MapType.StructOpsMap,
      keySize: 4,
      valueSize: value.size,
      maxEntries: 1,
      flags: BPF_F_LINK,
    }),
    {
      btf: { fd: objectBtf.fd, keyTypeId: 0, valueTypeId: 0, vmlinuxValueTypeId: value.id },
      raw: true,
    },
  );
  objectBtf.close();
  // With BPF_F_LINK the update fills the table; only the link registers it.
  map.update(0, bytes);
  return {
    map,
    [Symbol.dispose]() {
      map.close();
      for (const p of Object.values(programs)) p.close();
    },
  };
}

const available = () => Deno.readTextFileSync(AVAILABLE).trim().split(/\s+/);

/** The congestion control a new loopback connection ends up with when it asks for `name`. */
function connectWith(name: string): string {
  using tcp = tcpPair((fd) => setStringOpt(fd, IPPROTO_TCP, TCP_CONGESTION, name));
  return getStringOpt(tcp.client, IPPROTO_TCP, TCP_CONGESTION);
}

kernelTest(
  "struct_ops: a tcp_congestion_ops registered through a link is used by a TCP " +
    "connection, replaced by update, and unregistered by close",
  async () => {
    const name = `ebpf_cc${Deno.pid}`;
    await assertNoFdLeak(() => {
      using counter = counters(2);
      // The kernel replaces a congestion control only with one of the same name.
      using a = congestionOps(name, counter, 0);
      using b = congestionOps(name, counter, 1);
      assert(!available().includes(name), "not registered before the link");
      const link = attachStructOps(a.map);
      try {
        assert(link instanceof StructOpsLink);
        assert(available().includes(name), `"${name}" registered`);
        assertEquals(connectWith(name), name);
        assertGreaterOrEqual(count(counter, 0), 1n, "its init program ran for the connection");
        const info = link.info();
        assertEquals(info.type, LinkType.StructOps);
        assertEquals(info.details, { kind: "struct_ops", mapId: a.map.info().id });
        // bpftool agrees on the link (7.1 prints its type but not its map).
        const shown = JSON.parse(run("bpftool", ["-j", "link", "show", "id", String(info.id)]));
        assertEquals([shown.id, shown.prog_id ?? 0], [info.id, info.programId]);
        assert(shown.type === "struct_ops" || shown.type === LinkType.StructOps, shown.type);

        link.updateMap(b.map, a.map);
        assertEquals(available().filter((n) => n === name).length, 1, "still registered once");
        const before = count(counter, 0);
        assertEquals(connectWith(name), name);
        assertGreaterOrEqual(count(counter, 1), 1n, "the new init ran");
        assertEquals(count(counter, 0), before, "the old init did not");
        assertEquals(link.info().details, { kind: "struct_ops", mapId: b.map.info().id });
        // The registered map is now b, not a: the kernel refuses (EPERM).
        assertThrows(() => link.updateMap(a.map, a.map), PermissionError, "expected");
      } finally {
        link.close();
      }
      assertEquals(available().includes(name), false, "unregistered on close");
      assertThrows(() => connectWith(name), Error, "ENOENT", "no longer selectable");
    });
  },
  { skipIf: () => linkFeatureMissing("structOps") },
);
