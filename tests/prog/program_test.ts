import { assert, assertEquals, assertThrows } from "@std/assert";
import { asm } from "../../mod.ts";
import {
  AttachType,
  CORE_RELO,
  enableStats,
  FUNC_INFO,
  MAX_LOG_SIZE,
  Program,
  ProgramSpec,
  ProgramType,
} from "../../prog/mod.ts";
import { BpfMap, MapSpec, MapType } from "../../map/mod.ts";
import { VerifierError } from "../../errors.ts";
import { type Attr, BpfCmd, kernelBackend, setBackend } from "../../ffi.ts";
import {
  assertNoFdLeak,
  ensureBpffs,
  kernelTest,
  missingFeature,
  run,
  testdata,
} from "../_harness.ts";
import { logTrueSize } from "../../prog/_prog_features.ts";
import { ElfFile } from "../../elf/elf_file.ts";
import {
  CoreReloKind,
  Int,
  IntEncoding,
  Member,
  parseSpecAndExtInfos,
  Struct,
} from "../../btf/mod.ts";

const { R0, R1, R2, Mov, Return, LoadMem } = asm;

function retSpec(value: number, name = "ret_const"): ProgramSpec {
  return new ProgramSpec({
    name,
    type: ProgramType.SocketFilter,
    license: "GPL",
    instructions: new asm.Instructions([Mov.Imm(R0, value), Return()]),
  });
}

/** A program the verifier rejects (r2 is read before it is written). */
function badSpec(): ProgramSpec {
  return new ProgramSpec({
    name: "bad",
    type: ProgramType.SocketFilter,
    license: "GPL",
    instructions: new asm.Instructions([Mov.Reg(R0, R2), Return()]),
  });
}

/** A rejected program whose log is long: many instructions before the faulty one. */
function longBadSpec(n: number): ProgramSpec {
  const list = [];
  for (let i = 0; i < n; i++) list.push(Mov.Imm(R0, i));
  list.push(Mov.Reg(R0, R2), Return());
  return new ProgramSpec({
    name: "long_bad",
    type: ProgramType.SocketFilter,
    license: "GPL",
    instructions: new asm.Instructions(list),
  });
}

kernelTest("Program.load and run return the program's value", () => {
  using prog = Program.load(retSpec(7));
  assertEquals(prog.run({ data: new Uint8Array(64) }).retval, 7);
  assertEquals(prog.type, ProgramType.SocketFilter);
  assertEquals(prog.name, "ret_const");
});

kernelTest("Program.run passes the context in and out", () => {
  // return skb->mark (offset 8 of struct __sk_buff)
  const spec = new ProgramSpec({
    name: "ret_mark",
    type: ProgramType.SocketFilter,
    license: "GPL",
    instructions: new asm.Instructions([LoadMem(R0, R1, 8, asm.Size.Word), Return()]),
  });
  using prog = Program.load(spec);
  const ctx = new Uint8Array(192); // sizeof(struct __sk_buff)
  new DataView(ctx.buffer).setUint32(8, 1234, true);
  const r = prog.run({ data: new Uint8Array(64), context: ctx, repeat: 3 });
  assertEquals(r.retval, 1234);
  assertEquals(r.context?.length, 192);
});

kernelTest("VerifierError carries the verifier's reason", () => {
  const e = assertThrows(() => Program.load(badSpec()), VerifierError) as VerifierError;
  assert(e.message.includes("R2 !read_ok"), e.message);
  assert(e.log.some((l) => l.includes("R2 !read_ok")));
  assertEquals(e.truncated, false);
});

/** Records the log_size of every BPF_PROG_LOAD; optionally hides log_true_size (pre-6.4). */
function recordLogSizes(hideTrueSize: boolean): { sizes: number[]; restore: () => void } {
  const sizes: number[] = [];
  const restore = setBackend({
    bpf(cmd: number, attr: Attr): number {
      const r = kernelBackend.bpf(cmd, attr);
      if (cmd === BpfCmd.PROG_LOAD) {
        sizes.push(attr.getU32(28));
        if (hideTrueSize) attr.u32(140, 0);
      }
      return r;
    },
    address: kernelBackend.address,
  });
  return { sizes, restore };
}

