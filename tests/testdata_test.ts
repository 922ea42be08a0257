// Every testdata source has its committed objects, and they are what build.sh promises:
// relocatable EM_BPF ELF64 files in the byte order their name says, with BTF unless -nobtf.
import { assert, assertEquals } from "@std/assert";
import { testdata } from "./_harness.ts";
import { ElfFile } from "../elf/elf_file.ts";

const dir = testdata("");
const EM_BPF = 247;

function objectsOf(source: string): string[] {
  const name = source.slice(0, -2);
  const text = Deno.readTextFileSync(dir + source);
  const variants = /^\/\/ variants: (.*)$/m.exec(text)?.[1].split(/\s+/) ?? [];
  const out = [`${name}-el.o`, `${name}-eb.o`];
  if (variants.includes("nobtf")) out.push(`${name}-nobtf-el.o`, `${name}-nobtf-eb.o`);
  return out;
}

Deno.test("testdata: every source has its objects in both byte orders", () => {
  const sources = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.endsWith(".c"));
  assert(sources.length >= 3);
  for (const source of sources) {
    for (const object of objectsOf(source)) {
      const bytes = Deno.readFileSync(dir + object);
      assertEquals([...bytes.subarray(0, 4)], [0x7f, 0x45, 0x4c, 0x46], `${object}: ELF magic`);
      assertEquals(bytes[4], 2, `${object}: ELF64`);
      const little = object.endsWith("-el.o");
      assertEquals(bytes[5], little ? 1 : 2, `${object}: byte order`);
      const v = new DataView(bytes.buffer);
      assertEquals(v.getUint16(16, little), 1, `${object}: ET_REL`);
      assertEquals(v.getUint16(18, little), EM_BPF, `${object}: EM_BPF`);
      const sections = new ElfFile(bytes).sections.map((s) => s.name);
      assertEquals(sections.includes(".BTF"), !object.includes("-nobtf-"), `${object}: .BTF`);
      assert(sections.includes("license"), `${object}: license section`);
    }
  }
});
