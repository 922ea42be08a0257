// cmd/inspect on raw BTF: `inspect /sys/kernel/btf/vmlinux --c > vmlinux.h` gives a header
// that clang-19 compiles, that a CO-RE program builds against and whose object the kernel
// loads and runs; split BTF is read on top of its base.
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { Builder, Int, Member, parseSpec, Pointer, Struct } from "../../btf/mod.ts";
import { parseCollectionSpec } from "../../elf/mod.ts";
import { attachTracepoint } from "../../link/mod.ts";
import { newCollection } from "../../prog/mod.ts";
import { baseOf, guardFor, isRawBtf } from "../../cmd/inspect.ts";
import { ensureTracefs, kernelTest } from "../_harness.ts";

const INSPECT = new URL("../../cmd/inspect.ts", import.meta.url).pathname;
const dec = new TextDecoder();
const VMLINUX = "/sys/kernel/btf/vmlinux";

function missing(tool: string): string | undefined {
  try {
    new Deno.Command(tool, { args: ["--version"], stdout: "null" }).outputSync();
    return undefined;
  } catch {
    return `${tool} is not installed`;
  }
}
const clangMissing = () => missing("clang-19");

/** Runs inspect in `cwd` with `args`; stdout, stderr and the exit code. */
function inspect(cwd: string, ...args: string[]) {
  const r = new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", "--allow-all", INSPECT, ...args],
    cwd,
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  return { code: r.code, stdout: dec.decode(r.stdout), stderr: dec.decode(r.stderr) };
}

