// The ELF reader against llvm-readobj-19's JSON output, and against corrupt input.
import { assert, assertEquals, assertThrows } from "@std/assert";
import { ElfFile, SectionType } from "../../elf/elf_file.ts";
import { FormatError } from "../../errors.ts";
import { run, testdata } from "../_harness.ts";

const objects = [...Deno.readDirSync(testdata(""))]
  .map((e) => e.name)
  .filter((n) => n.endsWith(".o"))
  .sort();

interface ReadobjSection {
  Section: {
    Index: number;
    Name: { Name: string };
    Type: { Value: number };
    Flags: { Value: number };
    Offset: number;
    Size: number;
    Link: number;
    Info: number;
    AddressAlignment: number;
    EntrySize: number;
  };
}
interface ReadobjSymbol {
  Symbol: {
    Name: { Name: string };
    Value: number;
    Size: number;
    Binding: { Value: number };
    Type: { Value: number };
    Section: { Value: number };
  };
}
interface ReadobjRelocs {
  SectionIndex: number;
  Relocs: { Relocation: { Offset: number; Type: { Value: number }; Symbol: { Value: number } } }[];
}

for (const object of objects) {
  Deno.test(`elf: ${object} matches llvm-readobj`, () => {
    const path = testdata(object);
    const [oracle] = JSON.parse(
      run("llvm-readobj-19", ["--elf-output-style=JSON", "-S", "-s", "-r", path]),
    ) as [{ Sections: ReadobjSection[]; Symbols: ReadobjSymbol[]; Relocations: ReadobjRelocs[] }];
    const elf = new ElfFile(Deno.readFileSync(path));
    assertEquals(elf.byteOrder, object.endsWith("-eb.o") ? "big" : "little");

    assertEquals(
      elf.sections.map((s) => [
        s.index,
        s.name,
        s.type,
        Number(s.flags),
        s.offset,
        s.size,
        s.link,
        s.info,
        s.addralign,
        s.entsize,
      ]),
      oracle.Sections.map(({ Section: s }) => [
        s.Index,
        s.Name.Name,
        s.Type.Value,
        s.Flags.Value,
        s.Offset,
        s.Size,
        s.Link,
        s.Info,
        s.AddressAlignment,
        s.EntrySize,
      ]),
    );

    // llvm-readobj names section symbols after their section; the table holds no name.
    assertEquals(
      elf.symbols().map((s) => [s.name, s.value, s.size, s.binding, s.type, s.section]),
      oracle.Symbols.map(({ Symbol: s }) => [
        s.Type.Value === 3 ? "" : s.Name.Name,
        s.Value,
        s.Size,
        s.Binding.Value,
        s.Type.Value,
        s.Section.Value,
      ]),
    );

    const rels = elf.sections.filter((s) => s.type === SectionType.Rel);
    assertEquals(
      rels.map((r) => ({
        SectionIndex: r.index,
        Relocs: elf.relocations(r).map((x) => [x.offset, x.type, x.symbol]),
      })),
      oracle.Relocations.map((r) => ({
        SectionIndex: r.SectionIndex,
        Relocs: r.Relocs.map(({ Relocation: x }) => [x.Offset, x.Type.Value, x.Symbol.Value]),
      })),
    );
  });
}

Deno.test("elf: section data and .bss", () => {
  const elf = new ElfFile(Deno.readFileSync(testdata("maps_globals-el.o")));
  const license = elf.section("license")!;
  assertEquals(new TextDecoder().decode(elf.data(license)), "GPL\0");
  const bss = elf.section(".bss")!;
  assertEquals(bss.type, SectionType.NoBits);
  assertEquals(elf.data(bss), new Uint8Array(8));
  const dataX = elf.data(elf.section(".data.x")!);
  assertEquals([...new Uint32Array(dataX.slice().buffer)], [1, 2, 3, 4]);
});

Deno.test("elf: refuses what is not a BPF relocatable object", () => {
  const good = Deno.readFileSync(testdata("socket_filter-el.o"));
  const cases: [string, (b: Uint8Array) => void, RegExp][] = [
    ["magic", (b) => (b[1] = 0), /bad magic/],
    ["class", (b) => (b[4] = 1), /not ELF64/],
    ["encoding", (b) => (b[5] = 3), /data encoding/],
    ["type", (b) => (b[16] = 2), /not a relocatable/],
    ["machine", (b) => (b[18] = 62), /not BPF/],
    ["shentsize", (b) => (b[0x3a] = 40), /section header size/],
    ["shnum", (b) => (b[0x3d] = 0xff), /do not fit/],
    ["shstrndx", (b) => (b[0x3e] = 0xfe), /name table index/],
  ];
  for (const [what, mutate, message] of cases) {
    const b = good.slice();
    mutate(b);
    const e = assertThrows(() => new ElfFile(b), FormatError, undefined, what);
    assert(message.test(e.message), `${what}: ${e.message}`);
  }
  assertThrows(() => new ElfFile(good.subarray(0, 10)), FormatError, "shorter than its header");
  // The host's own executables are ELF, but not BPF.
  assertThrows(() => new ElfFile(Deno.readFileSync("/bin/true")), FormatError);
});

Deno.test("elf: 100,000 mutated objects give FormatError or parse, nothing else", () => {
  const seeds = objects.map((o) => Deno.readFileSync(testdata(o)));
  let state = 0x9e3779b9;
  const random = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
  let rejected = 0;
  for (let i = 0; i < 100_000; i++) {
    const seed = seeds[i % seeds.length];
    let b: Uint8Array;
    const mode = i % 3;
    if (mode === 0) {
      b = seed.subarray(0, Math.floor(random() * seed.length));
    } else {
      b = seed.slice();
      const flips = 1 + Math.floor(random() * 8);
      // Aim most flips at the headers, where a parser is most exposed.
      for (let f = 0; f < flips; f++) {
        const at = random() < 0.5 ? Math.floor(random() * 64) : Math.floor(random() * b.length);
        b[at] = Math.floor(random() * 256);
      }
    }
    try {
      const elf = new ElfFile(b);
      elf.symbols();
      for (const s of elf.sections) {
        if (s.type === SectionType.Rel || s.type === SectionType.Rela) elf.relocations(s);
        elf.data(s);
      }
    } catch (e) {
      if (!(e instanceof FormatError)) throw new Error(`input ${i}: ${e}`, { cause: e });
      rejected++;
    }
  }
  assert(rejected > 30_000, `only ${rejected} rejected`);
});
