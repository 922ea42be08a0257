// Program info in full, field by field against what nobody here wrote: `bpftool -j prog show`,
// `bpftool -j prog dump xlated opcodes linum` (instructions, source lines, function names,
// map ids), /proc/kallsyms (JIT symbols) and the kernel's fdinfo text.
import { assert, assertEquals, assertThrows } from "@std/assert";
import { loadCollectionSpec } from "../../elf/mod.ts";
import {
  enableStats,
  newCollection,
  type ProgramInfo,
  programTypeName,
  xlatedInstructions,
  xlatedMapReference,
} from "../../prog/mod.ts";
import { FormatError } from "../../errors.ts";
import { LoadImm64Op } from "../../asm/mod.ts";
import { fdinfoFields, kernelTest, run, testdata } from "../_harness.ts";

const OBJECT = testdata("introspect_prog-el.o");
const SOURCE = new URL("../../testdata/introspect_prog.c", import.meta.url).pathname;

interface BpftoolProg {
  id: number;
  type: string;
  name: string;
  tag: string;
  gpl_compatible: boolean;
  loaded_at: number;
  uid: number;
  bytes_xlated: number;
  jited: boolean;
  bytes_jited: number;
  bytes_memlock: number;
  map_ids: number[];
  btf_id: number;
  run_time_ns?: number;
  run_cnt?: number;
}

interface BpftoolInsn {
  proto?: string;
  src?: string;
  file?: string;
  line_num?: number;
  line_col?: number;
  disasm: string;
  opcodes: { code: string; src_reg: string; dst_reg: string; off: string[]; imm: string[] };
}

function bpftoolJson<T>(...args: string[]): T {
  return JSON.parse(run("bpftool", ["-j", ...args])) as T;
}

/** Little-endian bytes as bpftool prints them ("0x1f") back to a number. */
function le(bytes: string[]): number {
  return bytes.reduceRight((acc, b) => acc * 256 + parseInt(b, 16), 0);
}

function signed16(n: number): number {
  return n >= 0x8000 ? n - 0x10000 : n;
}

function bpftoolTypeName(info: ProgramInfo): string {
  return programTypeName(info.type).replace("BPF_PROG_TYPE_", "").toLowerCase();
}

kernelTest("program info: fields agree with bpftool prog show", async () => {
  const spec = await loadCollectionSpec(OBJECT);
  using coll = newCollection(spec);
  const prog = coll.programs.count_lengths;
  {
    // Counted runs, so that run_cnt and run_time_ns show in bpftool's output too.
    using _stats = enableStats();
    prog.run({ data: new Uint8Array(64), repeat: 3 });
  }
  const info = prog.info();
  const shown = bpftoolJson<BpftoolProg>("prog", "show", "id", String(info.id));
  assertEquals(info.id, shown.id);
  assertEquals(bpftoolTypeName(info), shown.type);
  assertEquals(info.name, shown.name);
  assertEquals(info.tag, shown.tag);
  assertEquals(info.gplCompatible, shown.gpl_compatible);
  assertEquals(info.createdByUid, shown.uid);
  assertEquals(info.xlatedSize, shown.bytes_xlated);
  assertEquals(info.xlated.length, shown.bytes_xlated);
  assertEquals(info.jitedSize > 0, shown.jited);
  assertEquals(info.jitedSize, shown.bytes_jited);
  assertEquals(info.jited.length, shown.bytes_jited);
  assertEquals(info.memlock, shown.bytes_memlock);
  assertEquals(info.mapIds, shown.map_ids);
  assertEquals(info.btfId, shown.btf_id);
  assertEquals(info.runCount, BigInt(shown.run_cnt ?? -1));
  assertEquals(info.runTimeNs, BigInt(shown.run_time_ns ?? -1));
  // bpftool turns boot time into wall-clock seconds: ours, turned the same way (with
  // /proc/uptime as the boot clock), lands within a second or two of it.
  const uptime = Number(Deno.readTextFileSync("/proc/uptime").split(" ")[0]);
  const loadedAt = Date.now() / 1000 - uptime + Number(info.loadTime) / 1e9;
  assert(Math.abs(loadedAt - shown.loaded_at) < 2, `${loadedAt} vs ${shown.loaded_at}`);
  // Fields bpftool 7.1 does not print, against the kernel's fdinfo text.
  const fields = fdinfoFields(prog.fd);
  assertEquals(info.verifiedInstructions, Number(fields.verified_insns));
  assertEquals(info.tag, fields.prog_tag);
  assertEquals(info.memlock, Number(fields.memlock));
  assertEquals(info.ifindex, 0);
  // Map ids name this collection's maps.
  const mapIds = Object.values(coll.maps).map((m) => m.info().id).sort((a, b) => a - b);
  assertEquals([...info.mapIds].sort((a, b) => a - b), mapIds);
});

