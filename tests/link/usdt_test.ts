// USDT probes the libbpf way: a program built from <bpf/usdt.bpf.h> (testdata/link3_usdt.c)
// loads with newCollection and, attached with attachUsdt, reads every argument of
// ebpftest:tick (tests/link/fixtures/uprobe_target.c), its argument count and its cookie.
// Oracles: readelf -n for the argument strings, the kernel's BTF for pt_regs offsets,
// libbpf 1.1 itself (tests/link/fixtures/usdt_libbpf.c) for the spec bytes, bpftool for
// the BTF linkage the kernel was given.
import { assert, assertEquals, assertInstanceOf, assertThrows } from "@std/assert";
import { Func, Int, IntEncoding, Linkage } from "../../btf/mod.ts";
import { loadCollectionSpec } from "../../elf/mod.ts";
import { BpfMap, MapSpec, MapType } from "../../map/mod.ts";
import { newCollection } from "../../prog/mod.ts";
import { FUNC_INFO, HIDDEN_FUNC } from "../../prog/program_spec.ts";
import { writeKconfig } from "../../prog/_kconfig.ts";
import { kallsymsAddress } from "../../prog/_kallsyms.ts";
import {
  attachUsdt,
  parseUsdtArg,
  parseUsdtArgs,
  type UsdtArg,
  UsdtArgError,
  usdtProbes,
} from "../../link/mod.ts";
import { encodeUsdtSpec, specIdsInUse, USDT_SPEC_SIZE } from "../../link/_usdt_spec.ts";
import { testdata } from "../_harness.ts";
import { assertNoFdLeak, kernelTest, run } from "./_deps.ts";
import { gcc, memberOffset, spawnWaiting } from "./_progs.ts";

const SOURCE = new URL("./fixtures/uprobe_target.c", import.meta.url).pathname;
const ORACLE = new URL("./fixtures/usdt_libbpf.c", import.meta.url).pathname;
const OBJECT = testdata("link3_usdt-el.o");
const N = 25;
const expectedSum = (n: number) => (n * (n - 1)) / 2 + 7 * n;

// -O0 keeps the probe's arguments on the stack (REG_DEREF), -O1 in registers (REG); the
// constant is CONST in both.
const builds = new Map<string, string>();
const binary = (opt: "-O0" | "-O1") => {
  let path = builds.get(opt);
  if (!path) {
    path = gcc(SOURCE, `uprobe_target${opt}`, ["-I/usr/include/x86_64-linux-gnu", opt]);
    builds.set(opt, path);
  }
  return path;
};

/** The argument strings readelf prints for the probe in `path`. */
function readelfArgs(path: string): string[] {
  const notes = run("readelf", ["-n", path]);
  const m = /Provider: ebpftest\s+Name: tick[\s\S]*?Arguments: (.*)$/m.exec(notes);
  assert(m, "readelf lists ebpftest:tick");
  return m![1].trim().split(/\s+/);
}

Deno.test("USDT: the fixture's argument strings parse as readelf prints them", () => {
  for (const opt of ["-O0", "-O1"] as const) {
    const path = binary(opt);
    const [probe] = usdtProbes(path);
    const printed = readelfArgs(path);
    assertEquals(probe.args.map((a) => a.spec), printed, opt);
    for (const [i, a] of probe.args.entries()) assertEquals(parseUsdtArg(printed[i]), a);
    // i (int), sum (long), 1234 (int): gcc makes all three signed.
    assertEquals(probe.args.map((a) => [a.size, a.signed]), [[4, true], [8, true], [4, true]]);
    assertEquals(probe.args[2].kind, "const");
    assertEquals(probe.args[2].value, 1234n);
    for (const a of probe.args.slice(0, 2)) {
      assertEquals(a.kind, opt === "-O0" ? "reg_deref" : "reg", `${opt} ${a.spec}`);
    }
  }
});

Deno.test("USDT: register offsets are those of the kernel's struct pt_regs", () => {
  // Every spelling of a register maps to its pt_regs member as the kernel's BTF has it.
  const families: [string, string[]][] = [
    ["ax", ["rax", "eax", "ax", "al"]],
    ["bx", ["rbx", "ebx", "bx", "bl"]],
    ["cx", ["rcx", "ecx", "cx", "cl"]],
    ["dx", ["rdx", "edx", "dx", "dl"]],
    ["si", ["rsi", "esi", "si", "sil"]],
    ["di", ["rdi", "edi", "di", "dil"]],
    ["bp", ["rbp", "ebp", "bp", "bpl"]],
    ["sp", ["rsp", "esp", "sp", "spl"]],
    ["ip", ["rip", "eip", "ip"]],
  ];
  for (let r = 8; r <= 15; r++) families.push([`r${r}`, [`r${r}`, `r${r}d`, `r${r}w`, `r${r}b`]]);
  for (const [member, names] of families) {
    const want = memberOffset("pt_regs", member);
    for (const n of names) {
      assertEquals(parseUsdtArg(`8@%${n}`).ptRegsOffset, want, n);
      assertEquals(parseUsdtArg(`-4@-12(%${n})`).ptRegsOffset, want, n);
    }
  }
});

