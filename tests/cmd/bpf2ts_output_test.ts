// cmd/bpf2ts output: --type decoders (a ring record sent by a program run arrives as a typed
// object), the host's byte order and target arch, DWARF stripped, deno fmt-clean output at
// Deno's defaults, and a program including a full vmlinux.h: only the types its maps,
// variables and --type reach, checked in seconds, loaded and run.
import { assert, assertEquals, assertMatch, assertStringIncludes, assertThrows } from "@std/assert";
import { kernelTest } from "../_harness.ts";
import { generate, hostTargetFlags, LLVM_STRIP, objectsFor } from "../../cmd/bpf2ts.ts";
import { parseCollectionSpec, typeDecoders } from "../../mod.ts";

import { command, deno, root } from "./_run.ts";

/** Runs the bpf2ts command; its bindings import the library from `../mod.ts`. */
function bpf2ts(input: string, out: string, ...flags: string[]): { ok: boolean; out: string } {
  return deno(["run", "-A", `${root}cmd/bpf2ts.ts`, input, "--out", out, "--import", "../mod.ts"]
    .concat(flags));
}

/** A scratch directory inside the repository, so that `../mod.ts` resolves. */
function scratch(prefix: string): string {
  return Deno.makeTempDirSync({ dir: root, prefix });
}

/**
 * `deno fmt --check` passes on `text` at Deno's defaults (no config), and at this
 * repository's width of 100 unless `onlyDefaults` (deno fmt lays out some lines whose length
 * is between the two widths differently at each, so that very long names fit only one).
 */
