// Programs of a parsed object build their instructions (and parse `.BTF.ext`) on first read.
// These tests hold the reader to what makes that invisible: the spec reads, spreads and
// copies like an eager one, and whatever parses builds its instructions without an error.
import { assert, assertEquals, assertStrictEquals, assertThrows } from "@std/assert";
import { asm } from "../../mod.ts";
import {
  type ExtIndex,
  type ExtInfos,
  indexExtInfos,
  parseExtInfos,
  parseSpec,
} from "../../btf/mod.ts";
import { parseCollectionSpec } from "../../elf/mod.ts";
import { ElfFile } from "../../elf/elf_file.ts";
import { FormatError } from "../../errors.ts";
import { ProgramSpec, ProgramType } from "../../prog/mod.ts";
import { testdata } from "../_harness.ts";
import { parseExtInfosReference } from "../btf/ext_reference.ts";

const WITH_EXT = [
  "core_relos-el.o",
  "core_relos-eb.o",
  "elf_subprogs-eb.o",
  "elf_globals-el.o",
  "elf_externs-el.o",
];

/** xorshift32: the same inputs on every run. */
function rng(seed: number) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

const INTERESTING = [0, 1, 2, 3, 4, 8, 12, 16, 0x7f, 0x80, 0xff, 0xffff, 0x7fffffff, 0xffffffff];

/** A copy of `src` with a few bytes of `[from, to)` changed. */
function mutateRange(src: Uint8Array, from: number, to: number, next: () => number) {
  const out = src.slice();
  const view = new DataView(out.buffer);
  for (let n = 1 + (next() % 3); n > 0; n--) {
    const at = from + (next() % (to - from));
    if (next() % 2 === 0) out[at] ^= 1 << (next() % 8);
    else if (at + 4 <= to) {
      view.setUint32(at, INTERESTING[next() % INTERESTING.length], next() % 2 === 0);
    }
  }
  return out;
}

Deno.test("elf: a lazy program spec lists, spreads, compares and copies like an eager one", () => {
  const spec = parseCollectionSpec(Deno.readFileSync(testdata("core_relos-el.o")));
  const p = Object.values(spec.programs)[0];
  const eager = new ProgramSpec({
    type: ProgramType.SocketFilter,
    instructions: new asm.Instructions(),
  });
  assertEquals(Object.keys(p), Object.keys(eager));
  const spread = { ...p };
  assert(spread.instructions instanceof asm.Instructions);
  assertStrictEquals(spread.instructions, p.instructions);
  assert(Object.getOwnPropertyDescriptor(p, "instructions")!.enumerable);
  // Each program builds its own objects: changing one leaves the others and copies alone.
  const again = parseCollectionSpec(Deno.readFileSync(testdata("core_relos-el.o")));
  const q = again.programs[p.name];
  const copy = q.copy();
  q.instructions.list[0].imm = 4321;
  assertEquals(copy.instructions.list.length, p.instructions.list.length);
  assert(copy.instructions.list[0].imm !== 4321);
  assertEquals(
    copy.instructions.list.map((i) => i.line?.text),
    p.instructions.list.map((i) => i.line?.text),
  );
  // Assigning before reading replaces the lazy value and never builds it.
  const third = parseCollectionSpec(Deno.readFileSync(testdata("core_relos-el.o")));
  const mine = new asm.Instructions([asm.Return()]);
  third.programs[p.name].instructions = mine;
  assertStrictEquals(third.programs[p.name].instructions, mine);
});

Deno.test("btf: indexExtInfos refuses exactly what the eager parser refused, with its error, and decodes the same records", () => {
  const next = rng(0xe7e7);
  let passed = 0;
  let refused = 0;
  for (const name of WITH_EXT) {
    const bytes = Deno.readFileSync(testdata(name));
    const elf = new ElfFile(bytes);
    const btf = parseSpec(elf.data(elf.section(".BTF")!).slice());
    const ext = elf.data(elf.section(".BTF.ext")!).slice();
    for (let i = 0; i < 4000; i++) {
      const m = i === 0 ? ext : mutateRange(ext, 0, ext.length, next);
      let eager: ExtInfos | undefined;
      let eagerError: Error | undefined;
      try {
        eager = parseExtInfosReference(m, btf);
      } catch (e) {
        eagerError = e as Error;
      }
      let index: ExtIndex;
      try {
        index = indexExtInfos(m, btf);
      } catch (e) {
        assert(e instanceof FormatError, `${name}: ${e}`);
        assert(eagerError instanceof FormatError, `${name}: only the index refuses: ${e}`);
        assertEquals((e as Error).message, eagerError!.message);
        refused++;
        continue;
      }
      if (eager === undefined) {
        throw new Error(`${name}: only parseExtInfos refuses: ${eagerError}`);
      }
      // Decoding later cannot fail, and gives what the eager parse gives, section by section.
      const names = index.sectionNames();
      assertEquals(
        names.length,
        new Set([...eager.funcInfos.keys(), ...eager.lineInfos.keys(), ...eager.coreRelos.keys()])
          .size,
      );
      for (const s of names) {
        assertEquals(index.funcInfos(s), eager.funcInfos.get(s) ?? []);
        assertEquals(index.lineInfos(s), eager.lineInfos.get(s) ?? []);
        assertEquals(index.coreRelos(s), eager.coreRelos.get(s) ?? []);
      }
      assertEquals(index.recordSizes, eager.recordSizes);
      assertEquals(parseExtInfos(m, btf), eager);
      passed++;
    }
  }
  assert(passed > 1000 && refused > 1000, `passed ${passed}, refused ${refused}`);
});

