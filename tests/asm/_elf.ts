// The program sections of a testdata object, through the project's ELF reader.
import { ElfFile, SectionFlag, SectionType } from "../../elf/elf_file.ts";

/** One section that holds instructions. */
export interface Section {
  name: string;
  bytes: Uint8Array;
}

/** The sections that hold instructions: PROGBITS, executable, not empty. */
export function programSections(
  file: Uint8Array,
): { order: "little" | "big"; sections: Section[] } {
  const elf = new ElfFile(file);
  const sections = elf.sections
    .filter((s) =>
      s.type === SectionType.ProgBits && (s.flags & BigInt(SectionFlag.ExecInstr)) !== 0n &&
      s.size > 0
    )
    .map((s) => ({ name: s.name, bytes: elf.data(s) }));
  return { order: elf.byteOrder, sections };
}