kernelTest("the verifier log buffer grows until the log fits", () => {
  const full = assertThrows(() => Program.load(longBadSpec(200)), VerifierError) as VerifierError;
  const fullText = full.log.join("\n");
  assert(fullText.length > 2000, `log of ${fullText.length} bytes`);
  // Older kernels do not report the size they need: the loader doubles, several times.
  const rec = recordLogSizes(true);
  let e: VerifierError;
  try {
    e = assertThrows(() => Program.load(longBadSpec(200), { logSize: 128 }), VerifierError);
  } finally {
    rec.restore();
  }
  const grown = rec.sizes.filter((s) => s > 0);
  assert(grown.length >= 3, `sizes ${rec.sizes}`);
  assertEquals(grown[0], 128);
  for (let i = 1; i < grown.length; i++) assertEquals(grown[i], grown[i - 1] * 2);
  assert(grown[grown.length - 1] >= 4 * 128);
  assertEquals(e.log.join("\n"), fullText);
  assertEquals(e.truncated, false);
});

kernelTest("the kernel's log_true_size grows the log in one step", () => {
  const full = assertThrows(() => Program.load(longBadSpec(200)), VerifierError) as VerifierError;
  const fullText = full.log.join("\n");
  // Linux 6.4+ reports log_true_size: one step to exactly what was needed.
  const rec2 = recordLogSizes(false);
  try {
    assertThrows(() => Program.load(longBadSpec(200), { logSize: 128 }), VerifierError);
  } finally {
    rec2.restore();
  }
  const steps = rec2.sizes.filter((s) => s > 0);
  assertEquals(steps.length, 2, `sizes ${rec2.sizes}`);
  assert(steps[1] > fullText.length && steps[1] < fullText.length + 64, `sizes ${steps}`);
}, { skipIf: () => missingFeature(logTrueSize) });

kernelTest("without log_true_size the loader doubles on the kernel's own answer", () => {
  // Nothing hidden: the kernel itself leaves log_true_size at 0, as before 6.4.
  const full = assertThrows(() => Program.load(longBadSpec(200)), VerifierError) as VerifierError;
  const rec = recordLogSizes(false);
  let e: VerifierError;
  try {
    e = assertThrows(() => Program.load(longBadSpec(200), { logSize: 128 }), VerifierError);
  } finally {
    rec.restore();
  }
  const grown = rec.sizes.filter((s) => s > 0);
  assert(grown.length >= 3, `sizes ${rec.sizes}`);
  for (let i = 1; i < grown.length; i++) assertEquals(grown[i], grown[i - 1] * 2);
  assertEquals(e.log.join("\n"), full.log.join("\n"));
}, { skipIf: () => logTrueSize.supported() ? "this kernel reports log_true_size" : undefined });

kernelTest("a log level keeps the log of a successful load", () => {
  using prog = Program.load(retSpec(1), { logLevel: 1 | 4 });
  assert(prog.verifierLog?.includes("processed"), prog.verifierLog);
  assertThrows(() => Program.load(retSpec(1), { logSize: MAX_LOG_SIZE + 1 }), RangeError);
});

kernelTest("Program.info agrees with bpftool", () => {
  using prog = Program.load(retSpec(3, "info_prog"));
  const info = prog.info();
  const shown = JSON.parse(run("bpftool", ["prog", "show", "id", String(info.id), "-j"]));
  assertEquals(info.tag, shown.tag);
  assertEquals(info.name, "info_prog");
  assertEquals(info.type, ProgramType.SocketFilter);
  assertEquals(info.xlatedSize, shown.bytes_xlated);
  assertEquals(info.jitedSize, shown.bytes_jited);
  assertEquals(info.xlated.length, info.xlatedSize);
  const insns = asm.Instructions.unmarshal(info.xlated, "little");
  assertEquals(insns.length, 2);
  assertEquals(insns.at(0)!.imm, 3);
  assert(info.gplCompatible);
});

kernelTest("enableStats counts runs", () => {
  using prog = Program.load(retSpec(0));
  {
    using _stats = enableStats();
    prog.run({ data: new Uint8Array(64), repeat: 5 });
  }
  const info = prog.info();
  assert(info.runCount >= 5n, `runCount ${info.runCount}`);
  assert(info.runTimeNs > 0n);
});

