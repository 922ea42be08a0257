// A program in a section no SEC() convention knows parses (an inspector can read it) and is
// refused at load with a TypeError naming the program and the section, before any syscall,
// as libbpf refuses it ("missing BPF prog type, check ELF section name"). The other programs
// of the object still load with `only`, and a type set by hand makes it loadable.
import { assert, assertEquals, assertInstanceOf } from "@std/assert";
import { asm } from "../../mod.ts";
import { newCollection, Program, ProgramSpec, ProgramType } from "../../prog/mod.ts";
import { parseCollectionSpec } from "../../elf/mod.ts";
import { type Attr, kernelBackend, setBackend } from "../../ffi.ts";
import { kernelTest, testdata } from "../_harness.ts";

const OBJECT = "compat_unknown_section";
const MISSPELT = "tracepiont/syscalls/sys_enter_getpid";

/** Runs `fn` and counts the bpf() calls it makes. */
function countingBpf<T>(fn: () => T): { calls: number; result?: T; error?: unknown } {
  let calls = 0;
  const restore = setBackend({
    bpf(cmd: number, attr: Attr): number {
      calls++;
      return kernelBackend.bpf(cmd, attr);
    },
    address: kernelBackend.address,
  });
  try {
    const result = fn();
    return { calls, result };
  } catch (error) {
    return { calls, error };
  } finally {
    restore();
  }
}

Deno.test("unknown sections: the object parses; their programs are unspecified", () => {
  for (const endian of ["el", "eb"]) {
    const spec = parseCollectionSpec(Deno.readFileSync(testdata(`${OBJECT}-${endian}.o`)));
    // .text subprograms, maps, data and the license are no programs.
    assertEquals(Object.keys(spec.programs).sort(), ["good", "misspelt", "unknown_hook"]);
    assertEquals(Object.keys(spec.maps).sort(), [".bss", ".rodata", "hits"]);
    const { good, misspelt, unknown_hook } = spec.programs;
    assertEquals([good.type, good.sectionName], [ProgramType.SocketFilter, "socket"]);
    assertEquals([misspelt.type, misspelt.sectionName], [ProgramType.Unspecified, MISSPELT]);
    assertEquals([unknown_hook.type, unknown_hook.sectionName], [
      ProgramType.Unspecified,
      "foo/bar",
    ]);
    // The unknown program still has its code, its subprogram included.
    assert(unknown_hook.instructions.list.some((i) => i.symbol === "add_base"), endian);
  }
});

kernelTest(
  "unknown sections: loading them fails before any syscall, naming program and section",
  () => {
    const spec = parseCollectionSpec(Deno.readFileSync(testdata(`${OBJECT}-el.o`)));
    for (
      const [only, program, section] of [
        [undefined, "misspelt", MISSPELT],
        [["good", "unknown_hook"], "unknown_hook", "foo/bar"],
      ] as const
    ) {
      const { calls, error } = countingBpf(() => newCollection(spec, { only: only && [...only] }));
      assertInstanceOf(error, TypeError);
      assertEquals(calls, 0, "bpf() calls before the error");
      const { message } = error as TypeError;
      assert(message.includes(`'${program}'`) && message.includes(`'${section}'`), message);
    }
    // The valid program loads on its own: its map, data and subprogram come along.
    {
      const loaded = countingBpf(() => newCollection(spec, { only: ["good"] }));
      using coll = loaded.result!;
      // The counter does count: maps, data and the program took bpf() calls.
      assert(loaded.calls >= 4, `${loaded.calls} calls`);
      assertEquals(Object.keys(coll.programs), ["good"]);
      assertEquals(coll.programs.good.run({ data: new Uint8Array(64) }).retval, 42);
    }
    // A type set by hand makes the others loadable, as in cilium/ebpf.
    const fixed = spec.copy();
    fixed.programs.misspelt.type = ProgramType.SocketFilter;
    fixed.programs.unknown_hook.type = ProgramType.SocketFilter;
    using coll = newCollection(fixed);
    assertEquals(coll.programs.unknown_hook.run({ data: new Uint8Array(64) }).retval, 41);
  },
);

kernelTest(
  "unknown sections: Program.load refuses a spec without a type before any syscall",
  () => {
    const spec = new ProgramSpec({
      name: "untyped",
      type: ProgramType.Unspecified,
      license: "GPL",
      instructions: new asm.Instructions([asm.Mov.Imm(asm.R0, 0), asm.Return()]),
    });
    const { calls, error } = countingBpf(() => Program.load(spec));
    assertInstanceOf(error, TypeError);
    assertEquals(calls, 0);
    const { message } = error as TypeError;
    assert(message.includes("'untyped'") && message.includes("type"), message);
  },
);
