// parseCollectionSpec on every testdata object: programs, linked subprograms, relocations,
// maps and variables against llvm-readobj's view of the same file and against what the C
// sources declare; both byte orders give the same spec.
import { assert, assertEquals, assertThrows } from "@std/assert";
import {
  CallKind,
  constant,
  getMeta,
  type Instruction,
  isFunctionCall,
  isLoadOfFunctionPointer,
  LoadImm64Op,
  Pseudo,
} from "../../asm/mod.ts";
import { type CoreRelo, Datasec, Func, parseSpec, type Struct, Var } from "../../btf/mod.ts";
import { ElfFile } from "../../elf/elf_file.ts";
import { loadCollectionSpec, parseCollectionSpec, sectionConvention } from "../../elf/mod.ts";
import { FormatError } from "../../errors.ts";
import { MapType } from "../../map/map_type.ts";
import { PinType } from "../../map/map_spec.ts";
import type { CollectionSpec } from "../../prog/collection_spec.ts";
import { CORE_RELO, EXTERN, type ExternRef, FUNC_INFO } from "../../prog/program_spec.ts";
import { run, testdata } from "../_harness.ts";
import { type Readobj, readobj } from "./_readobj.ts";

const objects = [...Deno.readDirSync(testdata(""))]
  .map((e) => e.name)
  .filter((n) => n.endsWith("-el.o"))
  .sort();

const SHF_EXECINSTR = 4;
const STT_FUNC = 2;
const STT_SECTION = 3;
const STB_LOCAL = 0;

function parse(name: string): CollectionSpec {
  return parseCollectionSpec(Deno.readFileSync(testdata(name)));
}

/** The functions of a program: each symbol-carrying instruction starts one. */
function segments(insns: Instruction[]): { name: string; start: number; slots: number }[] {
  const out: { name: string; start: number; slots: number }[] = [];
  let slot = 0;
  for (const ins of insns) {
    if (ins.symbol !== undefined) out.push({ name: ins.symbol, start: slot, slots: 0 });
    const n = ins.opcode === LoadImm64Op ? 2 : 1;
    out[out.length - 1].slots += n;
    slot += n;
  }
  return out;
}

/** The instruction at raw slot `slot`. */
function atSlot(insns: Instruction[], slot: number): Instruction | undefined {
  let s = 0;
  for (const ins of insns) {
    if (s === slot) return ins;
    s += ins.opcode === LoadImm64Op ? 2 : 1;
  }
  return undefined;
}

/**
 * The oracle's call graph: for each function, the functions its relocations (or, within a
 * section, its unrelocated calls) reach, computed from readobj and the raw instruction bytes.
 */
function expectedClosure(o: Readobj, bytes: Uint8Array, little: boolean, entry: string) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const funcs = o.symbols.filter((s) => s.type === STT_FUNC);
  const at = (section: number, off: number) =>
    funcs.find((f) => f.section === section && f.value === off);
  const containing = (section: number, off: number) =>
    funcs.find((f) => f.section === section && f.value <= off && off < f.value + f.size);
  const callees = new Map<string, string[]>();
  for (const f of funcs) callees.set(f.name, []);
  const relocated = new Set<string>();
  for (const r of o.relocations) {
    const sec = o.sections[r.section];
    if (!(sec.flags & SHF_EXECINSTR)) continue;
    relocated.add(`${r.section}:${r.offset}`);
    const from = containing(r.section, r.offset);
    const sym = o.symbols[r.symbol];
    if (!from || (sym.type !== STT_FUNC && sym.type !== STT_SECTION)) continue;
    const target = o.sections[sym.section];
    if (!target || !(target.flags & SHF_EXECINSTR)) continue;
    const insAt = sec.offset + r.offset;
    const imm = view.getInt32(insAt + 4, little);
    const isCall = bytes[insAt] === 0x85;
    const off = sym.value + (isCall ? (imm + 1) * 8 : imm);
    callees.get(from.name)!.push(at(sym.section, off)!.name);
  }
  // Calls within a section need no relocation.
  for (const f of funcs) {
    const sec = o.sections[f.section];
    for (let off = f.value; off < f.value + f.size; off += 8) {
      const insAt = sec.offset + off;
      const srcReg = little ? bytes[insAt + 1] >> 4 : bytes[insAt + 1] & 0xf;
      if (bytes[insAt] !== 0x85 || srcReg !== 1 || relocated.has(`${f.section}:${off}`)) continue;
      const imm = view.getInt32(insAt + 4, little);
      callees.get(f.name)!.push(at(f.section, off + (imm + 1) * 8)!.name);
    }
  }
  const seen = new Set<string>([entry]);
  const todo = [entry];
  while (todo.length) {
    for (const c of callees.get(todo.pop()!)!) if (!seen.has(c)) seen.add(c), todo.push(c);
  }
  return seen;
}

