// Test helper: the programs of a testdata object as instructions carrying their CO-RE
// records under CORE_RELO_META, as the ELF reader will put them (read here with ElfFile
// and parseSpecAndExtInfos so that these tests do not depend on the collection reader).
import { asm } from "../../mod.ts";
import { CORE_RELO_META, parseSpecAndExtInfos, type Spec } from "../../btf/mod.ts";
import { ElfFile, SectionFlag, SymbolType } from "../../elf/elf_file.ts";

/** One program (function at the start of an executable section). */
export interface CoreProgram {
  /** The function's name (libbpf's program name). */
  name: string;
  /** Its ELF section. */
  section: string;
  /** Its instructions, with CoreRelo metadata. */
  insns: asm.Instructions;
  /** How many instructions carry a CoreRelo. */
  relos: number;
}

/** Reads an object's BTF and its programs with CoreRelo metadata attached. */
export function loadCoreObject(path: string): { spec: Spec; programs: CoreProgram[] } {
  const bytes = Deno.readFileSync(path);
  const elf = new ElfFile(bytes);
  const { spec, extInfos } = parseSpecAndExtInfos(bytes);
  const programs: CoreProgram[] = [];
  const syms = elf.symbols();
  for (const sec of elf.sections) {
    if ((Number(sec.flags) & SectionFlag.ExecInstr) === 0 || sec.size === 0) continue;
    const fn = syms.find((s) =>
      s.section === sec.index && s.type === SymbolType.Func && s.value === 0
    );
    if (!fn) continue;
    const insns = asm.Instructions.unmarshal(elf.data(sec), elf.byteOrder);
    const offsets = insns.offsets();
    const bySlot = new Map<number, number>();
    offsets.forEach((o, i) => bySlot.set(o, i));
    let relos = 0;
    for (const r of extInfos?.coreRelos.get(sec.name) ?? []) {
      const i = bySlot.get(r.insnOffset / 8);
      if (i === undefined) throw new Error(`CO-RE record at ${r.insnOffset} is not an instruction`);
      asm.setMeta(insns.list[i], CORE_RELO_META, r);
      relos++;
    }
    programs.push({ name: fn.name, section: sec.name, insns, relos });
  }
  return { spec, programs };
}
