// The tools as a package user runs them: a scratch project outside this repository, whose
// deno.json imports `jsr:@ebpf/ebpf` and links it to this checkout (as `deno publish` would
// serve it), runs `deno run -A jsr:@ebpf/ebpf/bpf2ts src/count.c --type hit`, `…/inspect` and
// `…/live` from its own directory on its own files, then type-checks and runs the generated
// bindings, reading typed ring records.
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { kernelTest } from "../_harness.ts";

const root = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
const dec = new TextDecoder();
const VERSION: string = JSON.parse(Deno.readTextFileSync(`${root}/deno.json`)).version;

function run(cmd: string, args: string[], cwd: string): { ok: boolean; out: string } {
  const r = new Deno.Command(cmd, {
    args,
    cwd,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).outputSync();
  return { ok: r.success, out: dec.decode(r.stdout) + dec.decode(r.stderr) };
}

const HEADER = `#define HIT_KEY 0
struct hit {
	__u32 len;
	__u32 calls;
};
`;

// A socket filter whose header sits next to it: bpf2ts must find it from the project root.
const PROGRAM = `#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct hit);
} hits SEC(".maps");

/* A ring declared with its record type, as cilium's examples/ringbuffer declares it. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
	__type(value, struct hit);
} events SEC(".maps");

SEC("socket")
int count(struct __sk_buff *skb)
{
	__u32 key = HIT_KEY;
	struct hit *h = bpf_map_lookup_elem(&hits, &key);
	if (h) {
		h->len = skb->len;
		__sync_fetch_and_add(&h->calls, 1);
		bpf_ringbuf_output(&events, h, sizeof(*h), 0);
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
`;

const MAIN = `import { RingReader } from "@ebpf/ebpf";
import { decodeHit, type Hit, loadCount } from "./src/count_bpf.ts";

using objs = loadCount();
objs.programs.count.run({ data: new Uint8Array(64) });
objs.programs.count.run({ data: new Uint8Array(64) });
const hit: Hit | undefined = objs.maps.hits.lookup(0);
using reader = new RingReader(objs.maps.events);
const records: Hit[] = [];
for await (const record of reader.typed(decodeHit)) {
  records.push(record);
  if (records.length === 2) break;
}
console.log(JSON.stringify({ hit, records }));
`;

kernelTest("package: bpf2ts and inspect run as jsr:@ebpf/ebpf/… from a user's project", () => {
  const project = Deno.makeTempDirSync({ prefix: "ebpf-user-project-" });
  assert(!project.startsWith(root), "the project is outside the repository");
  try {
    Deno.writeTextFileSync(
      `${project}/deno.json`,
      JSON.stringify({ imports: { "@ebpf/ebpf": `jsr:@ebpf/ebpf@^${VERSION}` }, links: [root] }),
    );
    Deno.mkdirSync(`${project}/src`);
    Deno.writeTextFileSync(`${project}/src/common.h`, HEADER);
    Deno.writeTextFileSync(`${project}/src/count.c`, PROGRAM);
    Deno.writeTextFileSync(`${project}/main.ts`, MAIN);

    const gen = run(
      Deno.execPath(),
      ["run", "-A", "jsr:@ebpf/ebpf/bpf2ts", "src/count.c", "--type", "hit"],
      project,
    );
    assertEquals(gen.ok, true, gen.out);
    assertStringIncludes(gen.out, "Wrote src/count_bpf.ts");
    const bindings = Deno.readTextFileSync(`${project}/src/count_bpf.ts`);
    assertStringIncludes(bindings, 'import * as ebpf from "@ebpf/ebpf";');
    assertStringIncludes(bindings, "export function decodeHit(");

    const check = run(Deno.execPath(), ["check", "main.ts"], project);
    assertEquals(check.ok, true, check.out);
    const main = run(Deno.execPath(), ["run", "-A", "main.ts"], project);
    assertEquals(main.ok, true, main.out);
    // skb->len is the test packet less its Ethernet header; each run sent one typed record.
    const len = 64 - 14;
    assertEquals(JSON.parse(main.out.trim()), {
      hit: { len, calls: 2 },
      records: [{ len, calls: 1 }, { len, calls: 2 }],
    });

    // inspect reads the user's object by a path relative to the project, with --allow-read.
    const cc = run("clang-19", [
      "-O2",
      "-g",
      "-target",
      "bpf",
      "-I/usr/include/x86_64-linux-gnu",
      "-c",
      "src/count.c",
      "-o",
      "src/count.o",
    ], project);
    assertEquals(cc.ok, true, cc.out);
    const shown = run(
      Deno.execPath(),
      ["run", "--allow-read", "jsr:@ebpf/ebpf/inspect", "src/count.o", "--json"],
      project,
    );
    assertEquals(shown.ok, true, shown.out);
    const r = JSON.parse(shown.out);
    assertEquals(r.file, "src/count.o");
    assertEquals(r.programs.map((p: { name: string }) => p.name), ["count"]);
    assertEquals(
      r.maps.map((m: { name: string; value: string }) => [m.name, m.value]),
      [["hits", "struct hit"], ["events", "struct hit"]],
    );
    // live asks the kernel: the BTF objects it holds, vmlinux among them.
    const live = run(
      Deno.execPath(),
      ["run", "-A", "jsr:@ebpf/ebpf/live", "btf", "list", "--json"],
      project,
    );
    assertEquals(live.ok, true, live.out);
    const kernelBtf = JSON.parse(live.out).filter((b: { kernel: boolean }) => b.kernel);
    assert(kernelBtf.some((b: { name: string }) => b.name === "vmlinux"), live.out);
    const missing = run(Deno.execPath(), ["run", "-A", "jsr:@ebpf/ebpf/bpf2ts", "nope.c"], project);
    assertEquals(missing.ok, false);
    assertStringIncludes(missing.out, "nope.c");
  } finally {
    Deno.removeSync(project, { recursive: true });
  }
});
