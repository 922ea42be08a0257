/**
 * `.BTF.ext`: function info, line info and CO-RE relocation records, per ELF section, in
 * either byte order. Instruction offsets stay in bytes from the start of the section, as
 * clang writes them; the loader turns them into instruction indexes.
 *
 * @module
 */

import { FormatError } from "../errors.ts";
import type { Spec } from "./spec.ts";
import type { Type } from "./types.ts";

/** `struct bpf_func_info`: the function that starts at an instruction. */
export interface FuncInfo {
  /** Byte offset of the function's first instruction in its section. */
  insnOffset: number;
  /** The BTF id of the {@linkcode Func}. */
  typeId: number;
  /** The {@linkcode Func} type. */
  func: Type;
}

/** `struct bpf_line_info`: the source line an instruction came from. */
export interface LineInfo {
  /** Byte offset of the instruction in its section. */
  insnOffset: number;
  /** The source file's name. */
  fileName: string;
  /** The text of the source line. */
  line: string;
  /** The line number. */
  lineNumber: number;
  /** The column. */
  column: number;
  /** String offset of the file name (for writing the record back). */
  fileNameOffset: number;
  /** String offset of the line text. */
  lineOffset: number;
}

/**
 * Instruction metadata key under which the ELF reader puts the {@linkcode CoreRelo} that
 * patches an instruction (see `asm.getMeta`), and where CO-RE relocation looks for it.
 */
export const CORE_RELO_META = "btf.coreRelo";

/** Instruction metadata key of the `Func` (func_info) that starts at an instruction. */
export const FUNC_INFO_META = "btf.func";

/** `enum bpf_core_relo_kind`. */
export const CoreReloKind = {
  FieldByteOffset: 0,
  FieldByteSize: 1,
  FieldExists: 2,
  FieldSigned: 3,
  FieldLShiftU64: 4,
  FieldRShiftU64: 5,
  TypeIdLocal: 6,
  TypeIdTarget: 7,
  TypeExists: 8,
  TypeSize: 9,
  EnumvalExists: 10,
  EnumvalValue: 11,
  TypeMatches: 12,
} as const;

/** A `bpf_core_relo_kind` number. */
export type CoreReloKind = typeof CoreReloKind[keyof typeof CoreReloKind];

/** libbpf's names of the relocation kinds, indexed by kind. */
export const CORE_RELO_KIND_NAMES: readonly string[] = [
  "byte_off",
  "byte_sz",
  "field_exists",
  "signed",
  "lshift_u64",
  "rshift_u64",
  "local_type_id",
  "target_type_id",
  "type_exists",
  "type_size",
  "enumval_exists",
  "enumval_value",
  "type_matches",
];

/** `struct bpf_core_relo`: one CO-RE relocation. */
export interface CoreRelo {
  /** Byte offset of the instruction to patch in its section. */
  insnOffset: number;
  /** The BTF id of the local root type. */
  typeId: number;
  /** The local root type. */
  type: Type;
  /** The access string, such as `"0:3:1"` (member indexes) or `"2"` (an enumerator). */
  accessor: string;
  /** What to compute: a {@linkcode CoreReloKind}. */
  kind: CoreReloKind;
}

/** The records of a `.BTF.ext` section, keyed by the ELF section they describe. */
export interface ExtInfos {
  /** Function info per section, in file order. */
  funcInfos: Map<string, FuncInfo[]>;
  /** Line info per section, in file order. */
  lineInfos: Map<string, LineInfo[]>;
  /** CO-RE relocations per section, in file order. */
  coreRelos: Map<string, CoreRelo[]>;
  /** The record sizes the file declared (func, line, CO-RE), for writing them back. */
  recordSizes: { funcInfo: number; lineInfo: number; coreRelo: number };
}

const EXT_HEADER_MIN = 24;

/**
 * Parses `.BTF.ext`. String offsets and type ids refer to `spec` (the object's `.BTF`),
 * whose byte order the section must share. Malformed input throws a {@linkcode FormatError}.
 */
