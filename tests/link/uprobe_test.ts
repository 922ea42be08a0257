// Kernel tests of uprobes, uretprobes and USDT probes on a binary built by the test with
// gcc, and on libc. readelf is the oracle for symbol and note parsing.
import { assert, assertEquals, assertGreaterOrEqual, assertThrows } from "@std/assert";
import * as asm from "../../asm/mod.ts";
import { FormatError } from "../../errors.ts";
import { ProgramType } from "../../prog/mod.ts";
import {
  attachUprobe,
  attachUprobeMulti,
  attachUretprobe,
  attachUsdt,
  linkFeatureMissing,
  LinkType,
  parseUsdtArg,
  resolveUprobe,
  usdtProbes,
} from "../../link/mod.ts";
import { TargetElf } from "../../link/_uprobe_elf.ts";
import { usdtArgInstructions } from "../../link/usdt.ts";
import { assertNoFdLeak, kernelTest, run } from "./_deps.ts";
import { count, counters, gcc, increment, load, spawnWaiting, store } from "./_progs.ts";

const { R0, R6, R7, DWord } = asm;
const SOURCE = new URL("./fixtures/uprobe_target.c", import.meta.url).pathname;
let built: string | undefined;
const binary = () => built ??= gcc(SOURCE, "uprobe_target", ["-I/usr/include/x86_64-linux-gnu"]);
const N = 25;
const expectedSum = (n: number) => (n * (n - 1)) / 2 + 7 * n;

// pt_regs offsets on x86-64.
const RDI = 112;
const RAX = 80;

Deno.test("uprobe ELF: symbol offsets and stapsdt notes agree with readelf", () => {
  const path = binary();
  const syms = run("readelf", ["-sW", path]);
  const m = /:\s+([0-9a-f]+)\s+\d+\s+FUNC\s+GLOBAL\s+DEFAULT\s+\d+\s+target_add$/m.exec(syms)!;
  assert(m, "readelf lists target_add");
  const elf = new TargetElf(Deno.readFileSync(path));
  assertEquals(elf.functionAddress("target_add"), BigInt("0x" + m[1]));
  const notes = run("readelf", ["-n", path]);
  const loc = /Location: 0x([0-9a-f]+), Base: 0x([0-9a-f]+), Semaphore: 0x([0-9a-f]+)/.exec(notes)!;
  const args = /Arguments: (.*)$/m.exec(notes)!;
  assert(loc && args);
  const [probe] = usdtProbes(path);
  assertEquals([probe.provider, probe.name], ["ebpftest", "tick"]);
  assertEquals(probe.args.map((a) => a.spec).join(" "), args[1].trim());
  assertEquals(probe.offset, elf.fileOffset(BigInt("0x" + loc[1])));
  assertEquals(probe.semaphoreOffset, elf.fileOffset(BigInt("0x" + loc[3])));
  assertEquals(resolveUprobe(path, "target_add").offset, elf.fileOffset(BigInt("0x" + m[1])));
  assertThrows(() => resolveUprobe(path, "no_such_function"), Deno.errors.NotFound);
});

Deno.test("uprobe ELF: corrupt files are FormatErrors, never crashes", () => {
  const bytes = Deno.readFileSync(binary());
  for (const cut of [0, 10, 63, 64, 200, 1000, bytes.length >> 1]) {
    try {
      const elf = new TargetElf(bytes.slice(0, cut));
      elf.functionAddress("target_add");
      elf.stapsdtNotes();
    } catch (e) {
      assert(e instanceof FormatError, `cut at ${cut}: ${e}`);
    }
  }
  // Random corruption of the header region.
  for (let i = 0; i < 300; i++) {
    const copy = bytes.slice();
    for (let j = 0; j < 8; j++) copy[Math.floor(Math.random() * 128)] = Math.random() * 256;
    try {
      const elf = new TargetElf(copy);
      elf.functionAddress("target_add");
      elf.stapsdtNotes();
    } catch (e) {
      assert(e instanceof FormatError || e instanceof RangeError, String(e));
    }
  }
});

Deno.test("USDT argument specs parse as libbpf reads them", () => {
  assertEquals(parseUsdtArg("-4@%ebx"), {
    spec: "-4@%ebx",
    kind: "reg",
    size: 4,
    signed: true,
    register: "ebx",
    ptRegsOffset: 40,
    value: 0n,
  });
  assertEquals(parseUsdtArg("8@-16(%rbp)").kind, "reg_deref");
  assertEquals(parseUsdtArg("8@-16(%rbp)").value, -16n);
  assertEquals(parseUsdtArg("-4@$1234").value, 1234n);
  assertThrows(() => parseUsdtArg("3@%eax"), SyntaxError);
  assertThrows(() => parseUsdtArg("4@%xyz"), SyntaxError);
});

