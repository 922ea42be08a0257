// cmd/inspect: run as a user would (a subprocess with only --allow-read), its --llvm
// disassembly compared with llvm-objdump-19, its --json parsed and checked against the C source.
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { llvmMissing, objdump } from "../asm/_objdump.ts";
import { report, showValue } from "../../cmd/inspect.ts";
import { parseCollectionSpec } from "../../elf/mod.ts";

const root = new URL("../../", import.meta.url);
const INSPECT = new URL("cmd/inspect.ts", root).pathname;
const TESTDATA = new URL("testdata/", root).pathname;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function inspect(...args: string[]): Run {
  const out = new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", "--allow-read", INSPECT, ...args],
    cwd: root.pathname,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).outputSync();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** The instruction lines of each section in inspect's --llvm output. */
function sectionsOf(text: string): Map<string, string[]> {
  const sections = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of text.split("\n")) {
    const header = /^Disassembly of section (.*):$/.exec(line);
    if (header) sections.set(header[1], current = []);
    else if (current && /^\s+\d+:\t/.test(line)) current.push(line);
  }
  return sections;
}

Deno.test("inspect: the bundled object with only --allow-read", () => {
  const r = inspect();
  assertEquals(r.code, 0, r.stderr);
  assertStringIncludes(r.stdout, "demo_syscalls-el.o (bundled): little-endian BPF object");
  assertStringIncludes(r.stdout, 'count_syscalls  section "tracepoint/raw_syscalls/sys_enter"');
  assertStringIncludes(r.stdout, "BPF_PROG_TYPE_TRACEPOINT");
  assertStringIncludes(r.stdout, 'attach to "raw_syscalls/sys_enter"');
  assertStringIncludes(r.stdout, "call bpf_get_current_comm#16");
  assertStringIncludes(r.stdout, "r1 = map[calls_by_pid]");
  assertStringIncludes(
    r.stdout,
    "calls_by_pid  BPF_MAP_TYPE_HASH  key 4 B (__u32)  value 24 B (struct counter)  max 10240",
  );
  assertStringIncludes(r.stdout, "flags BPF_F_RDONLY_PROG");
  assertStringIncludes(r.stdout, "only_pid  .rodata+0  4 B  const volatile __u32  const  = 0");
});

Deno.test("inspect: --btf prints the object's types as C", () => {
  const r = inspect("--btf");
  assertEquals(r.code, 0, r.stderr);
  assertStringIncludes(r.stdout, "struct counter {\n\t__u64 calls;\n\tchar comm[16];\n};");
  // --c: only the header, guarded, for an object as for raw BTF.
  const c = inspect("--c", `${TESTDATA}demo_syscalls-el.o`);
  assertEquals(c.code, 0, c.stderr);
  assert(c.stdout.startsWith("#ifndef __DEMO_SYSCALLS_EL_H__\n"), c.stdout.slice(0, 80));
  assertStringIncludes(c.stdout, "struct counter {\n\t__u64 calls;\n\tchar comm[16];\n};");
  assert(!c.stdout.includes("Programs ("));
  const none = inspect("--c", `${TESTDATA}legacy_maps-nobtf-el.o`);
  assertEquals(none.code, 1);
  assertStringIncludes(none.stderr, "it has no BTF");
});