kernelTest(
  "program info: xlated instructions, source lines and map ids agree with bpftool",
  async () => {
    const spec = await loadCollectionSpec(OBJECT);
    using coll = newCollection(spec);
    const info = coll.programs.count_lengths.info();
    // bpftool takes one of `opcodes` and `linum` per dump: two dumps, joined by index.
    const dump = (what: string) =>
      bpftoolJson<BpftoolInsn[]>("prog", "dump", "xlated", "id", String(info.id), what);
    const withOpcodes = dump("opcodes");
    const dumped = dump("linum").map((insn, i) => ({ ...insn, opcodes: withOpcodes[i].opcodes }));
    assertEquals(withOpcodes.length, dumped.length);
    const insns = [...xlatedInstructions(info)];
    assertEquals(insns.length, dumped.length);
    let lines = 0;
    let maps = 0;
    const source = Deno.readTextFileSync(SOURCE).split("\n");
    for (const [i, ins] of insns.entries()) {
      const want = dumped[i];
      const where = `instruction ${i}: ${want.disasm}`;
      const op = want.opcodes;
      assertEquals(ins.opcode, parseInt(op.code, 16), where);
      assertEquals(ins.src, parseInt(op.src_reg, 16), where);
      assertEquals(ins.dst, parseInt(op.dst_reg, 16), where);
      assertEquals(ins.offset, signed16(le(op.off)), where);
      assertEquals(ins.imm >>> 0, le(op.imm.slice(0, 4)), where);
      if (ins.opcode === LoadImm64Op) assertEquals(ins.immHi >>> 0, le(op.imm.slice(8, 12)), where);
      // Function names: bpftool prints the BTF prototype at each function's start.
      const proto = want.proto && /(\w+)\(/.exec(want.proto)?.[1];
      assertEquals(ins.symbol, proto, where);
      // Source lines, as `linum` shows them.
      if (want.src !== undefined) {
        lines++;
        // bpftool strips the indentation the BTF string keeps.
        assertEquals(ins.line?.text.trimStart(), want.src, where);
        assertEquals(ins.line?.fileName, want.file, where);
        assertEquals(ins.line?.lineNumber, want.line_num, where);
        assertEquals(ins.line?.column, want.line_col ?? 0, where);
        // And the line is the source file's own line, as clang recorded it.
        assertEquals(source[want.line_num! - 1].trim(), want.src, where);
      } else {
        assertEquals(ins.line, undefined, where);
      }
      // Map references: bpftool prints map[id:N] for a map and map[id:N][0]+off for a value.
      const m = /map\[id:(\d+)\](?:\[0\]\+(\d+))?/.exec(want.disasm);
      const ref = xlatedMapReference(ins);
      if (m) {
        maps++;
        assertEquals(ref?.mapId, Number(m[1]), where);
        assertEquals(ref?.valueOffset, m[2] === undefined ? undefined : Number(m[2]), where);
        assertEquals(ins.reference, `id:${m[1]}`, where);
      } else {
        assertEquals(ref, undefined, where);
      }
    }
    assert(lines >= 8, `${lines} source lines`);
    assertEquals(maps, 3, "the hash map, .bss and .rodata");
    assertEquals(info.funcInfo.length, 2);
    assertEquals(info.lineInfo.length, lines);
    // The text format shows the source line above its instructions.
    const text = xlatedInstructions(info).toString();
    assert(text.includes("\t; packets++;\n"), text);
    assert(text.includes("map_value[id:"), text);
  },
);

kernelTest("program info: JIT symbols and lengths agree with /proc/kallsyms", async () => {
  const spec = await loadCollectionSpec(OBJECT);
  using coll = newCollection(spec);
  const info = coll.programs.count_lengths.info();
  const names = [...xlatedInstructions(info)].flatMap((i) => i.symbol ? [i.symbol] : []);
  assertEquals(names, ["count_lengths", "clamp"]);
  assertEquals(info.functionTags.length, 2);
  assertEquals(info.jitedKsyms.length, 2);
  assertEquals(info.jitedFuncLengths.length, 2);
  assertEquals(info.jitedFuncLengths.reduce((a, b) => a + b, 0), info.jitedSize);
  const kallsyms = Deno.readTextFileSync("/proc/kallsyms");
  for (const [i, name] of names.entries()) {
    // The main function is listed under the program's tag, subprograms under their own.
    const symbol = `bpf_prog_${i === 0 ? info.tag : info.functionTags[i]}_${name}`;
    const m = new RegExp(`^([0-9a-f]+) t ${symbol}\\b`, "m").exec(kallsyms);
    if (!m) throw new Error(`${symbol} not in /proc/kallsyms`);
    assertEquals(info.jitedKsyms[i], BigInt(`0x${m[1]}`), symbol);
  }
  // Each line's JIT address lies in the function that holds its instruction.
  assertEquals(info.jitedLineInfo.length, info.lineInfo.length);
  const starts = info.funcInfo.map((f) => f.insnOffset);
  for (const [i, line] of info.lineInfo.entries()) {
    const fn = starts.findLastIndex((s) => s <= line.insnOffset);
    const from = info.jitedKsyms[fn];
    const to = from + BigInt(info.jitedFuncLengths[fn]);
    const at = info.jitedLineInfo[i];
    assert(at >= from && at < to, `line ${i} at ${at.toString(16)}`);
  }
});

kernelTest("program info: corrupt func or line info is a FormatError", async () => {
  const spec = await loadCollectionSpec(OBJECT);
  using coll = newCollection(spec);
  const info = coll.programs.count_lengths.info();
  const badOffset = { ...info, funcInfo: [{ insnOffset: 6, typeId: info.funcInfo[0].typeId }] };
  assertThrows(() => xlatedInstructions(badOffset), FormatError, "does not start one");
  const badType = { ...info, funcInfo: [{ insnOffset: 0, typeId: 0x7fffffff }] };
  assertThrows(() => xlatedInstructions(badType), FormatError, "not a FUNC");
  const badString = { ...info, lineInfo: [{ ...info.lineInfo[0], lineOffset: 0x7fffffff }] };
  assertThrows(() => xlatedInstructions(badString), FormatError, "out of range");
});
