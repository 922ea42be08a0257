// A tiny ELF64 section reader for the asm tests (elf/ does not exist yet, and asm must not
// depend on it anyway). It knows only what the oracle tests need: the program sections.

/** One section of an ELF file. */
export interface Section {
  name: string;
  type: number;
  flags: bigint;
  bytes: Uint8Array;
}

const SHT_PROGBITS = 1;
const SHF_EXECINSTR = 0x4n;

/** Every section of a 64-bit ELF file, and its byte order. */
export function readSections(file: Uint8Array): { order: "little" | "big"; sections: Section[] } {
  if (file[0] !== 0x7f || file[1] !== 0x45 || file[2] !== 0x4c || file[3] !== 0x46) {
    throw new Error("Not an ELF file");
  }
  if (file[4] !== 2) throw new Error("Not a 64-bit ELF file");
  const le = file[5] === 1;
  const v = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const shoff = Number(v.getBigUint64(0x28, le));
  const shentsize = v.getUint16(0x3a, le);
  const shnum = v.getUint16(0x3c, le);
  const shstrndx = v.getUint16(0x3e, le);
  const raw = [];
  for (let i = 0; i < shnum; i++) {
    const at = shoff + i * shentsize;
    raw.push({
      name: v.getUint32(at, le),
      type: v.getUint32(at + 4, le),
      flags: v.getBigUint64(at + 8, le),
      offset: Number(v.getBigUint64(at + 0x18, le)),
      size: Number(v.getBigUint64(at + 0x20, le)),
    });
  }
  const strtab = raw[shstrndx];
  const name = (off: number) => {
    const start = strtab.offset + off;
    let end = start;
    while (file[end] !== 0) end++;
    return new TextDecoder().decode(file.subarray(start, end));
  };
  const sections = raw.map((s) => ({
    name: name(s.name),
    type: s.type,
    flags: s.flags,
    bytes: s.type === 8 ? new Uint8Array(0) : file.subarray(s.offset, s.offset + s.size),
  }));
  return { order: le ? "little" : "big", sections };
}

/** The sections that hold instructions: PROGBITS, executable, not empty. */
export function programSections(
  file: Uint8Array,
): { order: "little" | "big"; sections: Section[] } {
  const { order, sections } = readSections(file);
  return {
    order,
    sections: sections.filter((s) =>
      s.type === SHT_PROGBITS && (s.flags & SHF_EXECINSTR) !== 0n && s.bytes.length > 0
    ),
  };
}
