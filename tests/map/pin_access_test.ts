// Pins opened read-only and write-only (BPF_F_RDONLY/BPF_F_WRONLY in BPF_OBJ_GET), checked by
// what the kernel then allows and by the fd's flags in /proc/self/fdinfo; possibleCpus()
// checked against the per-CPU values bpftool dumps.
import { assert, assertEquals, assertThrows } from "@std/assert";
import {
  asm,
  BpfMap,
  MapSpec,
  MapType,
  possibleCpus,
  Program,
  ProgramSpec,
  ProgramType,
} from "../../mod.ts";
import { PermissionError, SyscallError } from "../../errors.ts";
import { attachCgroup, AttachType, loadPinnedLink } from "../../mod.ts";
import { CGROUP2, noCgroup2 } from "../link/_skips.ts";
import { assertNoFdLeak, ensureBpffs, kernelTest, run } from "../_harness.ts";

/** The open flags of `fd` (octal in /proc/self/fdinfo), masked to the access mode. */
function accessMode(fd: number): number {
  const info = Deno.readTextFileSync(`/proc/self/fdinfo/${fd}`);
  return parseInt(/^flags:\s+([0-7]+)$/m.exec(info)![1], 8) & 3; // O_ACCMODE
}
const O_RDONLY = 0;
const O_WRONLY = 1;
const O_RDWR = 2;

/** A program of `type` that returns `value`. */
function returning(type: ProgramType, value: number): Program {
  return Program.load(
    new ProgramSpec({
      name: "pinned",
      type,
      instructions: new asm.Instructions([asm.Mov.Imm(asm.R0, value), asm.Return()]),
      license: "GPL",
    }),
  );
}

function withPinDir<T>(fn: (dir: string) => T): T {
  const dir = `${ensureBpffs()}/ebpf_pin_access_${Deno.pid}`;
  Deno.mkdirSync(dir);
  try {
    return fn(dir);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

kernelTest("BpfMap.loadPinned opens read-only and write-only as asked", async () => {
  await assertNoFdLeak(() =>
    withPinDir((dir) => {
      using map = BpfMap.create(
        new MapSpec({
          name: "pinned",
          type: MapType.Hash,
          keySize: 4,
          valueSize: 8,
          maxEntries: 4,
        }),
      );
      map.update(1, 10n);
      map.pin(`${dir}/map`);
      using rw = BpfMap.loadPinned(`${dir}/map`);
      assertEquals(accessMode(rw.fd), O_RDWR);

      using ro = BpfMap.loadPinned(`${dir}/map`, { readOnly: true });
      assertEquals(accessMode(ro.fd), O_RDONLY);
      assertEquals(ro.lookupBytes(1), map.lookupBytes(1));
      assertEquals([...ro.keys()].length, 1);
      const update = assertThrows(() => ro.update(2, 20n), PermissionError);
      assert(update.message.includes("readOnly"), update.message);
      assertThrows(() => ro.delete(1), PermissionError);

      using wo = BpfMap.loadPinned(`${dir}/map`, { writeOnly: true });
      assertEquals(accessMode(wo.fd), O_WRONLY);
      wo.update(3, 30n);
      assertEquals(map.lookupBytes(3), new Uint8Array(new BigUint64Array([30n]).buffer));
      const lookup = assertThrows(() => wo.lookup(3), PermissionError);
      assert(lookup.message.includes("writeOnly"), lookup.message);

      assertThrows(
        () => BpfMap.loadPinned(`${dir}/map`, { readOnly: true, writeOnly: true }),
        TypeError,
      );
    })
  );
});

kernelTest("Program.loadPinned: the kernel opens programs read-write whatever is asked", () => {
  withPinDir((dir) => {
    using prog = returning(ProgramType.SocketFilter, 0);
    prog.pin(`${dir}/prog`);
    for (const options of [{}, { readOnly: true }, { writeOnly: true }]) {
      using again = Program.loadPinned(`${dir}/prog`, options);
      assertEquals(accessMode(again.fd), O_RDWR);
      assertEquals(again.info().id, prog.info().id);
    }
  });
});

kernelTest("loadPinnedLink: the kernel opens links read-write only", () => {
  const cgroup = `${CGROUP2}/ebpf_pin_access_${Deno.pid}`;
  Deno.mkdirSync(cgroup);
  try {
    withPinDir((dir) => {
      using prog = returning(ProgramType.CGroupSKB, 1);
      using link = attachCgroup(prog, { path: cgroup, attachType: AttachType.CgroupInetEgress });
      link.pin(`${dir}/link`);
      using again = loadPinnedLink(`${dir}/link`);
      assertEquals(again.info().id, link.info().id);
      for (const options of [{ readOnly: true }, { writeOnly: true }]) {
        const e = assertThrows(() => loadPinnedLink(`${dir}/link`, options), SyscallError);
        assertEquals(e.code, "EINVAL");
        assert(e.message.includes("read-write only"), e.message);
      }
      link.unpin();
    });
  } finally {
    Deno.removeSync(cgroup);
  }
}, { skipIf: noCgroup2 });

kernelTest("possibleCpus() is the number of per-CPU values bpftool dumps", () => {
  using map = BpfMap.create(
    new MapSpec({
      name: "percpu",
      type: MapType.PerCPUArray,
      keySize: 4,
      valueSize: 8,
      maxEntries: 1,
    }),
  );
  const dump = JSON.parse(run("bpftool", ["-j", "map", "dump", "id", String(map.info().id)]));
  assertEquals(possibleCpus(), dump[0].values.length);
});