const STRUCT_OPS_SECTIONS = [".struct_ops", ".struct_ops.link"];

/**
 * `program -> "<struct>:<member>"` for the functions struct_ops variables point at: the
 * relocations and variables from readobj, the member at each offset from the object's BTF.
 */
function structOpsTargets(o: Readobj, spec: CollectionSpec): Map<string, string> {
  const out = new Map<string, string>();
  for (const r of o.relocations) {
    const sec = o.sections[r.section];
    if (!STRUCT_OPS_SECTIONS.includes(sec.name)) continue;
    const variable = o.symbols.find((v) =>
      v.type === 1 && v.section === r.section && v.value <= r.offset &&
      r.offset < v.value + v.size
    )!;
    const type = spec.maps[variable.name].value as Struct;
    const member = type.members.find((m) => m.offset / 8 === r.offset - variable.value)!;
    out.set(o.symbols[r.symbol].name, `${type.name}:${member.name}`);
  }
  return out;
}

for (const el of objects) {
  const eb = el.replace(/-el\.o$/, "-eb.o");

  Deno.test(`elf: ${el} programs, subprograms and relocations match llvm-readobj`, () => {
    const o = readobj(testdata(el));
    const bytes = Deno.readFileSync(testdata(el));
    const spec = parseCollectionSpec(bytes);
    const exec = (i: number) => (o.sections[i]?.flags ?? 0) & SHF_EXECINSTR;
    const entries = o.symbols.filter((s) =>
      s.type === STT_FUNC && exec(s.section) && o.sections[s.section].name !== ".text" &&
      s.binding !== STB_LOCAL
    );
    assertEquals(Object.keys(spec.programs).sort(), entries.map((s) => s.name).sort());
    const size = new Map(o.symbols.filter((s) => s.type === STT_FUNC).map((s) => [s.name, s]));
    const plugged = structOpsTargets(o, spec);
    for (const sym of entries) {
      const p = spec.programs[sym.name];
      const sec = o.sections[sym.section].name;
      const c = sectionConvention(sec);
      // A program a struct_ops variable plugs in attaches to that struct's member.
      const attachTo = plugged.get(sym.name) ?? c.attachTo;
      assertEquals(
        [p.name, p.sectionName, p.type, p.attachType, p.attachTo, p.flags, p.byteOrder],
        [sym.name, sec, c.programType, c.attachType, attachTo, c.programFlags, "little"],
      );
      assertEquals(p.btf, spec.types);
      const segs = segments(p.instructions.list);
      assertEquals(segs[0].name, sym.name);
      // Every function appears once, with the size the symbol table gives it.
      for (const s of segs) assertEquals(s.slots * 8, size.get(s.name)!.size, s.name);
      assertEquals(
        new Set(segs.map((s) => s.name)),
        expectedClosure(o, bytes, true, sym.name),
        `functions linked into ${sym.name}`,
      );
      assertEquals(p.instructions.slots, segs.reduce((n, s) => n + s.slots, 0));
      // Each relocation named by readobj shows up as a reference at its instruction.
      for (const r of o.relocations) {
        const sec = o.sections[r.section];
        if (!exec(r.section)) continue;
        const fn = o.symbols.find((f) =>
          f.type === STT_FUNC && f.section === r.section && f.value <= r.offset &&
          r.offset < f.value + f.size
        )!;
        const seg = segs.find((s) => s.name === fn.name);
        if (!seg) continue;
        const ins = atSlot(p.instructions.list, seg.start + (r.offset - fn.value) / 8)!;
        const target = o.symbols[r.symbol];
        const tsec = o.sections[target.section];
        if (target.section === 0) {
          assertEquals(ins.reference, target.name);
          assertEquals((getMeta(ins, EXTERN) as ExternRef).name, target.name);
        } else if (tsec.flags & SHF_EXECINSTR) {
          assert(isFunctionCall(ins) || isLoadOfFunctionPointer(ins));
          assert(segs.some((s) => s.name === ins.reference), `${ins.reference} linked`);
        } else if (tsec.name === ".maps" || tsec.name === "maps") {
          assertEquals([ins.src, ins.reference], [Pseudo.MapFD, target.name]);
          assert(ins.reference! in spec.maps);
        } else {
          const addend = new DataView(bytes.buffer).getInt32(sec.offset + r.offset + 4, true);
          assertEquals(
            [ins.src, ins.reference, ins.immHi],
            [Pseudo.MapValue, tsec.name, target.value + addend],
          );
          assert(tsec.name in spec.maps);
        }
      }
    }
  });

  Deno.test(`elf: ${el} maps and variables match llvm-readobj`, () => {
    const o = readobj(testdata(el));
    const spec = parse(el);
    const dataSections = o.sections.filter((s) =>
      /^\.(data|rodata|bss)(\..*)?$/.test(s.name) && s.size > 0 && (s.flags & 2)
    );
    const mapSymbols = o.symbols.filter((s) =>
      ["maps", ".maps"].includes(o.sections[s.section]?.name) && s.type !== STT_SECTION
    );
    const kconfig = spec.maps[".kconfig"] ? [".kconfig"] : [];
    // Each struct_ops variable is a map of its own, named like it.
    const structOps = o.symbols.filter((s) =>
      STRUCT_OPS_SECTIONS.includes(o.sections[s.section]?.name) && s.type === 1
    );
    assertEquals(
      Object.keys(spec.maps).sort(),
      [
        ...mapSymbols.map((s) => s.name),
        ...dataSections.map((s) => s.name),
        ...kconfig,
        ...structOps.map((s) => s.name),
      ].sort(),
    );
    for (const s of structOps) {
      const m = spec.maps[s.name];
      const link = o.sections[s.section].name === ".struct_ops.link";
      assertEquals(
        [m.type, m.keySize, m.valueSize, m.maxEntries, m.flags],
        [MapType.StructOpsMap, 4, s.size, 1, link ? 1 << 13 : 0],
      );
    }
    for (const s of dataSections) {
      const m = spec.maps[s.name];
      assertEquals([m.type, m.keySize, m.valueSize, m.maxEntries], [MapType.Array, 4, s.size, 1]);
      const ro = s.name.startsWith(".rodata");
      assertEquals([m.freeze, m.flags], [ro, ro ? 0x80 : 0]);
      const value = m.contents[0].value as Uint8Array;
      if (s.type === 8) assert(value.every((b) => b === 0));
      else {assertEquals(
          value,
          Deno.readFileSync(testdata(el)).subarray(s.offset, s.offset + s.size),
        );}
      // Sections of named variables have a Datasec, fixed up to the section's real size.
      const named = o.symbols.some((y) => y.section === s.index && y.type === 1);
      if (spec.types && named) assert(m.value instanceof Datasec);
      if (m.value !== undefined) assertEquals((m.value as Datasec).size, s.size);
    }
    // Every object symbol of a data section is a variable at its offset and size.
    for (const sym of o.symbols) {
      const sec = o.sections[sym.section];
      if (sym.type !== 1 || !dataSections.includes(sec)) continue;
      const v = spec.variables[sym.name];
      assert(v, `variable ${sym.name}`);
      assertEquals([v.mapName, v.offset, v.size], [sec.name, sym.value, sym.size], sym.name);
      assert(v.map === spec.maps[sec.name]);
      if (spec.types) assertEquals((v.type as Var).name, sym.name);
    }
  });

  Deno.test(`elf: ${el} Datasecs are fixed up to their sections, in the types and raw words`, () => {
    const o = readobj(testdata(el));
    const spec = parse(el);
    if (!spec.types) return;
    const { words, offsets, firstId } = spec.types.raw;
    for (const t of spec.types) {
      if (!(t instanceof Datasec)) continue;
      const sec = o.sections.find((s) => s.name === t.name);
      const fixed = sec !== undefined && (t.name === ".maps" || t.name in spec.maps);
      if (!fixed) continue;
      assertEquals(t.size, sec.size, t.name);
      for (const vsi of t.vars) {
        const name = (vsi.type as Var).name;
        const sym = o.symbols.find((y) => y.section === sec.index && y.name === name);
        assertEquals(vsi.offset, sym?.value, `${t.name}: ${name}`);
      }
      // libbpf fixes the BTF words it loads; `raw` says what the objects say.
      const w = offsets[spec.types.typeId(t)! - firstId];
      assertEquals(words[w + 2], t.size, t.name);
      assertEquals(t.vars.map((_, i) => words[w + 4 + 3 * i]), t.vars.map((v) => v.offset));
    }
  });

  Deno.test(`elf: ${el} and ${eb} give the same spec apart from byte order`, () => {
    const a = parse(el);
    const b = parse(eb);
    assertEquals([a.byteOrder, b.byteOrder], ["little", "big"]);
    // Code that swaps bytes (bpf_htons, say) compiles differently per byte order: there the
    // functions, references and metadata must agree, elsewhere every instruction field.
    const sameCode = disassembly(el) === disassembly(eb);
    assertEquals(normalize(a, sameCode), normalize(b, sameCode));
  });
}

