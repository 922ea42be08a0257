// The eager `.BTF.ext` parser this library used before `indexExtInfos` (decode everything,
// fail on the first bad field), kept as the reference the index is compared with.
import { FormatError } from "../../errors.ts";
import {
  type CoreRelo,
  CoreReloKind,
  type ExtInfos,
  type FuncInfo,
  type LineInfo,
  type Spec,
} from "../../btf/mod.ts";

const EXT_HEADER_MIN = 24;

/** The eager parser `btf/ext.ts` had before it indexed records: the reference. */
export function parseExtInfosReference(bytes: Uint8Array, spec: Spec): ExtInfos {
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
