// Pin paths, checked once for maps, programs and links: a NUL byte is a TypeError before any
// syscall (never a pin at the truncated prefix), and unpin removes a pinned object of the
// right kind on a bpffs and nothing else (files, directories, symbolic links, other kinds).
import { assert, assertEquals, assertStringIncludes, assertThrows } from "@std/assert";
import * as asm from "../asm/mod.ts";
import { BpfMap, MapSpec, MapType } from "../map/mod.ts";
import { Program, ProgramSpec, ProgramType } from "../prog/mod.ts";
import { attachIter, loadPinnedLink } from "../link/mod.ts";
import { Errno, SyscallError } from "../errors.ts";
import { BPF_FS_MAGIC } from "../_internal/pin.ts";
import { filesystemMagic } from "../ffi.ts";
import { assertNoFdLeak, ensureBpffs, kernelTest } from "./_harness.ts";
import { taskIter } from "./link/_progs.ts";

const arraySpec = new MapSpec({
  name: "pins",
  type: MapType.Array,
  keySize: 4,
  valueSize: 4,
  maxEntries: 1,
});

function socketFilter(): Program {
  return Program.load(
    new ProgramSpec({
      name: "pins",
      type: ProgramType.SocketFilter,
      instructions: new asm.Instructions([asm.Mov.Imm(asm.R0, 0), asm.Return()]),
      license: "GPL",
    }),
  );
}

function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** A fresh directory on the bpffs, removed (with anything left in it) after `fn`. */
async function inBpffsDir(fn: (dir: string) => void | Promise<void>): Promise<void> {
  const dir = `${ensureBpffs()}/ebpf_pin_test_${Deno.pid}`;
  Deno.mkdirSync(dir);
  try {
    await fn(dir);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

kernelTest("pin: a NUL byte in the path is a TypeError for maps, programs and links", async () => {
  await inBpffsDir((dir) =>
    assertNoFdLeak(() => {
      using m = BpfMap.create(arraySpec);
      using p = socketFilter();
      using it = taskIter(1);
      using l = attachIter(it);
      const bad = `${dir}/cut\0after`;
      for (
        const [what, pin] of [
          ["map", () => m.pin(bad)],
          ["program", () => p.pin(bad)],
          ["link", () => l.pin(bad)],
        ] as const
      ) {
        const e = assertThrows(pin, TypeError);
        assertStringIncludes(e.message, `pin path of the ${what}`);
        assertStringIncludes(e.message, "NUL byte at index");
        assert(!exists(`${dir}/cut`), `${what}: nothing pinned at the truncated prefix`);
      }
      assertEquals(l.pinnedAt, undefined);
      m.pin(`${dir}/cut`); // the prefix exists now: opening and unpinning must not reach it
      assertThrows(() => BpfMap.loadPinned(bad), TypeError, "NUL byte");
      assertThrows(() => Program.loadPinned(bad), TypeError, "NUL byte");
      assertThrows(() => loadPinnedLink(bad), TypeError, "NUL byte");
      assertThrows(() => BpfMap.unpin(bad), TypeError, "NUL byte");
      assertThrows(() => Program.unpin(bad), TypeError, "NUL byte");
      assert(exists(`${dir}/cut`));
      assertThrows(() => BpfMap.unpin(""), TypeError, "empty");
      assertThrows(() => BpfMap.unpin(42 as unknown as string), TypeError, "expected a string");
    })
  );
});

kernelTest("pin: unpin removes pinned maps, programs and links of its kind", async () => {
  await inBpffsDir((dir) =>
    assertNoFdLeak(() => {
      assertEquals(filesystemMagic(dir), BPF_FS_MAGIC);
      using m = BpfMap.create(arraySpec);
      using p = socketFilter();
      using it = taskIter(1);
      using l = attachIter(it);
      m.pin(`${dir}/map`);
      p.pin(`${dir}/prog`);
      l.pin(`${dir}/link`);
      // The wrong kind is refused and stays pinned.
      const asMap = assertThrows(() => BpfMap.unpin(`${dir}/prog`), TypeError);
      assertStringIncludes(asMap.message, "it is a pinned program, not a map");
      const asProg = assertThrows(() => Program.unpin(`${dir}/map`), TypeError);
      assertStringIncludes(asProg.message, "it is a pinned map, not a program");
      assert(exists(`${dir}/prog`) && exists(`${dir}/map`));

      BpfMap.unpin(`${dir}/map`);
      Program.unpin(`${dir}/prog`);
      l.unpin();
      assertEquals(l.pinnedAt, undefined);
      for (const name of ["map", "prog", "link"]) assert(!exists(`${dir}/${name}`), name);
      // Nothing there: ENOENT, as loadPinned says it.
      const gone = assertThrows(() => BpfMap.unpin(`${dir}/map`), SyscallError);
      assertEquals(gone.errno, Errno.ENOENT);
      assertStringIncludes(gone.message, "nothing is pinned there");
    })
  );
});

kernelTest(
  "pin: unpin refuses directories and symbolic links on a bpffs, and leaves them",
  async () => {
    await inBpffsDir((dir) => {
      using m = BpfMap.create(arraySpec);
      m.pin(`${dir}/map`);
      Deno.mkdirSync(`${dir}/sub`);
      Deno.symlinkSync(`${dir}/map`, `${dir}/alias`);
      const d = assertThrows(() => BpfMap.unpin(`${dir}/sub`), TypeError);
      assertStringIncludes(d.message, `Cannot unpin '${dir}/sub': it is a directory`);
      const s = assertThrows(() => BpfMap.unpin(`${dir}/alias`), TypeError);
      assertStringIncludes(s.message, "it is a symbolic link");
      assert(exists(`${dir}/sub`) && exists(`${dir}/alias`) && exists(`${dir}/map`));
    });
  },
);

kernelTest("pin: unpin refuses files and directories outside a bpffs, and leaves them", () => {
  const dir = Deno.makeTempDirSync({ prefix: "ebpf-unpin-" });
  try {
    assert(filesystemMagic(dir) !== BPF_FS_MAGIC, `${dir} is on a bpffs`);
    Deno.writeTextFileSync(`${dir}/file`, "precious");
    Deno.mkdirSync(`${dir}/empty`);
    for (const path of [`${dir}/file`, `${dir}/empty`]) {
      for (const unpin of [BpfMap.unpin, Program.unpin]) {
        const e = assertThrows(() => unpin(path), TypeError);
        assertStringIncludes(e.message, `Cannot unpin '${path}': it is on '`);
        assertStringIncludes(e.message, "not on a bpffs");
      }
    }
    assertEquals(Deno.readTextFileSync(`${dir}/file`), "precious");
    assert(Deno.statSync(`${dir}/empty`).isDirectory);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

kernelTest("pin: a link's unpin leaves whatever replaced its pin", async () => {
  await inBpffsDir((dir) => {
    using it = taskIter(1);
    using l = attachIter(it);
    l.pin(`${dir}/link`);
    Deno.removeSync(`${dir}/link`);
    Deno.mkdirSync(`${dir}/link`);
    assertThrows(() => l.unpin(), TypeError, "it is a directory");
    assert(Deno.statSync(`${dir}/link`).isDirectory);
    Deno.removeSync(`${dir}/link`);
    l.unpin(); // a pin already gone is fine
    assertEquals(l.pinnedAt, undefined);
  });
});