kernelTest("pin, loadPinned, fromId, bindMap", () => {
  const dir = `${ensureBpffs()}/ebpf_prog_test_${Deno.pid}`;
  Deno.mkdirSync(dir, { recursive: true });
  try {
    using prog = Program.load(retSpec(5, "pinned"));
    prog.pin(`${dir}/p`);
    using again = Program.loadPinned(`${dir}/p`);
    assertEquals(again.info().id, prog.info().id);
    assertEquals(again.name, "pinned");
    Program.unpin(`${dir}/p`);
    using byId = Program.fromId(prog.info().id);
    assertEquals(byId.run({ data: new Uint8Array(64) }).retval, 5);
    using map = BpfMap.create(
      new MapSpec({ type: MapType.Array, keySize: 4, valueSize: 4, maxEntries: 1 }),
    );
    prog.bindMap(map);
    assert(prog.info().mapIds.includes(map.info().id));
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

kernelTest("failed loads leave no fd open", async () => {
  await assertNoFdLeak(() => {
    for (let i = 0; i < 5; i++) assertThrows(() => Program.load(badSpec()), VerifierError);
    Program.load(retSpec(1)).close();
  });
});

kernelTest("func_info and line_info reach the kernel from the object's BTF", () => {
  // A program section with no relocations, read by hand: its instructions, the BTF.ext
  // function and line records as instruction metadata.
  const bytes = Deno.readFileSync(testdata("socket_filter-el.o"));
  const file = new ElfFile(bytes);
  const text = file.sections.find((s) => s.name === "socket")!;
  const insns = asm.Instructions.unmarshal(
    bytes.subarray(text.offset, text.offset + text.size),
    "little",
  );
  const { spec: btf, extInfos } = parseSpecAndExtInfos(bytes);
  const offsets = insns.offsets();
  for (const fi of extInfos!.funcInfos.get("socket")!) {
    const ins = insns.list[Array.from(offsets).indexOf(fi.insnOffset / 8)];
    asm.setMeta(ins, FUNC_INFO, fi.func);
  }
  for (const li of extInfos!.lineInfos.get("socket")!) {
    const ins = insns.list[Array.from(offsets).indexOf(li.insnOffset / 8)];
    ins.line = {
      text: li.line,
      fileName: li.fileName,
      lineNumber: li.lineNumber,
      column: li.column,
    };
  }
  const spec = new ProgramSpec({
    name: "truncate_long",
    type: ProgramType.SocketFilter,
    license: "GPL",
    instructions: insns,
    btf,
  });
  using prog = Program.load(spec);
  const info = prog.info();
  assert(info.btfId > 0);
  // bpftool prints the source lines it finds through the program's line info and BTF.
  const dump = run("bpftool", ["prog", "dump", "xlated", "id", String(info.id)]);
  assert(dump.includes("int truncate_long(struct __sk_buff * skb):"), dump);
  assert(dump.includes("; return skb->len > 100 ? 100 : skb->len;"), dump);
  assertEquals(prog.run({ data: new Uint8Array(150) }).retval, 100);
});

/** The id bpftool gives the vmlinux type `name` of kind `kind` (an independent oracle). */
function vmlinuxId(kind: string, name: string): number {
  const dump = run("bpftool", ["btf", "dump", "file", "/sys/kernel/btf/vmlinux"]);
  const m = new RegExp(`^\\[(\\d+)\\] ${kind} '${name}'`, "m").exec(dump);
  if (!m) throw new Error(`bpftool shows no ${kind} '${name}'`);
  return Number(m[1]);
}

kernelTest("tp_btf and iter programs attach to the BTF ids libbpf would pick", () => {
  const tp = new ProgramSpec({
    name: "tp_btf_prog",
    type: ProgramType.Tracing,
    attachType: AttachType.TraceRawTP,
    attachTo: "sys_enter",
    license: "GPL",
    instructions: new asm.Instructions([Mov.Imm(R0, 0), Return()]),
  });
  using a = Program.load(tp);
  assertEquals(a.info().attachBtfId, vmlinuxId("TYPEDEF", "btf_trace_sys_enter"));
  const iter = new ProgramSpec({
    name: "iter_prog",
    type: ProgramType.Tracing,
    attachType: AttachType.TraceIter,
    attachTo: "task",
    license: "GPL",
    instructions: new asm.Instructions([Mov.Imm(R0, 0), Return()]),
  });
  using b = Program.load(iter);
  assertEquals(b.info().attachBtfId, vmlinuxId("FUNC", "bpf_iter_task"));
  tp.attachTo = "no_such_tracepoint";
  assertThrows(() => Program.load(tp), TypeError, "no_such_tracepoint");
  tp.attachTo = "";
  assertThrows(() => Program.load(tp), TypeError, "attach target");
});

kernelTest("a poisoned CO-RE relocation is named in the VerifierError", () => {
  // r0 = offsetof(struct task_struct___future, no_such_field): the kernel's task_struct has
  // no such field, so the CO-RE pass poisons the instruction and the verifier rejects it.
  const int = new Int("int", 4, IntEncoding.Signed);
  const local = new Struct("task_struct___future", 8, [
    new Member("pid", int, 0),
    new Member("no_such_field", int, 32),
  ]);
  const ins = Mov.Imm(R0, 4);
  asm.setMeta(ins, CORE_RELO, {
    insnOffset: 0,
    typeId: 2,
    type: local,
    accessor: "0:1",
    kind: CoreReloKind.FieldByteOffset,
  });
  const spec = new ProgramSpec({
    name: "poisoned",
    type: ProgramType.SocketFilter,
    license: "GPL",
    instructions: new asm.Instructions([ins, Return()]),
  });
  const e = assertThrows(() => Program.load(spec), VerifierError) as VerifierError;
  assert(e.message.includes("CO-RE relocation #0"), e.message);
  assert(e.message.includes("no_such_field"), e.message);
});

kernelTest("a kernel that refuses object names gets the program unnamed, probed only then", () => {
  // As Linux before 4.15 would: an attr with bytes past what it knows is E2BIG.
  let loads = 0;
  const restore = setBackend({
    bpf(cmd: number, attr: Attr) {
      if (cmd === BpfCmd.PROG_LOAD) {
        loads++;
        if (attr.bytes.subarray(48, 64).some((b) => b !== 0)) return -7; // E2BIG
      }
      return kernelBackend.bpf(cmd, attr);
    },
    address: kernelBackend.address,
  });
  try {
    using prog = Program.load(retSpec(3, "named"));
    assertEquals(prog.name, "");
    assertEquals(prog.info().name, "");
    assertEquals(prog.run({ data: new Uint8Array(64) }).retval, 3);
    // Named without and with a log (as every failed load), the name probe, the unnamed load.
    assertEquals(loads, 4);
  } finally {
    restore();
  }
  using named = Program.load(retSpec(4, "named"));
  assertEquals([named.name, named.info().name], ["named", "named"]);
});

kernelTest("consecutive loads, and a load inside a load, each get their own instructions", () => {
  // Program.load encodes into one reused buffer. A program whose slots are all non-zero,
  // then one with a 64-bit load (its second slot must be zero again), then one loaded while
  // another is being encoded: from the fd() of the map the outer one loads.
  const spec = (name: string, list: asm.Instruction[]) =>
    new ProgramSpec({
      name,
      type: ProgramType.SocketFilter,
      license: "GPL",
      instructions: new asm.Instructions(list),
    });
  const data = new Uint8Array(64);
  const filler = Array.from({ length: 20 }, () => Mov.Imm(R0, -1));
  using dirty = Program.load(spec("dirty", [...filler, Return()]));
  using wide = Program.load(spec("wide", [asm.LoadImm(R0, 0x1_0000_0007n), Return()]));
  assertEquals(dirty.run({ data }).retval, 0xffffffff);
  assertEquals(wide.run({ data }).retval, 7);

  using map = BpfMap.create(
    new MapSpec({ type: MapType.Array, keySize: 4, valueSize: 4, maxEntries: 1 }),
  );
  let inner: Program | undefined;
  const load = asm.LoadMapPtr(R1, "m");
  load.map = {
    fd: () => {
      inner ??= Program.load(retSpec(9, "inner"));
      return map.fd;
    },
  };
  using outer = Program.load(spec("outer", [load, Mov.Imm(R0, 4), Return()]));
  using innerProg = inner!;
  assertEquals(outer.run({ data }).retval, 4);
  assertEquals(innerProg.run({ data }).retval, 9);
  assertEquals(asm.Instructions.unmarshal(outer.info().xlated, "little").length, 3);
});