Deno.test("USDT: argument strings libbpf cannot read are UsdtArgErrors naming them", () => {
  for (
    const bad of [
      "3@%eax", // size
      "16@%rax",
      "4@%ah", // the high byte is not the low bits of rax
      "8@-8(%rbp,%rax,8)", // indexed
      "4@sym(%rip)", // symbolic offset
      "8@%xmm0",
      "8@%fs:8",
      "@%rax",
      "rax",
      "8@$99999999999999999999",
      "8@99999999999999999999(%rbp)",
      "",
    ]
  ) {
    const e = assertThrows(() => parseUsdtArg(bad), UsdtArgError) as UsdtArgError;
    assertInstanceOf(e, SyntaxError);
    assertEquals(e.spec, bad);
    assert(e.message.includes(`"${bad}"`), e.message);
  }
  assertEquals(parseUsdtArgs("  "), []);
  assertEquals(parseUsdtArgs("8@%rax  -4@$-9").map((a) => a.value), [0n, 2n ** 64n - 9n]);
  assertEquals(parseUsdtArg("-1@(%rsi)").value, 0n);
  const many = Array(13).fill("8@%rax").join(" ");
  assertEquals((assertThrows(() => parseUsdtArgs(many), UsdtArgError) as UsdtArgError).spec, many);
  assertEquals(parseUsdtArgs(Array(12).fill("8@%rax").join(" ")).length, 12);
});

Deno.test("USDT: encodeUsdtSpec lays out struct __bpf_usdt_spec", () => {
  const args: UsdtArg[] = parseUsdtArgs("-4@-16(%rbp) 2@%cx -1@$-3");
  const bytes = encodeUsdtSpec(args, 0x1122334455667788n);
  assertEquals(bytes.length, USDT_SPEC_SIZE);
  const v = new DataView(bytes.buffer);
  // arg 0: val_off -16, REG_DEREF, reg_off of rbp, signed, bitshift 32
  assertEquals(v.getBigInt64(0, true), -16n);
  assertEquals(v.getUint32(8, true), 2);
  assertEquals(v.getInt16(12, true), 32);
  assertEquals([bytes[14], bytes[15]], [1, 32]);
  // arg 1: REG, rcx (88), unsigned, bitshift 48
  assertEquals(v.getUint32(16 + 8, true), 1);
  assertEquals(v.getInt16(16 + 12, true), 88);
  assertEquals([bytes[30], bytes[31]], [0, 48]);
  // arg 2: CONST -3, bitshift 56
  assertEquals(v.getBigInt64(32, true), -3n);
  assertEquals(v.getUint32(40, true), 0);
  assertEquals([bytes[46], bytes[47]], [1, 56]);
  assert(bytes.subarray(48, 192).every((b) => b === 0));
  assertEquals(v.getBigUint64(192, true), 0x1122334455667788n);
  assertEquals(v.getInt16(200, true), 3);
  assertThrows(() => encodeUsdtSpec(Array(13).fill(args[0]), 0n), RangeError);
});

Deno.test("USDT loader: LINUX_ kconfig externs libbpf 1.1 computes", () => {
  const bool = new Int("_Bool", 1, IntEncoding.Bool);
  const out = new Uint8Array(4);
  assert(writeKconfig("LINUX_HAS_BPF_COOKIE", bool, out, 0));
  assert(writeKconfig("LINUX_HAS_SYSCALL_WRAPPER", bool, out, 1));
  assert(writeKconfig("LINUX_KERNEL_VERSION", new Int("unsigned int", 4), new Uint8Array(4), 0));
  // Linux 6.18 has BPF cookies; the x86-64 wrapper is in kallsyms exactly when it exists.
  assertEquals(out[0], 1);
  assertEquals(out[1], kallsymsAddress("__x64_sys_bpf") !== undefined ? 1 : 0);
  // Names libbpf does not compute have no value: a __weak extern is then 0.
  assertEquals(writeKconfig("LINUX_NO_SUCH_THING", bool, out, 2), false);
  assertThrows(() => writeKconfig("NOT_CONFIG", bool, out, 0), TypeError);
});

