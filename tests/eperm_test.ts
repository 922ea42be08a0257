// Every EPERM from a bpf() command is a PermissionError, whatever the command and whichever
// public call made it: a fake kernel answers EPERM to every command while maps, programs,
// links, pins and BTF are used through the public API. Before, BPF_MAP_CREATE, BPF_BTF_LOAD
// and BPF_OBJ_PIN outside a bpffs gave a SyscallError for the same errno.
import { assertEquals, assertInstanceOf, assertStringIncludes, assertThrows } from "@std/assert";
import * as asm from "../asm/mod.ts";
import { BtfHandle, btfIds } from "../btf/handle.ts";
import { Int, IntEncoding } from "../btf/mod.ts";
import { type Attr, type Backend, BpfCmd, bpfCmdName, kernelBackend, setBackend } from "../ffi.ts";
import { Errno, PermissionError, SyscallError } from "../errors.ts";
import { BpfMap, mapIds, MapSpec, MapType } from "../map/mod.ts";
import { Program, programIds, ProgramSpec, ProgramType } from "../prog/mod.ts";
import {
  attachCgroup,
  attachRawTracepoint,
  linkFromId,
  linkIds,
  loadPinnedLink,
} from "../link/mod.ts";
import { AttachType } from "../prog/mod.ts";
import { kernelTest } from "./_harness.ts";

/** Answers EPERM to every bpf() command and records which commands were asked. */
class RefusingKernel implements Backend {
  commands = new Set<number>();
  bpf(cmd: number, _attr: Attr): number {
    this.commands.add(cmd);
    return -Errno.EPERM;
  }
  address(buffer: Uint8Array): bigint {
    return kernelBackend.address(buffer);
  }
}

const mapSpec = new MapSpec({
  name: "eperm",
  type: MapType.Hash,
  keySize: 4,
  valueSize: 4,
  maxEntries: 4,
});
const progSpec = returnZero(ProgramType.SocketFilter);

function returnZero(type: ProgramType): ProgramSpec {
  return new ProgramSpec({
    name: "eperm",
    type,
    instructions: new asm.Instructions([asm.Mov.Imm(asm.R0, 0), asm.Return()]),
    license: "GPL",
  });
}

kernelTest("eperm: every bpf() command's EPERM is a PermissionError", () => {
  // Real objects first, so that the calls below reach the kernel with valid fds.
  using map = BpfMap.create(mapSpec);
  using prog = Program.load(progSpec);
  using skb = Program.load(returnZero(ProgramType.CGroupSKB));
  using rawTp = Program.load(returnZero(ProgramType.RawTracepoint));
  const cgroup = { path: "/sys/fs/cgroup/unified", attachType: AttachType.CgroupInetIngress };
  const fake = new RefusingKernel();
  const restore = setBackend(fake);
  try {
    const calls: Record<string, () => unknown> = {
      "BpfMap.create": () => BpfMap.create(mapSpec),
      "BpfMap.fromId": () => BpfMap.fromId(1),
      "BpfMap.loadPinned": () => BpfMap.loadPinned("/sys/fs/bpf/eperm"),
      "map.pin": () => map.pin("/sys/fs/bpf/eperm"),
      "map.lookup": () => map.lookup(1),
      "map.update": () => map.update(1, 2),
      "map.delete": () => map.delete(1),
      "map.lookupAndDelete": () => map.lookupAndDelete(1),
      "map.nextKey": () => map.nextKey(),
      "map.lookupBatch": () => map.lookupBatch(),
      "map.updateBatch": () => map.updateBatch(new Uint8Array(4), new Uint8Array(4)),
      "map.deleteBatch": () => map.deleteBatch(new Uint8Array(4)),
      "map.freeze": () => map.freeze(),
      "map.info": () => map.info(),
      "Program.load": () => Program.load(progSpec),
      "Program.fromId": () => Program.fromId(1),
      "Program.loadPinned": () => Program.loadPinned("/sys/fs/bpf/eperm"),
      "program.pin": () => prog.pin("/sys/fs/bpf/eperm"),
      "program.info": () => prog.info(),
      "program.run": () => prog.run({ data: new Uint8Array(64) }),
      "attachCgroup (link)": () => attachCgroup(skb, { ...cgroup, mode: "link" }),
      "attachCgroup (multi)": () => attachCgroup(skb, { ...cgroup, mode: "multi" }),
      "attachRawTracepoint": () => attachRawTracepoint(rawTp, "sys_enter"),
      "linkFromId": () => linkFromId(1),
      "loadPinnedLink": () => loadPinnedLink("/sys/fs/bpf/eperm"),
      "BtfHandle.load": () => BtfHandle.load([new Int("int", 4, IntEncoding.Signed)]),
      "BtfHandle.fromId": () => BtfHandle.fromId(1),
      "programIds": () => [...programIds()],
      "mapIds": () => [...mapIds()],
      "linkIds": () => [...linkIds()],
      "btfIds": () => [...btfIds()],
    };
    for (const [name, call] of Object.entries(calls)) {
      const e = assertThrows(call, PermissionError, undefined, name);
      assertInstanceOf(e.cause, SyscallError, name);
      assertEquals((e.cause as SyscallError).errno, Errno.EPERM, name);
      assertStringIncludes(e.message, "EPERM", name);
    }
    // The sweep reached the commands it means to cover.
    const asked = [...fake.commands].map(bpfCmdName);
    for (
      const cmd of [
        BpfCmd.MAP_CREATE,
        BpfCmd.PROG_LOAD,
        BpfCmd.BTF_LOAD,
        BpfCmd.OBJ_PIN,
        BpfCmd.OBJ_GET,
        BpfCmd.MAP_LOOKUP_ELEM,
        BpfCmd.MAP_UPDATE_ELEM,
        BpfCmd.MAP_DELETE_ELEM,
        BpfCmd.MAP_LOOKUP_AND_DELETE_ELEM,
        BpfCmd.MAP_GET_NEXT_KEY,
        BpfCmd.MAP_LOOKUP_BATCH,
        BpfCmd.MAP_UPDATE_BATCH,
        BpfCmd.MAP_DELETE_BATCH,
        BpfCmd.MAP_FREEZE,
        BpfCmd.OBJ_GET_INFO_BY_FD,
        BpfCmd.PROG_TEST_RUN,
        BpfCmd.LINK_CREATE,
        BpfCmd.PROG_ATTACH,
        BpfCmd.RAW_TRACEPOINT_OPEN,
        BpfCmd.MAP_GET_FD_BY_ID,
        BpfCmd.PROG_GET_FD_BY_ID,
        BpfCmd.LINK_GET_FD_BY_ID,
        BpfCmd.BTF_GET_FD_BY_ID,
        BpfCmd.PROG_GET_NEXT_ID,
        BpfCmd.MAP_GET_NEXT_ID,
        BpfCmd.LINK_GET_NEXT_ID,
        BpfCmd.BTF_GET_NEXT_ID,
      ]
    ) assertEquals(asked.includes(bpfCmdName(cmd)), true, `${bpfCmdName(cmd)} not reached`);
  } finally {
    restore();
  }
});