function assertFmtClean(text: string, onlyDefaults = false): void {
  const dir = Deno.makeTempDirSync({ prefix: "bpf2ts-fmt-" });
  try {
    Deno.writeTextFileSync(`${dir}/bindings.ts`, text);
    for (const extra of onlyDefaults ? [[]] : [[], ["--line-width", "100"]]) {
      const r = deno(["fmt", "--no-config", "--check", ...extra, "bindings.ts"], dir);
      assertEquals(r.ok, true, `deno fmt ${extra.join(" ")}: ${r.out}`);
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

/** The section names of an ELF object, by llvm-objdump. */
function sections(bytes: Uint8Array): string[] {
  const dir = Deno.makeTempDirSync({ prefix: "bpf2ts-sec-" });
  try {
    Deno.writeFileSync(`${dir}/x.o`, bytes);
    const r = command("llvm-objdump-19", ["-h", `${dir}/x.o`]);
    assert(r.ok, r.out);
    return [...r.out.matchAll(/^\s*\d+\s+(\S+)/gm)].map((m) => m[1]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

/** The object embedded in generated `text` for `order`, decoded as the bindings do. */
function embedded(text: string, order: "LITTLE" | "BIG"): Uint8Array | undefined {
  const m = new RegExp(`const OBJECT_${order}: string \\| undefined = (undefined|\`([^\`]*)\`);`)
    .exec(text);
  if (m === null) throw new Error(`no OBJECT_${order} in the bindings`);
  return m[2] === undefined ? undefined : Uint8Array.from(atob(m[2]), (c) => c.charCodeAt(0));
}

Deno.test("bpf2ts: the host's byte order by default, both on request", () => {
  const host = objectsFor(`${root}testdata/cli_bindings-el.o`);
  assertEquals([host.little !== undefined, host.big !== undefined], [true, false]);
  const text = generate({ name: "x", ...host, importFrom: "../mod.ts", source: "x.o" });
  assertStringIncludes(text, "const OBJECT_BIG: string | undefined = undefined;");
  // A big-endian input finds its little-endian twin for this (little-endian) host.
  const fromEb = objectsFor(`${root}testdata/cli_bindings-eb.o`);
  assertEquals(parseCollectionSpec(fromEb.little!).byteOrder, "little");
  assertEquals(fromEb.big, undefined);

  const both = objectsFor(`${root}testdata/cli_bindings-el.o`, [], "both");
  const bothText = generate({ name: "x", ...both, importFrom: "../mod.ts", source: "x.o" });
  assertEquals(parseCollectionSpec(embedded(bothText, "BIG")!).byteOrder, "big");
  assertEquals(parseCollectionSpec(embedded(bothText, "LITTLE")!).byteOrder, "little");

  // Without its twin, a big-endian object is not silently embedded for a little-endian host.
  const dir = Deno.makeTempDirSync({ prefix: "bpf2ts-eb-" });
  try {
    Deno.copyFileSync(`${root}testdata/cli_bindings-eb.o`, `${dir}/lone-eb.o`);
    const r = deno(["run", "-A", `${root}cmd/bpf2ts.ts`, `${dir}/lone-eb.o`]);
    assertEquals(r.ok, false);
    assertStringIncludes(r.out, "is big-endian and there is no little-endian twin");
    assertStringIncludes(r.out, "give --byte-order big to embed it");
    assertEquals(
      deno(["run", "-A", `${root}cmd/bpf2ts.ts`, `${dir}/lone-eb.o`, "--byte-order", "big"]).ok,
      true,
    );
    const bad = deno(["run", "-A", `${root}cmd/bpf2ts.ts`, "x.c", "--byte-order", "middle"]);
    assertStringIncludes(bad.out, "--byte-order: 'middle' is not host, little, big or both");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("bpf2ts: embedded objects have no DWARF, and keep .BTF and .BTF.ext", () => {
  const input = Deno.readFileSync(`${root}testdata/bpf2ts_events-el.o`);
  assert(sections(input).includes(".debug_info"), "the test object should have DWARF");
  for (
    const objects of [
      objectsFor(`${root}testdata/bpf2ts_events-el.o`),
      objectsFor(`${root}testdata/bpf2ts_events.c`),
    ]
  ) {
    const text = generate({ name: "e", ...objects, importFrom: "../mod.ts", source: "e" });
    const bytes = embedded(text, "LITTLE")!;
    assertEquals(bytes, objects.little);
    const names = sections(bytes);
    assertEquals(names.filter((n) => n.startsWith(".debug")), [], `${LLVM_STRIP} -g left DWARF`);
    assert(names.includes(".BTF") && names.includes(".BTF.ext"), names.join(" "));
    assert(bytes.length < input.length / 2, `${bytes.length} of ${input.length} bytes`);
  }
});

Deno.test("bpf2ts: the target arch and include path come from the host", () => {
  assertEquals(hostTargetFlags("x86_64"), [
    "-D__TARGET_ARCH_x86",
    "-I/usr/include/x86_64-linux-gnu",
  ]);
  assertEquals(hostTargetFlags("aarch64"), [
    "-D__TARGET_ARCH_arm64",
    "-I/usr/include/aarch64-linux-gnu",
  ]);
  // A target arch in the user's flags (cross-building) wins.
  assertEquals(hostTargetFlags("x86_64", ["-D__TARGET_ARCH_arm64"]), [
    "-I/usr/include/x86_64-linux-gnu",
  ]);
  assertEquals(hostTargetFlags("sparc64"), []);

  // A kprobe written with bpf_tracing.h builds only with the arch macro: clang alone fails,
  // bpf2ts builds it.
  const dir = scratch("bpf2ts-arch-");
  try {
    Deno.writeTextFileSync(
      `${dir}/probe.c`,
      `#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

SEC("kprobe/do_unlinkat")
int BPF_KPROBE(on_unlink, int dfd)
{
	return dfd;
}

char LICENSE[] SEC("license") = "GPL";
`,
    );
    const plain = command("clang-19", [
      "-O2",
      "-g",
      "-target",
      "bpfel",
      ...hostTargetFlags().filter((f) => f.startsWith("-I")),
      "-c",
      `${dir}/probe.c`,
      "-o",
      `${dir}/plain.o`,
    ]);
    assertEquals(plain.ok, false);
    assertStringIncludes(plain.out, "Must specify a BPF target arch via __TARGET_ARCH_xxx");
    const r = bpf2ts(`${dir}/probe.c`, `${dir}/probe_bpf.ts`);
    assertEquals(r.ok, true, r.out);
    assertStringIncludes(
      Deno.readTextFileSync(`${dir}/probe_bpf.ts`),
      "section `kprobe/do_unlinkat`",
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("bpf2ts: --type declares the type and a decoder; ring buffers with a value type too", () => {
  const objects = objectsFor(`${root}testdata/cli_bindings-el.o`);
  const text = generate({
    name: "a_rather_long_program_name_for_line_breaks",
    ...objects,
    importFrom: "../mod.ts",
    source: "cli_bindings.c",
    types: ["point", "stats_t", "color"],
  });
  assertStringIncludes(
    text,
    "export type LoadARatherLongProgramNameForLineBreaksOptions =\n  ebpf.BoundLoadOptions<\n",
  );
  assertStringIncludes(
    text,
    `const decoders = ebpf.typeDecoders(
  loadARatherLongProgramNameForLineBreaksSpec,
  "cli_bindings.c",
  [
    ["struct", "point"],
    ["typedef", "stats_t"],
    ["enum", "color"],
  ],
);`,
  );
  // A typedef of an anonymous struct is declared under the typedef's name.
  assertStringIncludes(
    text,
    "export function decodeStatsT(bytes: Uint8Array): StatsT {\n" +
      "  return decoders[1](bytes) as StatsT;\n}",
  );
  assertStringIncludes(text, "export function decodeColor(bytes: Uint8Array): Color {");
  assertFmtClean(text, true);
  const short = generate({
    name: "cli",
    ...objects,
    importFrom: "../mod.ts",
    source: "cli_bindings.c",
    types: ["point"],
  });
  assertStringIncludes(
    short,
    'const decoders = ebpf.typeDecoders(loadCliSpec, "cli_bindings.c", [\n  ["struct", "point"],\n]);',
  );
  assertFmtClean(short);
  // The runtime side: the spec is parsed on the first decode, once for all decoders.
  let parsed = 0;
  const spec = () => (parsed++, parseCollectionSpec(objects.little!));
  const [point, missing] = typeDecoders(spec, "cli_bindings.c", [
    ["struct", "point"],
    ["union", "point"],
  ]);
  assertEquals(parsed, 0);
  const bytes = new Uint8Array([0xfd, 0xff, 0xff, 0xff, 7, 0, 0, 0]);
  assertEquals([point(bytes), point(bytes)], [{ x: -3, y: 7 }, { x: -3, y: 7 }]);
  assertThrows(() => missing(bytes), TypeError, "has 0 types 'union point', not one");
  assertEquals(parsed, 1);
  const unknown = () =>
    generate({ name: "x", ...objects, importFrom: "x", source: "x.c", types: ["nothing"] });
  const e = assertThrows(unknown, TypeError);
  assertStringIncludes(e.message, "--type nothing: no struct, union, enum or typedef 'nothing'");
  assertStringIncludes(e.message, "const struct nothing *unused_nothing");

  // `__type(value, struct event)` on a ring buffer: decodeEvent() without --type.
  const dir = scratch("bpf2ts-ring-type-");
  try {
    Deno.writeTextFileSync(
      `${dir}/typed_ring.c`,
      `#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct event {
	__u32 pid;
	__u8 kind;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
	__type(value, struct event);
} events SEC(".maps");

SEC("syscall")
int send(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
`,
    );
    const r = bpf2ts(`${dir}/typed_ring.c`, `${dir}/typed_ring_bpf.ts`);
    assertEquals(r.ok, true, r.out);
    const out = Deno.readTextFileSync(`${dir}/typed_ring_bpf.ts`);
    assertStringIncludes(
      out,
      "/** The `events` map: a ring buffer of `struct event` ({@linkcode decodeEvent}). */",
    );
    assertStringIncludes(out, "export interface Event {\n  pid: number;\n  kind: number;\n}");
    assertStringIncludes(out, "export function decodeEvent(bytes: Uint8Array): Event {");
    assertFmtClean(out);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

kernelTest("bpf2ts: --type event decodes the record a program run sends through a ring", () => {
  const dir = scratch("bpf2ts-type-");
  try {
    const r = bpf2ts(`${root}testdata/bpf2ts_events.c`, `${dir}/events.ts`, "--type", "event");
    assertEquals(r.ok, true, r.out);
    const text = Deno.readTextFileSync(`${dir}/events.ts`);
    assertStringIncludes(
      text,
      "export interface Event {\n  pid: number;\n  kind: EventKind;\n  bytes: bigint;\n" +
        "  comm: string;\n  at: {\n    x: number;\n    y: number;\n  };\n  flags: number[];\n}",
    );
    assertFmtClean(text);
    Deno.writeTextFileSync(
      `${dir}/use.ts`,
      `import { RingReader } from "../mod.ts";
import { decodeEvent, type Event, type EventKind, loadBpf2tsEvents } from "./events.ts";

using objs = loadBpf2tsEvents();
using reader = new RingReader(objs.maps.events);
// struct args { __u32 pid; __u32 kind; __u64 bytes; __s16 x; __s16 y; }
function send(pid: number, kind: number, bytes: bigint, x: number, y: number): number {
  const args = new Uint8Array(24);
  const v = new DataView(args.buffer);
  v.setUint32(0, pid, true);
  v.setUint32(4, kind, true);
  v.setBigUint64(8, bytes, true);
  v.setInt16(16, x, true);
  v.setInt16(18, y, true);
  return objs.programs.send_event.run({ context: args }).retval;
}
const retvals = [send(42, 2, 1n << 40n, -3, 9), send(7, 1, 5n, 0, -1), send(8, 9, 0n, 1, 1)];
const events: Event[] = [];
for await (const e of reader.typed(decodeEvent)) {
  const kind: EventKind = e.kind;
  const bytes: bigint = e.bytes;
  events.push({ ...e, kind, bytes });
  if (events.length === 3) break;
}
console.log(JSON.stringify({ retvals, events }, (_k, v) => typeof v === "bigint" ? String(v) : v));
`,
    );
    const check = deno(["check", `${dir}/use.ts`]);
    assertEquals(check.ok, true, check.out);
    const run = deno(["run", "-A", `${dir}/use.ts`]);
    assertEquals(run.ok, true, run.out);
    const at = (x: number, y: number) => ({ x, y });
    const event = (pid: number, kind: string | number, bytes: string, x: number, y: number) => ({
      pid,
      kind,
      bytes,
      comm: "sender",
      at: at(x, y),
      flags: [1, 2],
    });
    assertEquals(JSON.parse(run.out), {
      retvals: [0, 0, 0],
      events: [
        event(42, "EVENT_CLOSE", String(1n << 40n), -3, 9),
        event(7, "EVENT_OPEN", "5", 0, -1),
        // A value the enum does not name decodes to its number.
        event(8, 9, "0", 1, 1),
      ],
    });
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

kernelTest(
  "bpf2ts: a program including a full vmlinux.h: small output, checked in seconds, loaded",
  () => {
    const dir = scratch("bpf2ts-vmlinux-");
    try {
      // The header a user makes first, with this package's own inspect (bpftool's would do too).
      const dump = command(Deno.execPath(), [
        "run",
        "-A",
        `${root}cmd/inspect.ts`,
        "/sys/kernel/btf/vmlinux",
        "--c",
      ]);
      assert(dump.ok, dump.out.slice(-500));
      Deno.writeTextFileSync(`${dir}/vmlinux.h`, dump.out);
      const typesInHeader = (dump.out.match(/^(struct|union|enum) \w+ \{$/gm) ?? []).length;
      // Debian's 6.1 declares about 9,000 of them, 6.18 about 11,000.
      assert(typesInHeader > 5000, `${typesInHeader} structs, unions and enums`);
      Deno.writeTextFileSync(
        `${dir}/opens.c`,
        `#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

struct event {
	__u32 pid;
	enum bpf_map_type type;
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, struct event);
} last SEC(".maps");

const struct event *unused_event __attribute__((unused));

/* Needs the target arch macro: bpf_tracing.h reads registers by their arch's names. */
static __always_inline unsigned long first_arg(struct pt_regs *regs)
{
	return PT_REGS_PARM1_CORE(regs);
}

SEC("tracepoint/syscalls/sys_enter_openat")
int on_openat(struct trace_event_raw_sys_enter *ctx)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->pid = BPF_CORE_READ(task, tgid);
	e->type = BPF_MAP_TYPE_RINGBUF;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
`,
      );
      const r = bpf2ts(`${dir}/opens.c`, `${dir}/opens_bpf.ts`, "--type", "event");
      assertEquals(r.ok, true, r.out);
      const text = Deno.readTextFileSync(`${dir}/opens_bpf.ts`);
      // Only what the maps, variables and --type reach is declared.
      const declared = [...text.matchAll(/^export (?:interface|type) (\w+)/gm)].map((m) => m[1]);
      assertEquals(declared.filter((n) => !n.startsWith("Opens") && n !== "LoadOpensOptions"), [
        "BpfMapType",
        "Event",
      ]);
      assertMatch(text, /export type BpfMapType =\n {2}\| "BPF_MAP_TYPE_UNSPEC"\n/);
      assert(text.length < 100_000, `${text.length} characters of bindings`);
      assertFmtClean(text);

      // deno check re-checks the whole graph for a new root: the library alone is the baseline.
      Deno.writeTextFileSync(`${dir}/lib.ts`, `export * from "../mod.ts";\n`);
      const tLib = performance.now();
      assertEquals(deno(["check", `${dir}/lib.ts`]).ok, true);
      const libMs = performance.now() - tLib;
      Deno.writeTextFileSync(
        `${dir}/use.ts`,
        `import { attachTracepoint, RingReader } from "../mod.ts";
import { decodeEvent, type Event, loadOpens } from "./opens_bpf.ts";

const start = performance.now();
using objs = loadOpens();
const loadMs = performance.now() - start;
using _link = attachTracepoint(objs.programs.on_openat, "syscalls", "sys_enter_openat");
using reader = new RingReader(objs.maps.events);
Deno.readTextFileSync("/proc/self/status");
for await (const e of reader.typed(decodeEvent)) {
  const event: Event = e;
  if (event.pid !== Deno.pid) continue;
  console.log(JSON.stringify({ type: event.type, loadMs }));
  break;
}
`,
      );
      const t0 = performance.now();
      const check = deno(["check", `${dir}/use.ts`]);
      const checkMs = performance.now() - t0;
      assertEquals(check.ok, true, check.out);
      const t1 = performance.now();
      const run = deno(["run", "-A", `${dir}/use.ts`]);
      const runMs = performance.now() - t1;
      assertEquals(run.ok, true, run.out);
      const got = JSON.parse(run.out);
      assertEquals(got.type, "BPF_MAP_TYPE_RINGBUF");
      console.log(
        `vmlinux.h with ${typesInHeader} structs, unions and enums: ${text.length} ` +
          `characters of bindings; deno check ${(checkMs / 1000).toFixed(2)} s (the library ` +
          `alone ${(libMs / 1000).toFixed(2)} s); deno run ${(runMs / 1000).toFixed(2)} s, ` +
          `of which load ${got.loadMs.toFixed(0)} ms`,
      );
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
);