Deno.test("USDT loader: hidden global subprograms are marked; the spec keeps its BTF", async () => {
  const spec = await loadCollectionSpec(OBJECT);
  const hidden = new Set<string>();
  for (const ins of spec.programs.tick.instructions.list) {
    if (ins.meta?.[HIDDEN_FUNC] === true) hidden.add((ins.meta[FUNC_INFO] as Func).name);
  }
  // llvm-readelf: the three helpers of usdt.bpf.h are WEAK HIDDEN, tick GLOBAL DEFAULT.
  const syms = run("llvm-readelf-19", ["-sW", OBJECT]);
  const fromElf = [...syms.matchAll(/FUNC\s+(?:GLOBAL|WEAK)\s+HIDDEN\s+\d+\s+(\S+)$/gm)]
    .map((m) => m[1]);
  assertEquals([...hidden].sort(), fromElf.sort());
  assertEquals(fromElf.length, 3);
  for (const f of spec.types!.types()) {
    if (f instanceof Func && fromElf.includes(f.name)) assertEquals(f.linkage, Linkage.Global);
  }
});

kernelTest("USDT loader: the kernel gets hidden subprograms as static functions", async () => {
  const spec = await loadCollectionSpec(OBJECT);
  using coll = newCollection(spec);
  const dump = run("bpftool", ["btf", "dump", "id", String(coll.programs.tick.info().btfId)]);
  for (const name of ["bpf_usdt_arg", "bpf_usdt_arg_cnt", "bpf_usdt_cookie"]) {
    assert(new RegExp(`FUNC '${name}' type_id=\\d+ linkage=static`).test(dump), name);
  }
  assert(/FUNC 'tick' type_id=\d+ linkage=global/.test(dump));
  // The spec is left as parsed: loading it again gives the same answer.
  for (const f of spec.types!.types()) {
    if (f instanceof Func && f.name === "bpf_usdt_arg") assertEquals(f.linkage, Linkage.Global);
  }
});

let oracle: string | undefined;

/** What libbpf writes into __bpf_usdt_specs for the probe in `path`: id → hex. */
function libbpfSpecs(path: string, cookie: bigint): Map<number, string> {
  oracle ??= gcc(ORACLE, "usdt_libbpf", ["-lbpf"]);
  const out = run(oracle, [OBJECT, path, `0x${cookie.toString(16)}`]);
  return new Map(
    out.trim().split("\n").map((l) => l.split(" ")).map(([id, hex]) => [Number(id), hex]),
  );
}

const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");

kernelTest("USDT: attachUsdt writes the specs libbpf writes", async () => {
  const spec = await loadCollectionSpec(OBJECT);
  using coll = newCollection(spec);
  const specs = coll.maps.__bpf_usdt_specs;
  for (const opt of ["-O0", "-O1"] as const) {
    const path = binary(opt);
    const cookie = 0xfeed0000cafen;
    const want = libbpfSpecs(path, cookie);
    assertEquals([...want.keys()], [0], `${opt}: libbpf wrote one spec`);
    assertEquals(hex(encodeUsdtSpec(usdtProbes(path)[0].args, cookie)), want.get(0));
    using l = attachUsdt(coll.programs.tick, path, "ebpftest", "tick", { cookie });
    assertEquals(l.specIds, [0]);
    assertEquals(hex(specs.lookupBytes(0)!), want.get(0), opt);
  }
});

kernelTest("USDT: a BPF_USDT program sees every argument, the count and the cookie", async () => {
  const spec = await loadCollectionSpec(OBJECT);
  await assertNoFdLeak(async () => {
    using coll = newCollection(spec);
    const seen = coll.maps.seen;
    for (const opt of ["-O0", "-O1"] as const) {
      for (let k = 0; k < 6; k++) seen.update(k, 0n);
      const path = binary(opt);
      const child = await spawnWaiting(path, [String(N)]);
      const cookie = opt === "-O0" ? 0xc00c1en : -2n;
      using l = attachUsdt(coll.programs.tick, path, "ebpftest", "tick", {
        pid: child.pid,
        cookie,
      });
      assertEquals(l.links.length, 1);
      const [sum, fired] = (await child.go()).split(" ");
      assertEquals([sum, fired], [String(expectedSum(N)), String(N)], "semaphore set");
      assertEquals(seen.lookup(0), BigInt(N), `${opt}: fired once per tick`);
      assertEquals(seen.lookup(1), BigInt(N - 1), `${opt}: arg 0, i`);
      assertEquals(seen.lookup(2), BigInt(expectedSum(N)), `${opt}: arg 1, the sum`);
      assertEquals(seen.lookup(3), 1234n, `${opt}: arg 2, a constant`);
      assertEquals(seen.lookup(4), 3n, `${opt}: bpf_usdt_arg_cnt`);
      assertEquals(seen.lookup(5), BigInt.asUintN(64, cookie), `${opt}: bpf_usdt_cookie`);
    }
  });
});