/** objdump's text of an object's code, without the file name line. */
function disassembly(name: string): string {
  return run("llvm-objdump-19", ["-d", "--no-show-raw-insn", testdata(name)])
    .split("\n").slice(2).join("\n");
}

/** A spec as plain data without byte-order-dependent bytes. */
function normalize(spec: CollectionSpec, fullCode = true) {
  const insn = (i: Instruction) =>
    fullCode ? insnFields(i) : {
      sym: i.symbol,
      ref: i.reference,
      meta: Object.keys(i.meta ?? {}).sort(),
    };
  const insnFields = (i: Instruction) => ({
    op: i.opcode,
    dst: i.dst,
    src: i.src,
    off: i.offset,
    imm: i.imm,
    hi: i.immHi,
    sym: i.symbol,
    ref: i.reference,
    line: i.line ? [i.line.text, i.line.lineNumber, i.line.column] : undefined,
    meta: Object.keys(i.meta ?? {}).sort(),
  });
  return {
    programs: Object.entries(spec.programs).map(([k, p]) => ({
      k,
      ...p,
      btf: undefined,
      byteOrder: undefined,
      // Where clang's code differs, so may the number of CO-RE records on it (a bitfield
      // read takes more instructions on a big-endian target): compare the distinct records.
      instructions: p.instructions.list.map(insn).filter((i) =>
        fullCode || i.sym !== undefined || i.ref !== undefined
      ),
      coreRelos: fullCode ? undefined : [
        ...new Set(
          p.instructions.list.flatMap((i) => {
            const r = getMeta(i, CORE_RELO) as CoreRelo | undefined;
            return r ? [`${r.kind} ${r.accessor} ${r.type}`] : [];
          }),
        ),
      ].sort(),
    })),
    maps: Object.entries(spec.maps).map(([k, m]) => ({
      k,
      ...m,
      key: m.key ? String(m.key) : undefined,
      value: m.value ? String(m.value) : undefined,
      innerMap: m.innerMap ? { ...m.innerMap, key: undefined, value: undefined } : undefined,
      contents: m.contents.map((c) => [
        c.key instanceof Uint8Array ? c.key.length : c.key,
        c.value instanceof Uint8Array ? c.value.length : c.value,
      ]),
    })),
    variables: Object.entries(spec.variables).map(([k, v]) => [k, v.mapName, v.offset, v.size]),
  };
}