Deno.test("inspect: --json parses and describes the object", () => {
  const r = inspect("--json", "--llvm");
  assertEquals(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assertEquals(j.byteOrder, "little");
  assertEquals(j.programs.length, 1);
  const p = j.programs[0];
  assertEquals(
    [p.name, p.section, p.type, p.attachTo, p.license],
    [
      "count_syscalls",
      "tracepoint/raw_syscalls/sys_enter",
      "BPF_PROG_TYPE_TRACEPOINT",
      "raw_syscalls/sys_enter",
      "GPL",
    ],
  );
  // 37 slots in llvm-objdump's listing (0 to 36).
  assertEquals(p.bytes, 37 * 8);
  const map = j.maps.find((m: { name: string }) => m.name === "calls_by_pid");
  assertEquals(
    [map.type, map.keySize, map.valueSize, map.maxEntries, map.key, map.value],
    ["BPF_MAP_TYPE_HASH", 4, 24, 10240, "__u32", "struct counter"],
  );
  assertEquals(j.variables, [{
    name: "only_pid",
    section: ".rodata",
    offset: 0,
    size: 4,
    type: "const volatile __u32",
    constant: true,
    value: 0,
  }]);
  assert(j.llvm.includes("0000000000000000 <count_syscalls>:"));
});

Deno.test("inspect: a big-endian object's variables decode as its little-endian twin's", () => {
  const twins = [...Deno.readDirSync(TESTDATA)].map((e) => e.name)
    .filter((n) => n.endsWith("-el.o")).sort();
  let decoded = 0;
  const variablesOf = (name: string) => {
    const bytes = Deno.readFileSync(`${TESTDATA}${name}`);
    return report(name, bytes, parseCollectionSpec(bytes)).variables;
  };
  for (const little of twins) {
    const el = variablesOf(little);
    const eb = variablesOf(little.replace("-el.o", "-eb.o"));
    for (const [i, v] of eb.entries()) {
      // Bitfields number their bits by byte order too: those stay bytes, in the object's order,
      // as do variables of objects without BTF.
      if (v.value instanceof Uint8Array) {
        assert(v.type == null || v.type.startsWith("struct"), `${little} ${v.name}`);
        continue;
      }
      assertEquals(v, el[i], `${little} ${v.name}`);
      decoded++;
    }
  }
  assert(decoded >= 30, `only ${decoded} variables decoded`);
  const globals = inspect(`${TESTDATA}elf_globals-eb.o`).stdout;
  assertStringIncludes(
    globals,
    "magic  .rodata.magic+0  8 B  const volatile __u64  const  = 1234605616436508552n",
  );
  assertStringIncludes(globals, "ports  .data.ports+0  6 B  __u16[3]  = [ 80, 443, 8080 ]");
});

Deno.test("inspect: a long run of equal elements prints once with its count, on one line", () => {
  const r = inspect(`${TESTDATA}core_kernel-el.o`);
  assertStringIncludes(r.stdout, "\n  out  .bss+0  320 B  __u64[40]  = [ 0n × 40 ]\n");
  // A bitfield struct in the other byte order stays bytes: 272 zeros are one item too.
  const tagged = inspect(`${TESTDATA}btf_kinds-eb.o`);
  assertStringIncludes(tagged.stdout, "\n  g_tagged  .bss+0  272 B  struct tagged  = 00 × 272\n");
  assertEquals(showValue([1n, 2n, 0n, 0n, 0n, 0n, 7n]), "[ 1n, 2n, 0n × 4, 7n ]");
  assertEquals(showValue([0, 0, 0]), "[ 0, 0, 0 ]");
  assertEquals(showValue({ a: [0, 0, 0, 0], "b-c": "x" }), '{ a: [ 0 × 4 ], "b-c": "x" }');
  assertEquals(showValue(new Uint8Array([1, 0, 0, 0, 0, 0xff])), "01 00 × 4 ff");
  assertEquals(showValue([]), "[]");
});

Deno.test("inspect: a program's header counts the slots its listing numbers", () => {
  for (const name of ["demo_syscalls-el.o", "asm_calls-el.o", "elf_globals-el.o"]) {
    const lines = inspect(`${TESTDATA}${name}`).stdout.split("\n");
    let checked = 0;
    for (let i = 0; i < lines.length; i++) {
      const header = /^ {2}(\S+) {2}section .* (\d+) instructions \((\d+) slots, (\d+) bytes\)/
        .exec(lines[i]);
      if (!header) continue;
      const [, prog, insns, slots, bytes] = header;
      const listing: number[] = [];
      let j = i + 1;
      for (; j < lines.length && lines[j].startsWith("    "); j++) {
        const m = /^\s+(\d+): /.exec(lines[j]);
        if (m) listing.push(Number(m[1]));
      }
      // The last instruction of a program is an exit or a jump: one slot.
      assertEquals(Number(slots), listing.at(-1)! + 1, `${name} ${prog}`);
      assertEquals(Number(insns), listing.length, `${name} ${prog}`);
      assertEquals(Number(bytes), Number(slots) * 8);
      checked++;
    }
    assert(checked > 0, name);
  }
});

function llvm19Misreads(line: string): boolean {
  return line.endsWith("\t<unknown>") ||
    /\tlock \*\(u32 \*\)\(r\d+ [+-] 0x[0-9a-f]+\) \+= r\d+$/.test(line);
}

Deno.test({
  name: "inspect: --llvm disassembly equals llvm-objdump-19 -d, every testdata object",
  ignore: llvmMissing() !== undefined,
  fn() {
    const objects = [...Deno.readDirSync(TESTDATA)].map((e) => e.name)
      .filter((n) => n.endsWith(".o")).sort();
    assert(objects.includes("demo_syscalls-el.o"));
    for (const name of objects) {
      const path = `${TESTDATA}${name}`;
      const order = name.includes("-eb") ? "big" : "little";
      const r = inspect("--llvm", path);
      assertEquals(r.code, 0, `${name}: ${r.stderr}`);
      const ours = sectionsOf(r.stdout);
      const want = new Map(
        [...objdump(path, order)].map(([s, lines]) => [
          s,
          lines.map((l) => `${String(l.offset).padStart(8)}:\t${l.text}`),
        ]),
      );
      assertEquals([...ours.keys()], [...want.keys()], name);
      for (const [section, lines] of want) {
        const got = ours.get(section) ?? [];
        assertEquals(got.length, lines.length, `${name} ${section}: line count`);
        for (let i = 0; i < lines.length; i++) {
          // llvm-objdump 19 without +alu32 cannot decode 32-bit atomics other than `lock +=`
          // (see tests/asm/oracle_test.ts); the bundled object has none.
          if (got[i] !== lines[i] && name !== "demo_syscalls-el.o" && llvm19Misreads(lines[i])) {
            continue;
          }
          assertEquals(got[i], lines[i], `${name} ${section}`);
        }
      }
    }
  },
});

Deno.test("inspect: without --allow-read it names the flag; bad input is an error, not a crash", () => {
  const noRead = new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", INSPECT, "testdata/demo_syscalls-el.o"],
    cwd: root.pathname,
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  assertEquals(noRead.code, 1);
  const noReadErr = new TextDecoder().decode(noRead.stderr);
  assertStringIncludes(noReadErr, "Cannot read 'testdata/demo_syscalls-el.o'");
  assertStringIncludes(noReadErr, "--allow-read");

  const dir = Deno.makeTempDirSync({ prefix: "inspect-" });
  try {
    const bad = `${dir}/bad.o`;
    const bytes = Deno.readFileSync(`${TESTDATA}demo_syscalls-el.o`).slice(0, 200);
    Deno.writeFileSync(bad, bytes);
    const r = inspect(bad);
    assertEquals(r.code, 1);
    assertStringIncludes(r.stderr, `Cannot inspect '${bad}'`);
    const missing = inspect(`${dir}/none.o`);
    assertEquals(missing.code, 1);
    assertStringIncludes(missing.stderr, "Cannot read");
    const unknown = inspect("--bogus");
    assertEquals(unknown.code, 2);
    assertStringIncludes(unknown.stderr, "Unknown option: '--bogus'");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