/** struct __bpf_usdt_spec as the map's BTF decodes it. */
interface Written {
  args: Record<string, unknown>[];
  usdt_cookie: bigint;
  arg_cnt: number;
}

kernelTest("USDT: spec ids are shared per attachment and freed on close", async () => {
  const spec = await loadCollectionSpec(OBJECT);
  using coll = newCollection(spec);
  const specs = coll.maps.__bpf_usdt_specs;
  const mapId = specs.info().id;
  const path = binary("-O1");
  const a = attachUsdt(coll.programs.tick, path, "ebpftest", "tick");
  // Given explicitly, the same map: the next free id.
  const b = attachUsdt(coll.programs.tick, path, "ebpftest", "tick", { specs, cookie: 9n });
  assertEquals([a.specIds, b.specIds], [[0], [1]]);
  assertEquals(specIdsInUse(mapId), [0, 1]);
  // Decoded by the map's own BTF (struct __bpf_usdt_spec as clang laid it out).
  const written = specs.lookup<Written>(1)!;
  assertEquals(written.usdt_cookie, 9n);
  assertEquals(written.arg_cnt, 3);
  assertEquals(written.args.slice(0, 3), [
    { val_off: 0n, arg_type: "BPF_USDT_ARG_REG", reg_off: 40, arg_signed: true, arg_bitshift: 32 },
    { val_off: 0n, arg_type: "BPF_USDT_ARG_REG", reg_off: 32, arg_signed: true, arg_bitshift: 0 },
    {
      val_off: 1234n,
      arg_type: "BPF_USDT_ARG_CONST",
      reg_off: 0,
      arg_signed: true,
      arg_bitshift: 32,
    },
  ]);
  a.close();
  a.close();
  assertEquals(specIdsInUse(mapId), [1]);
  using c = attachUsdt(coll.programs.tick, path, "ebpftest", "tick");
  assertEquals(c.specIds, [0]);
  b.close();
  assertEquals(specIdsInUse(mapId), [0]);
  // specs: null writes nothing and passes the cookie through as the BPF cookie.
  using d = attachUsdt(coll.programs.tick, path, "ebpftest", "tick", { specs: null });
  assertEquals(d.specIds, []);
});

kernelTest("USDT: a map that is not usdt.bpf.h's is a TypeError, and nothing leaks", async () => {
  const spec = await loadCollectionSpec(OBJECT);
  using coll = newCollection(spec);
  const path = binary("-O1");
  await assertNoFdLeak(() => {
    using wrong = BpfMap.create(
      new MapSpec({ type: MapType.Array, keySize: 4, valueSize: 200, maxEntries: 4 }),
    );
    assertThrows(
      () => attachUsdt(coll.programs.tick, path, "ebpftest", "tick", { specs: wrong }),
      TypeError,
    );
    assertThrows(
      () => attachUsdt(coll.programs.tick, path, "ebpftest", "nope"),
      Deno.errors.NotFound,
    );
  });
  assertEquals(specIdsInUse(coll.maps.__bpf_usdt_specs.info().id), []);
});

const SITES = new URL("./fixtures/usdt_sites.c", import.meta.url).pathname;

kernelTest(
  "USDT: every site of a probe fires with its own spec; equal strings share one",
  async () => {
    const path = gcc(SITES, "usdt_sites", ["-O2", "-I/usr/include/x86_64-linux-gnu"]);
    const notes = run("readelf", ["-n", path]);
    const printed = [...notes.matchAll(/Name: site[\s\S]*?Arguments: (.*)$/gm)].map((m) =>
      m[1].trim()
    );
    assertEquals(printed.length, 3, "readelf lists three sites");
    const spec = await loadCollectionSpec(OBJECT);
    using coll = newCollection(spec);
    const child = await spawnWaiting(path, []);
    using l = attachUsdt(coll.programs.tick, path, "ebpftest", "site", { pid: child.pid });
    assertEquals(l.links.length, 3);
    assertEquals(l.probes.map((p) => p.args[0].spec), printed);
    assertEquals(l.probes.map((p) => p.semaphoreOffset), [0n, 0n, 0n]);
    // One spec id per distinct argument string, in site order.
    const ids = new Map<string, number>();
    printed.forEach((s, i) => {
      if (!ids.has(s)) ids.set(s, l.specIds[i]);
      assertEquals(l.specIds[i], ids.get(s));
    });
    assertEquals(new Set(l.specIds).size, new Set(printed).size);
    assertEquals(await child.go(), "done");
    assertEquals(coll.maps.seen.lookup(0), 3n, "three sites fired");
    assertEquals(coll.maps.seen.lookup(1), 7n, "the last site's argument");
    assertEquals(coll.maps.seen.lookup(4), 1n, "one argument");
  },
);