Deno.test("elf: elf_subprogs links shared, static, global, weak and callback functions like libbpf", () => {
  const spec = parse("elf_subprogs-el.o");
  const order = (name: string) =>
    segments(spec.programs[name].instructions.list).map((s) => s.name);
  // Depth first, in the order the scan meets calls and function pointers.
  assertEquals(order("first"), ["first", "twice_plus_one", "add_one", "global_square"]);
  assertEquals(order("second"), ["second", "loop_body", "add_one", "weak_negate"]);
  assertEquals(order("third"), ["third", "local_helper"]);
  assertEquals(order("fourth"), ["fourth", "add_one", "global_square"]);
  const second = spec.programs.second.instructions.list;
  const ptr = second.find(isLoadOfFunctionPointer)!;
  assertEquals([ptr.src, ptr.reference, ptr.imm], [Pseudo.Func, "loop_body", 0]);
  // Copies: each program owns its instructions.
  const a = spec.programs.first.instructions.list.find((i) => i.symbol === "add_one");
  const b = spec.programs.second.instructions.list.find((i) => i.symbol === "add_one");
  assert(a && b && a !== b);
  // func_info on the first instruction of every function, line info throughout.
  for (const p of Object.values(spec.programs)) {
    for (const ins of p.instructions.list) {
      if (ins.symbol) assertEquals((getMeta(ins, FUNC_INFO) as Func).name, ins.symbol);
      else assertEquals(getMeta(ins, FUNC_INFO), undefined);
    }
    // The kernel wants a line record at the start of every function.
    for (const ins of p.instructions.list) if (ins.symbol) assert(ins.line, ins.symbol);
    // The linked code assembles: every reference resolves.
    assertEquals(p.instructions.unresolvedReferences(), []);
    p.instructions.marshal("little");
  }
  assertEquals(spec.programs.third.type, sectionConvention("xdp").programType);
  assertEquals(spec.programs.fourth.attachTo, "syscalls/sys_enter_getppid");
});