Deno.test("elf: whatever parses builds every program's instructions", () => {
  const next = rng(0x1a2b);
  let built = 0;
  for (const name of WITH_EXT) {
    const bytes = Deno.readFileSync(testdata(name));
    const elf = new ElfFile(bytes);
    // Mutate where instruction building looks: code, BTF, .BTF.ext and their relocations.
    const ranges = elf.sections
      .filter((s) =>
        s.name === ".BTF" || s.name === ".BTF.ext" ||
        (s.type === 1 && (Number(s.flags) & 4) !== 0) || s.type === 9
      )
      .filter((s) => s.size > 4 && !s.name.startsWith(".rel.debug"));
    for (let i = 0; i < 3000; i++) {
      const r = ranges[next() % ranges.length];
      const input = mutateRange(bytes, r.offset, r.offset + r.size, next);
      let spec;
      try {
        spec = parseCollectionSpec(input);
      } catch (e) {
        if (e instanceof FormatError) continue;
        throw e;
      }
      for (const p of Object.values(spec.programs)) assert(p.instructions.list.length > 0);
      built++;
    }
  }
  assert(built > 1000, `only ${built} built`);
});

Deno.test("elf: bad code and stray .BTF.ext records are refused at parse, not when first read", () => {
  for (const name of ["core_kernel-el.o", "core_relos-eb.o"]) {
    const bytes = Deno.readFileSync(testdata(name));
    const elf = new ElfFile(bytes);
    const code = elf.sections.find((s) => s.type === 1 && (s.flagBits & 4) !== 0 && s.size >= 16)!;
    // An unknown opcode in the middle of a program: nothing but the parse reads it.
    const badOpcode = bytes.slice();
    badOpcode[code.offset + code.size - 8] = 0xff;
    assertThrows(() => parseCollectionSpec(badOpcode), FormatError, "Unknown opcode");
    // A line_info record moved off its instruction (into an imm64's second half, or past
    // the end): annotating would find no instruction there, so the parse refuses it.
    const ext = elf.section(".BTF.ext")!;
    const little = elf.byteOrder === "little";
    const view = new DataView(bytes.buffer, bytes.byteOffset + ext.offset, ext.size);
    const hdr = view.getUint32(4, little);
    const lineStart = hdr + view.getUint32(16, little);
    const firstRecord = lineStart + 4 + 8;
    const moved = bytes.slice();
    new DataView(moved.buffer, ext.offset).setUint32(firstRecord, 4, little);
    assertThrows(() => parseCollectionSpec(moved), FormatError, "line_info record at byte 4");
  }
});

Deno.test("asm: Instructions.validate refuses exactly what unmarshal refuses, in both byte orders", () => {
  const next = rng(0x5eed);
  let refused = 0;
  for (const name of ["core_kernel-el.o", "core_kernel-eb.o", "asm_v4-el.o", "asm_v4-eb.o"]) {
    const elf = new ElfFile(Deno.readFileSync(testdata(name)));
    const order = elf.byteOrder;
    for (const s of elf.sections.filter((s) => s.type === 1 && (s.flagBits & 4) !== 0)) {
      const code = elf.data(s).slice();
      if (code.length < 8) continue;
      for (let i = 0; i < 500; i++) {
        const m = i === 0 ? code : mutateRange(code, 0, code.length, next);
        let message: string | undefined;
        let count = -1;
        try {
          count = asm.Instructions.unmarshal(m, order).list.length;
        } catch (e) {
          assert(e instanceof FormatError);
          message = (e as Error).message;
        }
        if (message === undefined) {
          assertEquals(asm.Instructions.validate(m, order), count);
          // A zero opcode marks exactly the second halves of imm64 loads.
          const starts = [...Array(m.length / 8).keys()].filter((k) => m[k * 8] !== 0).length;
          assertEquals(starts, count);
        } else {
          assertThrows(() => asm.Instructions.validate(m, order), FormatError, message);
          refused++;
        }
      }
    }
  }
  assert(refused > 100, `only ${refused} refused`);
});