export function parseExtInfos(bytes: Uint8Array, spec: Spec): ExtInfos {
  if (bytes.length < EXT_HEADER_MIN) {
    throw new FormatError(`BTF.ext header truncated: ${bytes.length} bytes`, 0);
  }
  let le: boolean;
  if (bytes[0] === 0x9f && bytes[1] === 0xeb) le = true;
  else if (bytes[0] === 0xeb && bytes[1] === 0x9f) le = false;
  else throw new FormatError("Not BTF.ext: bad magic", 0);
  if ((le ? "little" : "big") !== spec.byteOrder) {
    throw new FormatError("BTF.ext byte order differs from its BTF", 0);
  }
  if (bytes[2] !== 1) throw new FormatError(`Unsupported BTF.ext version ${bytes[2]}`, 2);
  if (bytes[3] !== 0) throw new FormatError(`Unsupported BTF.ext flags ${bytes[3]}`, 3);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hdrLen = v.getUint32(4, le);
  if (hdrLen < EXT_HEADER_MIN || hdrLen > bytes.length) {
    throw new FormatError(`Invalid BTF.ext header length ${hdrLen}`, 4);
  }
  const field = (at: number) => (at + 4 <= hdrLen ? v.getUint32(at, le) : 0);
  const u32 = (at: number) => v.getUint32(at, le);
  const str = (off: number, at: number) => {
    if (off >= spec.stringsLength) throw new FormatError(`String offset ${off} out of range`, at);
    return spec.string(off);
  };
  const type = (id: number, at: number) => {
    if (id >= spec.nextTypeId) throw new FormatError(`Type id ${id} out of range`, at);
    return spec.typeById(id);
  };

  /** Walks one info block, calling `record(section, at)` for each record. */
  const walk = (
    off: number,
    len: number,
    minRecord: number,
    what: string,
    record: (list: unknown[], at: number) => unknown,
    into: Map<string, unknown[]>,
  ): number => {
    if (len === 0) return 0;
    const start = hdrLen + off;
    if (off > bytes.length - hdrLen || len > bytes.length - start) {
      throw new FormatError(`BTF.ext ${what} out of range`, 8);
    }
    if (len < 4) throw new FormatError(`BTF.ext ${what} truncated`, start);
    const end = start + len;
    const recSize = u32(start);
    if (recSize < minRecord || recSize % 4 !== 0) {
      throw new FormatError(`BTF.ext ${what} record size ${recSize} invalid`, start);
    }
    let p = start + 4;
    while (p < end) {
      if (p + 8 > end) throw new FormatError(`BTF.ext ${what} section header truncated`, p);
      const secName = str(u32(p), p);
      const num = u32(p + 4);
      p += 8;
      if (num === 0) throw new FormatError(`BTF.ext ${what} section has no records`, p - 4);
      if (num > (end - p) / recSize) {
        throw new FormatError(`BTF.ext ${what}: ${num} records overrun the block`, p - 4);
      }
      let list = into.get(secName);
      if (!list) into.set(secName, list = []);
      for (let i = 0; i < num; i++, p += recSize) list.push(record(list, p));
    }
    return recSize;
  };

  const funcInfos = new Map<string, FuncInfo[]>();
  const lineInfos = new Map<string, LineInfo[]>();
  const coreRelos = new Map<string, CoreRelo[]>();
  const funcSize = walk(field(8), field(12), 8, "func_info", (_l, at) => {
    const typeId = u32(at + 4);
    return { insnOffset: u32(at), typeId, func: type(typeId, at + 4) } satisfies FuncInfo;
  }, funcInfos as Map<string, unknown[]>);
  const lineSize = walk(field(16), field(20), 16, "line_info", (_l, at) => {
    const fileNameOffset = u32(at + 4);
    const lineOffset = u32(at + 8);
    const lc = u32(at + 12);
    return {
      insnOffset: u32(at),
      fileName: str(fileNameOffset, at + 4),
      line: str(lineOffset, at + 8),
      lineNumber: lc >>> 10,
      column: lc & 0x3ff,
      fileNameOffset,
      lineOffset,
    } satisfies LineInfo;
  }, lineInfos as Map<string, unknown[]>);
  const coreSize = walk(field(24), field(28), 16, "core_relo", (_l, at) => {
    const typeId = u32(at + 4);
    const kind = u32(at + 12);
    if (kind > CoreReloKind.TypeMatches) {
      throw new FormatError(`Unknown CO-RE relocation kind ${kind}`, at + 12);
    }
    const accessor = str(u32(at + 8), at + 8);
    if (!/^\d+(:\d+)*$/.test(accessor)) {
      throw new FormatError(`Invalid CO-RE access string "${accessor}"`, at + 8);
    }
    return {
      insnOffset: u32(at),
      typeId,
      type: type(typeId, at + 4),
      accessor,
      kind: kind as CoreReloKind,
    } satisfies CoreRelo;
  }, coreRelos as Map<string, unknown[]>);
  return {
    funcInfos,
    lineInfos,
    coreRelos,
    recordSizes: { funcInfo: funcSize, lineInfo: lineSize, coreRelo: coreSize },
  };
}