Deno.test("elf: elf_maps gives every BTF map field, inner maps and static values", () => {
  const spec = parse("elf_maps-el.o");
  const m = spec.maps;
  const fields = (name: string) => {
    const x = m[name];
    return [
      x.type,
      x.keySize,
      x.valueSize,
      x.maxEntries,
      x.flags,
      x.numaNode,
      x.mapExtra,
      x.pinning,
    ];
  };
  assertEquals(fields("sized_hash"), [MapType.Hash, 4, 16, 32, 1, 0, 0n, PinType.None]);
  assertEquals(m.sized_hash.key, undefined);
  assertEquals(fields("typed_array"), [MapType.Array, 4, 16, 4, 0, 0, 0n, PinType.ByName]);
  assertEquals([String((m.typed_array.value as { name: string }).name)], ["pair"]);
  assertEquals(fields("bloom"), [MapType.BloomFilter, 0, 4, 100, 0, 0, 3n, PinType.None]);
  assertEquals(fields("inner_a"), [MapType.Array, 4, 4, 1, 0, 0, 0n, PinType.None]);
  assertEquals(fields("outer_array"), [MapType.ArrayOfMaps, 4, 4, 4, 0, 0, 0n, PinType.None]);
  const inner = m.outer_array.innerMap!;
  assertEquals([inner.name, inner.type, inner.keySize, inner.valueSize, inner.maxEntries], [
    "outer_array.inner",
    MapType.Array,
    4,
    4,
    1,
  ]);
  assertEquals(m.outer_array.contents, [{ key: 0, value: "inner_a" }, {
    key: 2,
    value: "inner_b",
  }]);
  assertEquals(fields("outer_hash"), [MapType.HashOfMaps, 4, 4, 2, 0, 0, 0n, PinType.None]);
  const ih = m.outer_hash.innerMap!;
  assertEquals([ih.type, ih.keySize, ih.valueSize, ih.maxEntries], [MapType.Hash, 4, 8, 8]);
  assertEquals(m.outer_hash.contents, []);
  assertEquals(fields("jump_table"), [MapType.ProgramArray, 4, 4, 3, 0, 0, 0n, PinType.None]);
  assertEquals(m.jump_table.innerMap, undefined);
  assertEquals(m.jump_table.contents, [{ key: 0, value: "tail_one" }, {
    key: 2,
    value: "tail_two",
  }]);
  for (const c of m.jump_table.contents) assert((c.value as string) in spec.programs);
});

Deno.test("elf: elf_globals gives each section's map and the values the C source sets", () => {
  for (const [name, order] of [["elf_globals-el.o", "little"], ["elf_globals-eb.o", "big"]]) {
    const spec = parse(name);
    const le = order === "little";
    const num = (v: string) => {
      const b = spec.variables[v].get();
      const d = new DataView(b.buffer);
      return b.length === 8 ? d.getBigUint64(0, le) : b.length === 4 ? d.getUint32(0, le) : -1;
    };
    assertEquals(num("hits"), 3n);
    assertEquals(num("static_counter"), 9);
    assertEquals(num("limit"), 64);
    assertEquals(num("magic"), 0x1122334455667788n);
    assertEquals(num("dropped"), 0n);
    assertEquals([...spec.variables.mode.get()], [1, 2, 3, 4]);
    const ports = spec.variables.ports.get();
    assertEquals([0, 2, 4].map((o) => new DataView(ports.buffer).getUint16(o, le)), [
      80,
      443,
      8080,
    ]);
    assertEquals(spec.variables.limit.constant, true);
    assertEquals(spec.variables.hits.constant, false);
    assertEquals(spec.variables.scratch.mapName, ".bss.scratch");
    assertEquals(spec.programs.count_small.kernelVersion, 0x060c00);
    assertEquals(spec.programs.count_small.license, "GPL");
    // set() writes in the object's byte order by default.
    spec.variables.limit.set(1000);
    assertEquals(num("limit"), 1000);
    assertThrows(() => spec.variables.limit.set(new Uint8Array(3)), RangeError);
  }
});