function compile(cwd: string, source: string, ...flags: string[]) {
  return new Deno.Command("clang-19", {
    args: [
      "-O2",
      "-g",
      "-target",
      "bpf",
      "-D__TARGET_ARCH_x86",
      ...flags,
      "-c",
      source,
      "-o",
      "out.o",
    ],
    cwd,
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
}

// Reads its own task's tgid and its parent's through CO-RE, from types only vmlinux.h has.
const CORE_PROGRAM = `#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

const volatile __u32 target_tgid = 0;
__u64 seen_tgid = 0, seen_parent = 0, has_pid = 0;

SEC("tracepoint/syscalls/sys_enter_getppid")
int read_task(struct trace_event_raw_sys_enter *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	if ((bpf_get_current_pid_tgid() >> 32) != target_tgid)
		return 0;
	seen_tgid = BPF_CORE_READ(task, tgid);
	seen_parent = BPF_CORE_READ(task, real_parent, tgid);
	has_pid = bpf_core_field_exists(task->pid);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
`;

kernelTest(
  "inspect: vmlinux --c is a header a CO-RE program builds against, and the kernel runs it",
  () => {
    ensureTracefs();
    const dir = Deno.makeTempDirSync({ prefix: "inspect-vmlinux-" });
    try {
      const r = inspect(dir, VMLINUX, "--c");
      assertEquals(r.code, 0, r.stderr);
      const header = r.stdout;
      assert(header.startsWith("#ifndef __VMLINUX_H__\n#define __VMLINUX_H__\n"));
      assertStringIncludes(
        header,
        "#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n" +
          "#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)",
      );
      assertStringIncludes(header, "\nstruct task_struct {\n");
      assert(header.endsWith("#endif /* __VMLINUX_H__ */\n"));
      Deno.writeTextFileSync(`${dir}/vmlinux.h`, header);
      Deno.writeTextFileSync(`${dir}/core.c`, CORE_PROGRAM);

      const c = compile(dir, "core.c", "-I/usr/include/x86_64-linux-gnu");
      assertEquals(c.code, 0, dec.decode(c.stderr));
      const spec = parseCollectionSpec(Deno.readFileSync(`${dir}/out.o`));
      spec.variables.target_tgid.set(Deno.pid);
      using coll = newCollection(spec);
      {
        using _link = attachTracepoint(coll.programs.read_task, "syscalls", "sys_enter_getppid");
        const libc = Deno.dlopen("libc.so.6", { getppid: { parameters: [], result: "i32" } });
        try {
          libc.symbols.getppid();
        } finally {
          libc.close();
        }
      }
      const bss = coll.maps[".bss"].lookupBytes(0)!;
      const view = new DataView(bss.buffer, bss.byteOffset, bss.byteLength);
      const at = (name: string) => view.getBigUint64(spec.variables[name].offset, true);
      assertEquals(at("seen_tgid"), BigInt(Deno.pid));
      assertEquals(at("seen_parent"), BigInt(Deno.ppid));
      assertEquals(at("has_pid"), 1n);
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
  { skipIf: clangMissing },
);

Deno.test({
  name: "inspect: vmlinux's summary counts what bpftool lists; --json describes it",
  ignore: missing("bpftool") !== undefined,
  fn() {
    const r = inspect("/", VMLINUX, "--json");
    assertEquals(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assertEquals([j.format, j.base, j.byteOrder], ["btf", null, "little"]);
    const listing = new Deno.Command("bpftool", { args: ["-j", "btf", "dump", "file", VMLINUX] })
      .outputSync();
    const types = JSON.parse(dec.decode(listing.stdout)).types as { kind: string }[];
    assertEquals(j.btfTypes, types.length);
    assertEquals(j.kinds.Struct, types.filter((t) => t.kind === "STRUCT").length);
    const text = inspect("/", VMLINUX);
    assertStringIncludes(text.stdout, `${VMLINUX}: little-endian raw BTF, ${types.length} types`);
    assertStringIncludes(text.stdout, `inspect ${VMLINUX} --c > vmlinux.h`);
  },
});

Deno.test("inspect: raw BTF is told from ELF by its magic, either byte order", () => {
  assert(isRawBtf(new Uint8Array([0x9f, 0xeb, 1, 0])));
  assert(isRawBtf(new Uint8Array([0xeb, 0x9f, 1, 0])));
  assert(!isRawBtf(new Uint8Array([0x7f, 0x45, 0x4c, 0x46])));
  assertEquals(guardFor("/sys/kernel/btf/vmlinux"), "__VMLINUX_H__");
  assertEquals(guardFor("nf-tables.btf"), "__NF_TABLES_H__");
  assertEquals(baseOf("/sys/kernel/btf/nf_tables", undefined), "/sys/kernel/btf/vmlinux");
  assertEquals(baseOf("/sys/kernel/btf/vmlinux", undefined), undefined);
  assertEquals(baseOf("mod.btf", "base.btf"), "base.btf");
  assertEquals(baseOf("mod.btf", undefined), undefined);
});

Deno.test({
  name: "inspect: split BTF (a module's) is read on top of --base and prints as a header",
  ignore: clangMissing() !== undefined,
  fn() {
    const dir = Deno.makeTempDirSync({ prefix: "inspect-split-" });
    try {
      // A base like vmlinux and split BTF like a module's, whose struct points at a base one.
      const u32 = new Int("unsigned int", 4);
      const core = new Struct("core_thing", 8, [
        new Member("a", u32, 0),
        new Member("b", u32, 32),
      ]);
      const baseBuilder = new Builder();
      baseBuilder.add(core);
      Deno.writeFileSync(`${dir}/base.btf`, baseBuilder.marshal());
      const base = inspect(dir, "base.btf", "--json");
      assertEquals(base.code, 0, base.stderr);
      assertEquals(JSON.parse(base.stdout).btfTypes, 2);

      const parsedBase = parseSpec(Deno.readFileSync(`${dir}/base.btf`));
      const split = new Builder({ base: parsedBase });
      split.add(
        new Struct("module_thing", 16, [
          new Member("core", new Pointer(parsedBase.typeByName("core_thing", Struct)!), 0),
          new Member("n", parsedBase.typeByName("unsigned int", Int)!, 64),
        ]),
      );
      Deno.writeFileSync(`${dir}/mod.btf`, split.marshal());

      const alone = inspect(dir, "mod.btf");
      assertEquals(alone.code, 1, "split BTF without its base is an error");
      assertStringIncludes(alone.stderr, "Cannot inspect 'mod.btf'");
      const summary = inspect(dir, "mod.btf", "--base", "base.btf");
      assertEquals(summary.code, 0, summary.stderr);
      assertStringIncludes(
        summary.stdout,
        "mod.btf: little-endian raw BTF on top of base.btf, 2 types",
      );
      const h = inspect(dir, "mod.btf", "--base", "base.btf", "--c");
      assertEquals(h.code, 0, h.stderr);
      assertStringIncludes(h.stdout, "#ifndef __MOD_H__");
      assertStringIncludes(
        h.stdout,
        "struct core_thing {\n\tunsigned int a;\n\tunsigned int b;\n};",
      );
      assertStringIncludes(
        h.stdout,
        "struct module_thing {\n\tstruct core_thing *core;\n\tunsigned int n;\n};",
      );
      Deno.writeTextFileSync(`${dir}/mod.h`, h.stdout);
      Deno.writeTextFileSync(
        `${dir}/use.c`,
        '#include "mod.h"\nint f(struct module_thing *m) { return m->core->b + m->n; }\n',
      );
      const c = compile(dir, "use.c");
      assertEquals(c.code, 0, dec.decode(c.stderr));
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});
