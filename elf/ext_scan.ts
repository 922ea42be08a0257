/**
 * A check of `.BTF.ext` that decodes nothing: it walks the section as `btf.parseExtInfos`
 * does and makes the same checks on the raw words, keeping only where each record points.
 * Opening an object then costs no string or type decoding for line, function and CO-RE
 * records (most of the cost of `parseExtInfos`); they are parsed when the first program's
 * instructions are built, with every error already ruled out.
 *
 * @module
 */

import { CoreReloKind, type Spec } from "../btf/mod.ts";
import type { Section } from "./elf_file.ts";

/** The instruction byte offsets the records of each program section (by index) point at. */
export type ExtOffsets = Map<number, number[]>;

const EXT_HEADER_MIN = 24;
const COLON = 0x3a;

/**
 * The record offsets of `.BTF.ext` per program section (of `sections`: the ones records
 * apply to, whose names are in `file`), or undefined when `parseExtInfos(bytes, spec)` could throw: the caller then
 * parses eagerly, to report that error where it did. Errs towards undefined: anything it
 * does not recognise goes the eager way.
 */
export function scanExtInfos(
  bytes: Uint8Array,
  spec: Spec,
  file: Uint8Array,
  sections: readonly Section[],
): ExtOffsets | undefined {
  // Split BTF and strings outside this spec's own table go the eager way.
  if (spec.base !== undefined) return undefined;
  try {
    spec.validate();
  } catch {
    return undefined;
  }
  if (bytes.length < EXT_HEADER_MIN) return undefined;
  let le: boolean;
  if (bytes[0] === 0x9f && bytes[1] === 0xeb) le = true;
  else if (bytes[0] === 0xeb && bytes[1] === 0x9f) le = false;
  else return undefined;
  if ((le ? "little" : "big") !== spec.byteOrder || bytes[2] !== 1 || bytes[3] !== 0) {
    return undefined;
  }
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hdrLen = v.getUint32(4, le);
  if (hdrLen < EXT_HEADER_MIN || hdrLen > bytes.length) return undefined;
  const field = (at: number) => (at + 4 <= hdrLen ? v.getUint32(at, le) : 0);
  const strings = spec.raw.strings;
  const strLen = spec.stringsLength;
  const typeLimit = spec.nextTypeId;
  // Keyed by the name's string offset while scanning: each name is decoded once, below.
  const byName = new Map<number, number[]>();

  // The blocks of func_info (0), line_info (1) and CO-RE relocations (2), as in ext.ts.
  for (let kind = 0; kind < 3; kind++) {
    const off = field(8 + kind * 8);
    const len = field(12 + kind * 8);
    if (len === 0) continue;
    const start = hdrLen + off;
    if (off > bytes.length - hdrLen || len > bytes.length - start || len < 4) return undefined;
    const end = start + len;
    const recSize = v.getUint32(start, le);
    if (recSize < (kind === 0 ? 8 : 16) || recSize % 4 !== 0) return undefined;
    let p = start + 4;
    while (p < end) {
      if (p + 8 > end) return undefined;
      const nameOff = v.getUint32(p, le);
      const num = v.getUint32(p + 4, le);
      p += 8;
      if (nameOff >= strLen || num === 0 || num > (end - p) / recSize) return undefined;
      let list = byName.get(nameOff);
      if (!list) byName.set(nameOff, list = []);
      for (let i = 0; i < num; i++, p += recSize) {
        list.push(v.getUint32(p, le));
        const a = v.getUint32(p + 4, le);
        if (kind === 1) {
          if (a >= strLen || v.getUint32(p + 8, le) >= strLen) return undefined;
          continue;
        }
        if (a >= typeLimit) return undefined;
        if (kind === 2) {
          const accessor = v.getUint32(p + 8, le);
          if (v.getUint32(p + 12, le) > CoreReloKind.TypeMatches) return undefined;
          if (accessor >= strLen || !isAccessString(strings, accessor)) return undefined;
        }
      }
    }
  }
  // Names are matched by their bytes, through a hash computed here: making and hashing
  // strings (as a Map keyed by name would) costs more than the whole scan.
  const byHash = new Map<number, Section[]>();
  for (const s of sections) {
    const h = hashCString(file, s.nameAt);
    const list = byHash.get(h);
    if (list) list.push(s);
    else byHash.set(h, [s]);
  }
  const out: ExtOffsets = new Map();
  for (const [nameOff, list] of byName) {
    for (const s of byHash.get(hashCString(strings, nameOff)) ?? []) {
      if (!sameCString(strings, nameOff, file, s.nameAt)) continue;
      const had = out.get(s.index);
      if (had) had.push(...list);
      else out.set(s.index, list);
    }
  }
  return out;
}

/** FNV-1a (cut to 30 bits) over the bytes of the NUL-terminated string at `off` (the NUL is there). */
function hashCString(bytes: Uint8Array, off: number): number {
  let h = 0x811c9dc5;
  for (let i = off; bytes[i] !== 0; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
  // 30 bits: a small integer, which a Map hashes without boxing it.
  return h & 0x3fffffff;
}

/** Whether two NUL-terminated strings have the same bytes. */
function sameCString(a: Uint8Array, i: number, b: Uint8Array, j: number): boolean {
  for (;; i++, j++) {
    if (a[i] !== b[j]) return false;
    if (a[i] === 0) return true;
  }
}

/** Whether the C string at `off` matches `^\d+(:\d+)*$`, the check of `parseExtInfos`. */
function isAccessString(strings: Uint8Array, off: number): boolean {
  let digit = false;
  for (let i = off; i < strings.length; i++) {
    const c = strings[i];
    if (c === 0) return digit;
    if (c >= 0x30 && c <= 0x39) digit = true;
    else if (c === COLON && digit) digit = false;
    else return false;
  }
  return false;
}
