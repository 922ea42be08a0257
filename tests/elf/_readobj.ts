// llvm-readobj-19's view of an object (sections, symbols, relocations), the oracle the
// collection reader tests compare against.
import { run } from "../_harness.ts";

export interface OSection {
  index: number;
  name: string;
  type: number;
  flags: number;
  size: number;
  offset: number;
  info: number;
}
export interface OSymbol {
  index: number;
  name: string;
  value: number;
  size: number;
  binding: number;
  type: number;
  section: number;
}
export interface ORelocation {
  section: number;
  offset: number;
  type: number;
  symbol: number;
}
export interface Readobj {
  sections: OSection[];
  symbols: OSymbol[];
  relocations: ORelocation[];
}

interface Json {
  Sections: {
    Section: {
      Index: number;
      Name: { Name: string };
      Type: { Value: number };
      Flags: { Value: number };
      Size: number;
      Offset: number;
      Info: number;
    };
  }[];
  Symbols: {
    Symbol: {
      Name: { Name: string };
      Value: number;
      Size: number;
      Binding: { Value: number };
      Type: { Value: number };
      Section: { Value: number };
    };
  }[];
  Relocations: {
    SectionIndex: number;
    Relocs: {
      Relocation: { Offset: number; Type: { Value: number }; Symbol: { Value: number } };
    }[];
  }[];
}

export function readobj(path: string): Readobj {
  const [j] = JSON.parse(
    run("llvm-readobj-19", ["--elf-output-style=JSON", "-S", "-s", "-r", path]),
  ) as [Json];
  const sections = j.Sections.map(({ Section: s }) => ({
    index: s.Index,
    name: s.Name.Name,
    type: s.Type.Value,
    flags: s.Flags.Value,
    size: s.Size,
    offset: s.Offset,
    info: s.Info,
  }));
  const symbols = j.Symbols.map(({ Symbol: s }, i) => ({
    index: i,
    name: s.Name.Name,
    value: s.Value,
    size: s.Size,
    binding: s.Binding.Value,
    type: s.Type.Value,
    section: s.Section.Value,
  }));
  const relocations: ORelocation[] = [];
  for (const r of j.Relocations ?? []) {
    // SectionIndex names the relocation section; the patched section is its sh_info.
    const rel = sections[r.SectionIndex];
    const target = rel.type === 9 || rel.type === 4 ? rel.info : r.SectionIndex;
    for (const { Relocation: e } of r.Relocs) {
      relocations.push({
        section: target,
        offset: e.Offset,
        type: e.Type.Value,
        symbol: e.Symbol.Value,
      });
    }
  }
  return { sections, symbols, relocations };
}
