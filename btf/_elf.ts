/**
 * Just enough ELF64 to find the `.BTF` and `.BTF.ext` sections of an object file, so that
 * `loadSpec` reads the same files bpftool does. The full ELF reader lives in `elf/`.
 *
 * @module
 */

import { FormatError } from "../errors.ts";

/** The sections of an ELF file by name, and its byte order. */
export interface ElfSections {
  /** Byte order from `e_ident[EI_DATA]`. */
  littleEndian: boolean;
  /** Section contents by name (views into the file bytes). */
  sections: Map<string, Uint8Array>;
}

/** Whether `bytes` start with the ELF magic. */
export function isElf(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c &&
    bytes[3] === 0x46;
}

/** Reads the section table of an ELF64 file. */
export function elfSections(bytes: Uint8Array): ElfSections {
  if (!isElf(bytes) || bytes.length < 64) throw new FormatError("Not an ELF file", 0);
  if (bytes[4] !== 2) throw new FormatError("Not a 64-bit ELF file", 4);
  const data = bytes[5];
  if (data !== 1 && data !== 2) throw new FormatError(`Invalid ELF byte order: ${data}`, 5);
  const le = data === 1;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shoff = Number(v.getBigUint64(0x28, le));
  const shentsize = v.getUint16(0x3a, le);
  const shnum = v.getUint16(0x3c, le);
  const shstrndx = v.getUint16(0x3e, le);
  if (shentsize < 64 || shoff + shnum * shentsize > bytes.length) {
    throw new FormatError("ELF section headers out of range", 0x28);
  }
  if (shstrndx >= shnum) throw new FormatError("ELF section name table out of range", 0x3e);
  const headers: { name: number; type: number; offset: number; size: number }[] = [];
  for (let i = 0; i < shnum; i++) {
    const h = shoff + i * shentsize;
    const type = v.getUint32(h + 4, le);
    const offset = Number(v.getBigUint64(h + 0x18, le));
    const size = Number(v.getBigUint64(h + 0x20, le));
    // SHT_NOBITS occupies no file space.
    if (type !== 8 && offset + size > bytes.length) {
      throw new FormatError(`ELF section ${i} out of range`, h);
    }
    headers.push({ name: v.getUint32(h, le), type, offset, size: type === 8 ? 0 : size });
  }
  const names = headers[shstrndx];
  const sections = new Map<string, Uint8Array>();
  const dec = new TextDecoder();
  for (const h of headers) {
    let end = names.offset + h.name;
    if (h.name >= names.size) continue;
    while (end < names.offset + names.size && bytes[end] !== 0) end++;
    const name = dec.decode(bytes.subarray(names.offset + h.name, end));
    if (!sections.has(name)) sections.set(name, bytes.subarray(h.offset, h.offset + h.size));
  }
  return { littleEndian: le, sections };
}
