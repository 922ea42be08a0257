/** Loading our testdata objects (through elf/) and checking what the programs compute. */
import { assert, assertEquals, assertStringIncludes, assertThrows } from "@std/assert";
import { gunzipSync } from "node:zlib";
import { newCollection } from "../../prog/mod.ts";
import { btf } from "../../mod.ts";
import { assertNoFdLeak, kernelTest, run, testdata } from "../_harness.ts";
import { loadSpec, noElfReader } from "./_elf_loader.ts";
import { NotSupportedError, VerifierError } from "../../errors.ts";

const packet = () => ({ data: new Uint8Array(64) });

kernelTest("a volatile const set through its VariableSpec changes the result", async () => {
  const spec = await loadSpec(testdata("prog_globals-el.o"));
  {
    using coll = newCollection(spec);
    assertEquals(coll.programs.ret_answer.run(packet()).retval, 1);
  }
  spec.variables.answer.set(9);
  {
    using coll = newCollection(spec);
    assertEquals(coll.programs.ret_answer.run(packet()).retval, 9);
    // answer + data_counter (5) + global_double(1)
    assertEquals(coll.programs.sum_globals.run(packet()).retval, 16);
  }
  spec.variables.unused_flag.set(1);
  using coll = newCollection(spec);
  assertEquals(coll.programs.ret_answer.run(packet()).retval, 1000);
}, { skipIf: noElfReader });

kernelTest("kconfig externs read the kernel's configuration", async () => {
  const spec = await loadSpec(testdata("prog_globals-el.o"));
  using coll = newCollection(spec, { only: ["kver"] });
  // The oracle: uname and zcat, not the loader's own reader.
  const release = run("uname", ["-r"]).trim();
  // Debian keeps the stable patch level in `uname -v` ("… Debian 6.1.192-1 …"), as libbpf
  // (since 1.2) and the loader read it; elsewhere the release has it.
  const debian = /Debian (\d+)\.(\d+)\.(\d+)/.exec(run("uname", ["-v"]));
  const [a, b, c] = (debian ? debian.slice(1) : release.split(/[.-]/)).map(Number);
  const version = (a << 16) + (b << 8) + Math.min(c, 255);
  // Debian ships /boot/config-<release> and no /proc/config.gz; other kernels the reverse.
  let config: string;
  try {
    config = Deno.readTextFileSync(`/boot/config-${release}`);
  } catch {
    config = new TextDecoder().decode(gunzipSync(Deno.readFileSync("/proc/config.gz")));
  }
  const hz = Number(/^CONFIG_HZ=(\d+)$/m.exec(config)![1]);
  assertEquals(coll.programs.kver.run(packet()).retval, version + hz);
}, { skipIf: noElfReader });

kernelTest("program arrays and maps of maps get their initial values", async () => {
  const spec = await loadSpec(testdata("prog_globals-el.o"));
  using coll = newCollection(spec);
  assertEquals(coll.programs.tail.run(packet()).retval, 42);
  assertEquals(coll.programs.map_in_map.run(packet()).retval, 1);
  assertEquals(coll.programs.map_in_map.run(packet()).retval, 2);
}, { skipIf: noElfReader });

kernelTest(
  "a typeless ksym and a weak one the kernel lacks resolve against the kernel",
  async () => {
    const spec = await loadSpec(testdata("prog_kernel-el.o"));
    using coll = newCollection(spec, { only: ["ksyms"] });
    assertEquals(coll.programs.ksyms.run(packet()).retval, 7);
  },
  { skipIf: noElfReader },
);

kernelTest("a kfunc call resolves against the kernel", async () => {
  const spec = await loadSpec(testdata("prog_kernel-el.o"));
  using coll = newCollection(spec, { only: ["kern_len"] });
  // Test runs of socket filters pull the Ethernet header: the kernel sees 77 - 14 bytes.
  assertEquals(coll.programs.kern_len.run({ data: new Uint8Array(77) }).retval, 63);
}, { skipIf: () => noElfReader() ?? kfuncMissing("bpf_cast_to_kern_ctx", "6.2") });

kernelTest("a kfunc the kernel's BTF lacks is NotSupportedError naming it", async () => {
  const spec = await loadSpec(testdata("prog_kernel-el.o"));
  // Kernel types without the kfunc: as Linux before 6.2 for bpf_cast_to_kern_ctx.
  const kernelTypes = btf.parseSpec(btf.marshalTypes([new btf.Int("int", 4, 1)]));
  await assertNoFdLeak(() => {
    const e = assertThrows(
      () => newCollection(spec, { only: ["kern_len"], kernelTypes }),
      NotSupportedError,
    );
    assertEquals(e.feature, "kfunc 'bpf_cast_to_kern_ctx'");
    assertStringIncludes(e.message, "not in kernel BTF");
  });
  if (kfuncMissing("bpf_cast_to_kern_ctx", "6.2")) {
    // And the running kernel's own BTF, where it lacks it.
    assertThrows(() => newCollection(spec, { only: ["kern_len"] }), NotSupportedError);
  }
}, { skipIf: noElfReader });

/** Why the kernel's BTF lacks the kfunc `name` (first in Linux `since`), or undefined. */
function kfuncMissing(name: string, since: string): string | undefined {
  const kernel = btf.loadKernelSpec();
  return kernel.typeIdsByName(name).some((id) => kernel.typeById(id).kind === "func")
    ? undefined
    : `kfunc ${name} is not in the kernel's BTF (Linux ${since} has it)`;
}

kernelTest("an object whose last program fails leaves no fd open", async () => {
  const spec = await loadSpec(testdata("prog_globals-el.o"));
  const names = Object.keys(spec.programs);
  // Break the last program: r0 = r9 (never written) before its exit.
  const last = spec.programs[names[names.length - 1]];
  const exit = last.instructions.list.findLastIndex((i) => i.opcode === 0x95);
  last.instructions.list.splice(exit, 0, {
    ...last.instructions.list[exit],
    opcode: 0xbf,
    dst: 0,
    src: 9,
  });
  await assertNoFdLeak(() => {
    let err: unknown;
    try {
      newCollection(spec).close();
    } catch (e) {
      err = e;
    }
    assert(err instanceof VerifierError, String(err));
  });
}, { skipIf: noElfReader });
