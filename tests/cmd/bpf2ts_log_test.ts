// cmd/bpf2ts and typed logs: a C source that includes "ebpf_log.h" compiles with no include
// flag of its own (bpf2ts adds the package's include/), its bindings gain open<Name>Logs(),
// and a program using them reads the record its BPF program logged; --log-header writes the
// header users include.
import { assertEquals, assertStringIncludes } from "@std/assert";
import { kernelTest } from "../_harness.ts";

import { deno, root } from "./_run.ts";

const SOURCE = `#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "ebpf_log.h"

SEC("syscall")
int hello(void *ctx)
{
	__u32 pid = bpf_get_prandom_u32();

	ebpf_log_warn("hello {} from {:x}", EBPF_LOG_STR("world"), pid);
	return pid;
}

char LICENSE[] SEC("license") = "GPL";
`;

Deno.test("bpf2ts --log-header: writes the package's include/ebpf_log.h", () => {
  const dir = Deno.makeTempDirSync({ prefix: "bpf2ts-log-" });
  try {
    const r = deno(["run", "-A", `${root}cmd/bpf2ts.ts`, "--log-header", `${dir}/inc`], dir);
    assertEquals(r.ok, true, r.out);
    assertEquals(
      Deno.readTextFileSync(`${dir}/inc/ebpf_log.h`),
      Deno.readTextFileSync(`${root}include/ebpf_log.h`),
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

kernelTest("bpf2ts: bindings of a program with typed logs read its records", () => {
  const dir = Deno.makeTempDirSync({ dir: root, prefix: "bpf2ts-log-test-" });
  try {
    Deno.writeTextFileSync(`${dir}/hello.c`, SOURCE);
    const gen = deno([
      "run",
      "-A",
      `${root}cmd/bpf2ts.ts`,
      `${dir}/hello.c`,
      "--import",
      "../mod.ts",
    ], dir);
    assertEquals(gen.ok, true, gen.out);
    const bindings = Deno.readTextFileSync(`${dir}/hello_bpf.ts`);
    assertStringIncludes(
      bindings,
      "export function openHelloLogs(\n  objects: HelloObjects,\n" +
        "  ring: ebpf.BpfMap = objects.maps.ebpf_logs,\n): ebpf.LogReader {",
    );
    Deno.writeTextFileSync(
      `${dir}/use.ts`,
      `import type * as ebpf from "../mod.ts";
import { loadHello, openHelloLogs } from "./hello_bpf.ts";

using objs = loadHello();
using logs = openHelloLogs(objs);
const pid = objs.programs.hello.run().retval;
const record: ebpf.LogRecord | undefined = await logs.read();
console.log(JSON.stringify({
  pid: pid.toString(16),
  message: record?.message,
  level: record?.levelName,
  function: record?.function,
}));
`,
    );
    for (const args of [["check"], ["lint"], ["fmt", "--check"]]) {
      const r = deno([...args, `${dir}/hello_bpf.ts`, `${dir}/use.ts`], root);
      assertEquals(r.ok, true, `${args[0]}: ${r.out}`);
    }
    const r = deno(["run", "-A", `${dir}/use.ts`], root);
    assertEquals(r.ok, true, r.out);
    const got = JSON.parse(r.out);
    assertEquals(got, {
      pid: got.pid,
      message: `hello world from ${got.pid}`,
      level: "WARN",
      function: "hello",
    });
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