Deno.test("elf: elf_externs and elf_kfuncs record kconfig, ksym and kfunc externs", () => {
  const spec = parse("elf_externs-el.o");
  const kfuncs = parse("elf_kfuncs-eb.o");
  const kc = spec.maps[".kconfig"];
  // libbpf's layout: alignment descending, then size ascending, then name.
  assertEquals([kc.valueSize, kc.freeze, kc.flags], [13, true, 0x80]);
  const refs = new Map<string, ExternRef>();
  const insns = new Map<string, Instruction[]>();
  for (const p of [...Object.values(spec.programs), ...Object.values(kfuncs.programs)]) {
    for (const ins of p.instructions.list) {
      const e = getMeta(ins, EXTERN) as ExternRef | undefined;
      if (!e) continue;
      assertEquals(ins.reference, e.name);
      refs.set(e.name, e);
      insns.set(e.name, [...(insns.get(e.name) ?? []), ins]);
    }
  }
  const brief = (n: string) => {
    const e = refs.get(n)!;
    return [e.kind, e.weak, e.offset];
  };
  assertEquals(brief("CONFIG_HZ"), ["kconfig", true, 0]);
  assertEquals(brief("LINUX_KERNEL_VERSION"), ["kconfig", false, 8]);
  assertEquals(brief("CONFIG_BPF_SYSCALL"), ["kconfig", true, 12]);
  assertEquals(brief("bpf_prog_active"), ["ksym", false, undefined]);
  assertEquals(brief("bpf_rcu_read_lock"), ["kfunc", false, undefined]);
  assert(refs.get("bpf_rcu_read_lock")!.type instanceof Func);
  assert(refs.get("bpf_prog_active")!.type instanceof Var);
  for (const ins of insns.get("bpf_rcu_read_unlock")!) assertEquals(ins.src, CallKind.Kfunc);
  for (const ins of insns.get("bpf_prog_active")!) assertEquals(ins.src, Pseudo.BTFID);
  for (const ins of insns.get("CONFIG_HZ")!) assertEquals([ins.src, constant(ins)], [0, 0n]);
  const ds = kc.value as Datasec;
  assertEquals(ds.vars.map((v) => [(v.type as Var).name, v.offset]).sort(), [
    ["CONFIG_BPF_SYSCALL", 12],
    ["CONFIG_HZ", 0],
    ["LINUX_KERNEL_VERSION", 8],
  ]);
});

Deno.test("elf: a .maps variable without its symbol, or a .maps entry no variable, is refused", () => {
  const bytes = Deno.readFileSync(testdata("elf_maps-el.o"));
  const elf = new ElfFile(bytes);
  const maps = elf.section(".maps")!;
  const symtab = elf.sections.find((s) => s.type === 2)!;
  const sym = elf.symbols().find((y) => y.section === maps.index && y.name === "typed_array")!;
  const moved = bytes.slice();
  // The symbol's st_shndx (a u16 at byte 6 of its entry) names the license section instead.
  new DataView(moved.buffer).setUint16(
    symtab.offset + 24 * sym.index + 6,
    elf.section("license")!.index,
    true,
  );
  assertThrows(
    () => parseCollectionSpec(moved),
    FormatError,
    'ELF: variable "typed_array" has no symbol in section ".maps"',
  );

  // The Datasec's first entry names an int rather than a Var.
  const btf = elf.section(".BTF")!;
  const types = parseSpec(bytes.slice(btf.offset, btf.offset + btf.size));
  const ds = [...types].find((t) => t instanceof Datasec && t.name === ".maps")!;
  const int = [...types].find((t) => t.kind === "int")!;
  const header = new DataView(bytes.buffer, btf.offset);
  const typesAt = btf.offset + header.getUint32(4, true) + header.getUint32(8, true);
  const word = types.raw.offsets[types.typeId(ds)! - types.raw.firstId] + 3;
  const retyped = bytes.slice();
  new DataView(retyped.buffer).setUint32(typesAt + 4 * word, types.typeId(int)!, true);
  assertThrows(
    () => parseCollectionSpec(retyped),
    FormatError,
    'BTF: data section ".maps" holds a int',
  );
});

