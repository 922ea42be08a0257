// Enumeration of the kernel's programs, maps, links and BTF objects: the ids walked by
// BPF_*_GET_NEXT_ID agree with bpftool's listing, the objects this test made are found and
// opened, and an object freed between the walk seeing its id and the open is skipped.
import { assert, assertEquals, assertThrows } from "@std/assert";
import * as asm from "../asm/mod.ts";
import { BtfHandle, btfIds, loadedBtf } from "../btf/handle.ts";
import { Int, IntEncoding } from "../btf/mod.ts";
import { type Attr, type Backend, BpfCmd, kernelBackend, setBackend } from "../ffi.ts";
import { Errno, SyscallError } from "../errors.ts";
import { BpfMap, loadedMaps, mapIds, MapSpec, MapType } from "../map/mod.ts";
import { loadedPrograms, Program, programIds, ProgramSpec, ProgramType } from "../prog/mod.ts";
import { attachRawTracepoint, linkFromId, linkIds, loadedLinks } from "../link/mod.ts";
import { kernelTest, run } from "./_harness.ts";

function hashMap(name: string): BpfMap {
  return BpfMap.create(
    new MapSpec({ name, type: MapType.Hash, keySize: 4, valueSize: 4, maxEntries: 1 }),
  );
}

function returnZero(name: string, type: ProgramType): Program {
  return Program.load(
    new ProgramSpec({
      name,
      type,
      instructions: new asm.Instructions([asm.Mov.Imm(asm.R0, 0), asm.Return()]),
      license: "GPL",
    }),
  );
}

function btfObject(name: string): BtfHandle {
  return BtfHandle.load([new Int(name, 4, IntEncoding.Signed)]);
}

/** The ids `bpftool -j KIND show` lists. */
function bpftoolIds(kind: string): number[] {
  return (JSON.parse(run("bpftool", ["-j", kind, "show"])) as { id: number }[]).map((o) => o.id);
}

/**
 * Our walk against bpftool's, on a machine where others create and free objects meanwhile:
 * ids seen by our walk before and after bpftool's were there all along, so bpftool lists
 * them; ids are handed out in increasing order and not soon reused, so an id bpftool lists
 * that our later walk still sees, and that is not above the first walk's last id, was seen by
 * the first walk too.
 */
function assertAgreesWithBpftool(kind: string, walk: () => Iterable<number>): void {
  const before = [...walk()];
  const listed = bpftoolIds(kind);
  const after = new Set(walk());
  assertEquals(before, [...before].sort((a, b) => a - b), `${kind}: ids ascend`);
  const listedSet = new Set(listed);
  for (const id of before) {
    if (after.has(id)) assert(listedSet.has(id), `${kind} ${id}: walked, not listed by bpftool`);
  }
  const last = before.at(-1) ?? 0;
  const beforeSet = new Set(before);
  for (const id of listed) {
    if (id <= last && after.has(id)) {
      assert(beforeSet.has(id), `${kind} ${id}: listed by bpftool, not walked`);
    }
  }
}

kernelTest("loaded objects: id walks agree with bpftool and find this test's objects", () => {
  using map = hashMap("enum_map");
  using prog = returnZero("enum_prog", ProgramType.SocketFilter);
  using rawTp = returnZero("enum_rawtp", ProgramType.RawTracepoint);
  using link = attachRawTracepoint(rawTp, "sys_enter");
  using btf = btfObject("enum_int");

  assertAgreesWithBpftool("prog", programIds);
  assertAgreesWithBpftool("map", mapIds);
  assertAgreesWithBpftool("link", linkIds);
  assertAgreesWithBpftool("btf", btfIds);

  const mapId = map.info().id;
  const progId = prog.info().id;
  const linkId = link.info().id;
  const btfId = btf.info().id;
  assert([...mapIds()].includes(mapId));
  assert([...programIds()].includes(progId));
  assert([...linkIds()].includes(linkId));
  assert([...btfIds()].includes(btfId));
  // vmlinux BTF is the first BTF object.
  assertEquals(btfIds().next().value, 1);

  // Opened objects: this test's, with the right identity, each closed by `using`.
  let found = 0;
  for (using m of loadedMaps()) {
    if (m.info().id === mapId) found++, assertEquals(m.info().name, "enum_map");
  }
  for (using p of loadedPrograms()) {
    if (p.info().id === progId) found++, assertEquals(p.info().name, "enum_prog");
  }
  for (using l of loadedLinks()) {
    const info = l.info();
    if (info.id === linkId) {
      found++;
      assertEquals(info.programId, rawTp.info().id);
      assertEquals(info.details, { kind: "raw_tracepoint", name: "sys_enter", cookie: 0n });
    }
  }
  for (using b of loadedBtf()) if (b.info().id === btfId) found++;
  assertEquals(found, 4);

  // Leaving a loop early opens nothing more (the leftovers check would see an fd).
  for (using _ of loadedPrograms()) break;
});