kernelTest("uprobe and uretprobe fire on a function of a gcc-built binary", async () => {
  const path = binary();
  await assertNoFdLeak(async () => {
    using map = counters(4);
    using entry = load(
      ProgramType.Kprobe,
      new asm.Instructions([
        asm.Mov.Reg(R6, asm.R1),
        asm.LoadMem(R7, R6, RDI, DWord),
        ...store(map, 3, R7, "out"),
        ...increment(map, 0, "out"),
        asm.Label("out"),
        asm.Mov.Imm(R0, 0),
        asm.Return(),
      ]),
    );
    using exit = load(
      ProgramType.Kprobe,
      new asm.Instructions([
        asm.Mov.Reg(R6, asm.R1),
        asm.LoadMem(R7, R6, RAX, DWord),
        ...store(map, 2, R7, "out"),
        ...increment(map, 1, "out"),
        asm.Label("out"),
        asm.Mov.Imm(R0, 0),
        asm.Return(),
      ]),
    );
    const child = await spawnWaiting(path, [String(N)]);
    using up = attachUprobe(entry, path, "target_add", { pid: child.pid });
    using ret = attachUretprobe(exit, path, "target_add", { pid: child.pid });
    const out = await child.go();
    assertEquals(out.split(" ")[0], String(expectedSum(N)));
    assertEquals(count(map, 0), BigInt(N));
    assertEquals(count(map, 1), BigInt(N));
    assertEquals(count(map, 3), BigInt(N - 1), "the last call's first argument");
    assertEquals(count(map, 2), BigInt(N - 1 + 7), "the last call's return value");
    const info = up.info();
    assertEquals(info.type, LinkType.PerfEvent);
    if (info.details.kind === "perf_event") {
      assertEquals(info.details.perfEventType, 1);
      assertEquals(info.details.name, path);
      assertEquals(BigInt(info.details.offset), resolveUprobe(path, "target_add").offset);
    }
    void ret;
  });
});

kernelTest("uprobe on a libc symbol, with a pid filter and a cookie", async () => {
  const path = binary();
  using map = counters(2);
  using prog = load(
    ProgramType.Kprobe,
    new asm.Instructions([
      asm.Mov.Reg(R6, asm.R1),
      asm.FnGetAttachCookie.Call(),
      asm.Mov.Reg(R7, R0),
      ...store(map, 1, R7, "out"),
      ...increment(map, 0, "out"),
      asm.Label("out"),
      asm.Mov.Imm(R0, 0),
      asm.Return(),
    ]),
  );
  const child = await spawnWaiting(path, [String(N)]);
  using _l = attachUprobe(prog, "libc.so.6", "getpid", { pid: child.pid, cookie: 0xc00c1en });
  await child.go();
  // getpid is called N times by the loop (and perhaps by libc itself).
  assertGreaterOrEqual(count(map, 0), BigInt(N));
  assertEquals(count(map, 1), 0xc00c1en);
});

kernelTest("USDT probe with a semaphore fires with its arguments", async () => {
  const path = binary();
  const [probe] = usdtProbes(path);
  using map = counters(4);
  const insns: (asm.Instruction | asm.Label)[] = [asm.Mov.Reg(R6, asm.R1)];
  probe.args.forEach((arg, i) => {
    insns.push(...usdtArgInstructions(arg, R7, R6), ...store(map, i, R7, "out"));
  });
  insns.push(...increment(map, 3, "out"), asm.Label("out"), asm.Mov.Imm(R0, 0), asm.Return());
  using prog = load(ProgramType.Kprobe, new asm.Instructions(insns));
  const child = await spawnWaiting(path, [String(N)]);
  using usdt = attachUsdt(prog, path, "ebpftest", "tick", { pid: child.pid });
  assertEquals(usdt.links.length, 1);
  const [, fired] = (await child.go()).split(" ");
  assertEquals(fired, String(N), "the semaphore was set while attached");
  assertEquals(count(map, 3), BigInt(N));
  assertEquals(count(map, 0), BigInt(N - 1), "arg 0: i");
  assertEquals(count(map, 1), BigInt(expectedSum(N)), "arg 1: the running sum");
  assertEquals(count(map, 2), 1234n, "arg 2: a constant");
  assertThrows(() => attachUsdt(prog, path, "ebpftest", "nope"), Deno.errors.NotFound);
});

kernelTest("uprobe_multi: one link on two functions", async () => {
  const path = binary();
  using map = counters(1);
  const r = run("readelf", ["-sW", path]);
  assert(/ main$/m.test(r));
  const spec = new asm.Instructions([
    asm.Mov.Reg(R6, asm.R1),
    ...increment(map, 0, "out"),
    asm.Label("out"),
    asm.Mov.Imm(R0, 0),
    asm.Return(),
  ]);
  const { Program, ProgramSpec, AttachType } = await import("../../prog/mod.ts");
  using prog = Program.load(
    new ProgramSpec({
      name: "umulti",
      type: ProgramType.Kprobe,
      attachType: AttachType.TraceUprobeMulti,
      instructions: spec,
      license: "GPL",
    }),
  );
  const child = await spawnWaiting(path, ["5"]);
  using link = attachUprobeMulti(prog, path, { symbols: ["target_add", "main"], pid: child.pid });
  await child.go();
  // main was entered before the attach (the child waits inside it): only target_add counts.
  assertEquals(count(map, 0), 5n);
  const info = link.info();
  assertEquals(info.details.kind, "uprobe_multi");
  if (info.details.kind === "uprobe_multi") assertEquals(info.details.count, 2);
}, { skipIf: () => linkFeatureMissing("uprobeMulti") });
