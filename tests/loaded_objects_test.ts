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

/** An object with an id and an fd, as every kind enumerated here is. */
interface KernelObject extends Disposable {
  info(): { id: number };
  close(): void;
}

/** One kind of object: how to make one, the command that opens it by id, the walk. */
interface Kind {
  name: string;
  make(tag: string): KernelObject;
  openCmd: number;
  walk(): Iterable<KernelObject>;
  fromId(id: number): KernelObject;
}

/**
 * Makes a victim, then a survivor (made after it, so with a higher id), and walks `kind`
 * with the victim vanishing on its open: the walk skips it and goes on to the survivor.
 */
function assertSkipsVanished(kind: Kind): void {
  const victim = kind.make("enum_victim");
  const victimId = victim.info().id;
  using survivor = kind.make("enum_survivor");
  const vanishing = new VanishingKernel(kind.openCmd, victimId, victim);
  const restore = setBackend(vanishing);
  const ids: number[] = [];
  try {
    for (using object of kind.walk()) ids.push(object.info().id);
  } finally {
    restore();
  }
  assertEquals(vanishing.opened, 1, `${kind.name}: the walk asked for the victim`);
  assert(!ids.includes(victimId), kind.name);
  assert(ids.includes(survivor.info().id), kind.name);
  const e = assertThrows(() => kind.fromId(victimId), SyscallError);
  assertEquals(e.errno, Errno.ENOENT, kind.name);
}

kernelTest("loaded objects: one freed between its id and its open is skipped", () => {
  using rawTp = returnZero("enum_rawtp", ProgramType.RawTracepoint);
  const tracepoints = ["sys_enter", "sys_exit"];
  const kinds: Kind[] = [
    {
      name: "map",
      make: hashMap,
      openCmd: BpfCmd.MAP_GET_FD_BY_ID,
      walk: loadedMaps,
      fromId: BpfMap.fromId,
    },
    {
      name: "program",
      make: (tag) => returnZero(tag, ProgramType.SocketFilter),
      openCmd: BpfCmd.PROG_GET_FD_BY_ID,
      walk: loadedPrograms,
      fromId: Program.fromId,
    },
    {
      name: "link",
      make: () => attachRawTracepoint(rawTp, tracepoints.shift()!),
      openCmd: BpfCmd.LINK_GET_FD_BY_ID,
      walk: loadedLinks,
      fromId: linkFromId,
    },
    {
      name: "BTF",
      make: btfObject,
      openCmd: BpfCmd.BTF_GET_FD_BY_ID,
      walk: loadedBtf,
      fromId: BtfHandle.fromId,
    },
  ];
  for (const kind of kinds) assertSkipsVanished(kind);
});

Deno.test("loaded objects: an id that cannot be a kernel id is a RangeError", () => {
  for (const id of [0, -1, 1.5, 2 ** 32, NaN]) {
    assertThrows(() => Program.fromId(id), RangeError, "program id");
    assertThrows(() => BpfMap.fromId(id), RangeError, "map id");
    assertThrows(() => linkFromId(id), RangeError, "link id");
    assertThrows(() => BtfHandle.fromId(id), RangeError, "BTF id");
  }
});