/**
 * The real kernel, except that asking `openCmd` for `victimId` first closes `victim`, its
 * last holder: the object vanishes between the walk seeing its id and the open.
 */
class VanishingKernel implements Backend {
  opened = 0;
  constructor(
    readonly openCmd: number,
    readonly victimId: number,
    readonly victim: { close(): void },
  ) {}
  bpf(cmd: number, attr: Attr): number {
    if (cmd === this.openCmd && attr.getU32(0) === this.victimId) {
      this.opened++;
      this.victim.close();
    }
    return kernelBackend.bpf(cmd, attr);
  }
  address(buffer: Uint8Array): bigint {
    return kernelBackend.address(buffer);
  }
}

/** Walks `open()` with `victim` vanishing on its open; returns the ids opened. */
function walkWhileVanishing<T extends Disposable>(
  openCmd: number,
  victimId: number,
  victim: { close(): void },
  open: () => Iterable<T>,
  idOf: (object: T) => number,
): number[] {
  const kernel = new VanishingKernel(openCmd, victimId, victim);
  const restore = setBackend(kernel);
  const ids: number[] = [];
  try {
    for (using object of open()) ids.push(idOf(object));
  } finally {
    restore();
  }
  assertEquals(kernel.opened, 1, "the walk asked for the victim");
  return ids;
}

kernelTest("loaded objects: one freed between its id and its open is skipped", () => {
  // The victim, then a survivor made after it, so with a higher id: the walk goes on past
  // the vanished object.
  {
    const victim = hashMap("enum_victim");
    const victimId = victim.info().id;
    using survivor = hashMap("enum_survivor");
    const ids = walkWhileVanishing(
      BpfCmd.MAP_GET_FD_BY_ID,
      victimId,
      victim,
      loadedMaps,
      (m) => m.info().id,
    );
    assert(!ids.includes(victimId));
    assert(ids.includes(survivor.info().id));
    const e = assertThrows(() => BpfMap.fromId(victimId), SyscallError);
    assertEquals(e.errno, Errno.ENOENT);
  }
  {
    const victim = returnZero("enum_victim", ProgramType.SocketFilter);
    const victimId = victim.info().id;
    using survivor = returnZero("enum_survivor", ProgramType.SocketFilter);
    const ids = walkWhileVanishing(
      BpfCmd.PROG_GET_FD_BY_ID,
      victimId,
      victim,
      loadedPrograms,
      (p) => p.info().id,
    );
    assert(!ids.includes(victimId));
    assert(ids.includes(survivor.info().id));
    assertThrows(() => Program.fromId(victimId), SyscallError, "ENOENT");
  }
  {
    using rawTp = returnZero("enum_rawtp", ProgramType.RawTracepoint);
    const victim = attachRawTracepoint(rawTp, "sys_enter");
    const victimId = victim.info().id;
    using survivor = attachRawTracepoint(rawTp, "sys_exit");
    const ids = walkWhileVanishing(
      BpfCmd.LINK_GET_FD_BY_ID,
      victimId,
      victim,
      loadedLinks,
      (l) => l.info().id,
    );
    assert(!ids.includes(victimId));
    assert(ids.includes(survivor.info().id));
    assertThrows(() => linkFromId(victimId), SyscallError, "ENOENT");
  }
  {
    const victim = btfObject("enum_victim");
    const victimId = victim.info().id;
    using survivor = btfObject("enum_survivor");
    const ids = walkWhileVanishing(
      BpfCmd.BTF_GET_FD_BY_ID,
      victimId,
      victim,
      loadedBtf,
      (b) => b.info().id,
    );
    assert(!ids.includes(victimId));
    assert(ids.includes(survivor.info().id));
    assertThrows(() => BtfHandle.fromId(victimId), SyscallError, "ENOENT");
  }
});

Deno.test("loaded objects: an id that cannot be a kernel id is a RangeError", () => {
  for (const id of [0, -1, 1.5, 2 ** 32, NaN]) {
    assertThrows(() => Program.fromId(id), RangeError, "program id");
    assertThrows(() => BpfMap.fromId(id), RangeError, "map id");
    assertThrows(() => linkFromId(id), RangeError, "link id");
    assertThrows(() => BtfHandle.fromId(id), RangeError, "BTF id");
  }
});