Deno.test("elf: legacy maps (libbpf and iproute2 layouts), with and without BTF", () => {
  for (const name of ["legacy_maps-el.o", "legacy_maps-nobtf-eb.o"]) {
    const m = parse(name).maps;
    assertEquals([m.legacy_hash.type, m.legacy_hash.keySize, m.legacy_hash.valueSize], [1, 4, 8]);
    assertEquals([m.legacy_hash.maxEntries, m.legacy_array.maxEntries], [64, 2]);
  }
  const m = parse("elf_iproute2-eb.o").maps;
  assertEquals([m.tc_counts.type, m.tc_counts.valueSize, m.tc_counts.maxEntries], [2, 8, 8]);
  assertEquals(m.tc_counts.pinning, PinType.ByName);
  assertEquals(m.tc_inner.pinning, PinType.None);
  assertEquals(m.tc_outer.type, MapType.ArrayOfMaps);
  assertEquals([m.tc_outer.innerMap?.type, m.tc_outer.innerMap?.valueSize], [MapType.Array, 4]);
});

Deno.test("elf: copy() is deep and variables follow their map's copy", () => {
  const spec = parse("elf_globals-el.o");
  const copy = spec.copy();
  copy.variables.hits.set(99n);
  assertEquals(new DataView(spec.variables.hits.get().buffer).getBigUint64(0, true), 3n);
  assert(copy.variables.hits.map === copy.maps[".data"]);
  copy.programs.count_small.instructions.list[0].imm = 1234;
  assert(spec.programs.count_small.instructions.list[0].imm !== 1234);
  copy.maps[".data"].maxEntries = 7;
  assertEquals(spec.maps[".data"].maxEntries, 1);
  assertEquals(normalize(parse("elf_globals-el.o")), normalize(spec));
});

Deno.test("elf: parsing is deterministic and does not alias its input", () => {
  const bytes = Deno.readFileSync(testdata("maps_globals-el.o"));
  const a = parseCollectionSpec(bytes);
  const before = normalize(a);
  bytes.fill(0xee);
  assertEquals(normalize(a), before);
  assertEquals(
    normalize(parseCollectionSpec(Deno.readFileSync(testdata("maps_globals-el.o")))),
    before,
  );
});

Deno.test("elf: loadCollectionSpec reads a file; bad input gives typed errors", async () => {
  const spec = await loadCollectionSpec(testdata("socket_filter-el.o"));
  assertEquals(Object.keys(spec.programs), ["truncate_long"]);
  assertThrows(() => parseCollectionSpec(new Uint8Array(10)), FormatError);
  assertThrows(() => parseCollectionSpec([] as unknown as Uint8Array), TypeError);
});

const NO_PERMISSION_BYTES = Deno.readFileSync(testdata("elf_maps-eb.o"));
Deno.test({
  name: "elf: parseCollectionSpec needs no permissions",
  permissions: "none",
  fn() {
    const spec = parseCollectionSpec(NO_PERMISSION_BYTES);
    assertEquals(Object.keys(spec.programs).sort(), ["dispatch", "tail_one", "tail_two"]);
  },
});

Deno.test("elf: specs parsed one after another share no bytes", () => {
  const bytes = Deno.readFileSync(testdata("maps_globals-el.o"));
  const specs = Array.from({ length: 20 }, () => parseCollectionSpec(bytes));
  // Every byte array a spec keeps: its BTF, string tables and global data.
  const views = (s: ReturnType<typeof parseCollectionSpec>) =>
    [
      s.types!.raw.strings,
      ...Object.values(s.maps).flatMap((m) =>
        m.contents.flatMap((e) => [e.key, e.value]).filter((v) => v instanceof Uint8Array)
      ),
    ] as Uint8Array[];
  const ranges = new Map<ArrayBufferLike, [number, number][]>();
  for (const s of specs) {
    for (const v of views(s)) {
      const list = ranges.get(v.buffer) ?? [];
      for (const [from, to] of list) {
        assert(v.byteOffset >= to || v.byteOffset + v.byteLength <= from, "two specs share bytes");
      }
      list.push([v.byteOffset, v.byteOffset + v.byteLength]);
      ranges.set(v.buffer, list);
    }
  }
  // Writing one spec's data leaves the others alone.
  const data = specs[0].maps[".data"].contents[0].value as Uint8Array;
  data.fill(0x5a);
  assertEquals(
    (specs[1].maps[".data"].contents[0].value as Uint8Array).some((b) => b === 0x5a),
    false,
  );
});

