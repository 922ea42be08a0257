/**
 * A loaded program's translated instructions decoded back to `asm.Instructions`, with what
 * `bpftool prog dump xlated linum` shows beside them: function names from func info, source
 * lines from line info (through the program's BTF), and the ids of the maps it loads.
 *
 * @module
 */

import {
  HOST_BYTE_ORDER,
  type Instruction,
  Instructions,
  LoadImm64Op,
  Pseudo,
} from "../asm/mod.ts";
import { BtfHandle } from "../btf/handle.ts";
import { Func, type Spec, type Type } from "../btf/mod.ts";
import { FormatError } from "../errors.ts";
import type { ProgramInfo } from "./program_info.ts";

/**
 * What a map load in translated code refers to. The kernel's dump of translated
 * instructions puts the map's id where the loader had put its fd (`BPF_PSEUDO_MAP_FD`) and,
 * for a load of a map value's address (`BPF_PSEUDO_MAP_VALUE`, globals), the offset into
 * the value in the upper half; this reads them back.
 */
export interface XlatedMapReference {
  /** The map's kernel id. */
  mapId: number;
  /** For a map value load, the offset into the value; undefined for a map pointer load. */
  valueOffset: number | undefined;
}

/**
 * The map a translated instruction loads, or undefined when it loads none: only a 64-bit
 * immediate load with a map pseudo source does.
 */
export function xlatedMapReference(
  ins: { opcode: number; src: number; imm: number; immHi: number },
): XlatedMapReference | undefined {
  if (ins.opcode !== LoadImm64Op) return undefined;
  if (ins.src === Pseudo.MapFD) return { mapId: ins.imm >>> 0, valueOffset: undefined };
  if (ins.src === Pseudo.MapValue) return { mapId: ins.imm >>> 0, valueOffset: ins.immHi >>> 0 };
  return undefined;
}

/**
 * Decodes a loaded program's translated instructions ({@linkcode ProgramInfo.xlated}, as
 * `bpftool prog dump xlated` does) into `asm.Instructions`:
 *
 * - the first instruction of each BPF function gets the function's name from its BTF
 *   `FUNC` type as `symbol` (from {@linkcode ProgramInfo.funcInfo});
 * - each instruction with a line info record gets `line`: the source text, file name, line
 *   and column (from {@linkcode ProgramInfo.lineInfo} and the BTF's strings);
 * - each map load gets `reference` `"id:N"` (so it prints as `map[id:N]`), and
 *   {@linkcode xlatedMapReference} gives the id and value offset as numbers.
 *
 * `types` is the program's BTF; by default it is read from the kernel
 * ({@linkcode ProgramInfo.btfId}). Without BTF, instructions come without names and lines.
 * Calls to helpers hold what the kernel put there (an offset to the helper's code), not
 * the helper's number. Record offsets or string offsets out of range are a
 * {@linkcode FormatError}.
 *
 * @example
 * ```ts ignore
 * const info = prog.info();
 * console.log(xlatedInstructions(info).toString()); // `; source line` above its instructions
 * ```
 */
export function xlatedInstructions(info: ProgramInfo, types?: Spec): Instructions {
  const insns = Instructions.unmarshal(info.xlated, HOST_BYTE_ORDER);
  if (types === undefined && info.btfId !== 0 && (info.funcInfo.length || info.lineInfo.length)) {
    using handle = BtfHandle.fromId(info.btfId);
    types = handle.spec();
  }
  // Instructions by their slot offset (a 64-bit load takes two slots).
  const bySlot = new Map<number, Instruction>();
  let slot = 0;
  for (const ins of insns.list) {
    bySlot.set(slot, ins);
    slot += ins.opcode === LoadImm64Op ? 2 : 1;
    const map = xlatedMapReference(ins);
    if (map !== undefined) ins.reference = `id:${map.mapId}`;
  }
  const at = (offset: number, what: string) => {
    const ins = bySlot.get(offset);
    if (ins === undefined) {
      throw new FormatError(
        `${what} names instruction ${offset}, which does not start one`,
        offset * 8,
      );
    }
    return ins;
  };
  if (types === undefined) return insns;
  const string = (offset: number, insnOffset: number) => {
    try {
      return types.string(offset);
    } catch (e) {
      throw new FormatError(
        `Line info of instruction ${insnOffset}: BTF string offset ${offset} is out of range`,
        insnOffset * 8,
        { cause: e },
      );
    }
  };
  for (const func of info.funcInfo) {
    let type: Type | undefined;
    try {
      type = types.typeById(func.typeId);
    } catch {
      type = undefined;
    }
    if (!(type instanceof Func)) {
      throw new FormatError(
        `Func info of instruction ${func.insnOffset} names BTF type ${func.typeId}, which is not a FUNC`,
        func.insnOffset * 8,
      );
    }
    at(func.insnOffset, `Func info of '${type.name}'`).symbol = type.name;
  }
  for (const line of info.lineInfo) {
    at(line.insnOffset, "Line info").line = {
      text: string(line.lineOffset, line.insnOffset),
      fileName: string(line.fileNameOffset, line.insnOffset),
      lineNumber: line.line,
      column: line.column,
    };
  }
  return insns;
}