Deno.test("elf: two functions of one name are refused, entry programs, subprograms and __proto__ alike", () => {
  const bytes = Deno.readFileSync(testdata("asm_calls-el.o"));
  const elf = new ElfFile(bytes);
  const symtab = elf.sections.find((s) => s.type === 2)!;
  const symbols = elf.symbols();
  const sym = (name: string) => symbols.find((y) => y.name === name)!;
  const nameAt = (name: string) =>
    new DataView(bytes.buffer).getUint32(symtab.offset + 24 * sym(name).index, true);
  // A copy whose symbols `renamed` take the st_name (a u32 at byte 0 of the entry) of `as`.
  const renamed = (names: string[], as: string, from = bytes) => {
    const out = from.slice();
    for (const n of names) {
      new DataView(out.buffer).setUint32(symtab.offset + 24 * sym(n).index, nameAt(as), true);
    }
    return out;
  };
  // The object parses as it is: the functions below are the ones it has.
  const spec = parseCollectionSpec(bytes);
  assertEquals(Object.keys(spec.programs).sort(), ["caller", "tail"]);

  const cases: [string[], string][] = [
    [["tail"], "caller"], // two entry programs
    [["cube"], "caller"], // a subprogram, then an entry program (.text comes first)
    [["square"], "cube"], // two subprograms
    [["global_helper"], "tail"], // a global subprogram of .text and an entry program
  ];
  for (const [names, as] of cases) {
    assertThrows(
      () => parseCollectionSpec(renamed(names, as)),
      FormatError,
      `ELF: two functions "${as}"`,
    );
  }

  // `__proto__`, a key like any other in Deno (which has no `Object.prototype.__proto__`):
  // the string of "loop_body" (as long) rewritten in place, loop_body given the file
  // symbol's name, and "__proto__" taken by an entry program, then by both, then by one
  // and a subprogram.
  const strtab = elf.sections[symtab.link];
  const proto = renamed(["loop_body"], "asm_calls.c");
  proto.set(new TextEncoder().encode("__proto__"), strtab.offset + nameAt("loop_body"));
  const protoAt = nameAt("loop_body");
  const named = (names: string[]) => {
    const out = proto.slice();
    for (const n of names) {
      new DataView(out.buffer).setUint32(symtab.offset + 24 * sym(n).index, protoAt, true);
    }
    return out;
  };
  assertEquals(Object.keys(parseCollectionSpec(named([])).programs).sort(), ["caller", "tail"]);
  assertEquals(Object.keys(parseCollectionSpec(named(["caller"])).programs).sort(), [
    "__proto__",
    "tail",
  ]);
  for (const names of [["caller", "tail"], ["cube", "caller"]]) {
    assertThrows(
      () => parseCollectionSpec(named(names)),
      FormatError,
      'ELF: two functions "__proto__"',
    );
  }
});

Deno.test("elf: of two symbols of a variable's name in its section, the first in the symbol table wins", () => {
  const bytes = Deno.readFileSync(testdata("elf_maps-el.o"));
  const elf = new ElfFile(bytes);
  const maps = elf.section(".maps")!;
  const symtab = elf.sections.find((s) => s.type === 2)!;
  const symbols = elf.symbols();
  const sym = (name: string) => symbols.find((y) => y.name === name)!;
  const offsetOf = (spec: CollectionSpec, name: string) => {
    const ds = spec.types!.typeByName(".maps") as Datasec;
    return ds.vars.find((v) => (v.type as Var).name === name)!.offset;
  };
  // `__license`, the last symbol, moved into `.maps` under the name of `target` at `value`:
  // a lower value than the target's, then a higher one, so that neither the order of
  // values nor the last one found can pass for the order of the table.
  const moved = sym("__license");
  for (const [target, value] of [["inner_b", 0], ["inner_a", 0x20]] as const) {
    const t = sym(target);
    assert(moved.index > t.index && value !== t.value);
    const out = bytes.slice();
    const v = new DataView(out.buffer);
    const at = symtab.offset + 24 * moved.index;
    v.setUint32(at, v.getUint32(symtab.offset + 24 * t.index, true), true); // st_name
    v.setUint16(at + 6, maps.index, true); // st_shndx
    v.setUint32(at + 8, value, true); // st_value (low word)
    assertEquals(offsetOf(parseCollectionSpec(out), target), t.value);
  }
});
