/**
 * The typed-log call sites of an object (`include/ebpf_log.h`): each one's id, level, line,
 * C function, format string and argument kinds, read from the `.ebpf_log` section and the
 * BTF of its descriptors. Pure: no syscalls, no permissions.
 *
 * @module
 */

import { ElfFile, SectionType } from "../elf/elf_file.ts";
import {
  Array as BtfArray,
  Datasec,
  Enum,
  Int,
  IntEncoding,
  parseSpec,
  Pointer,
  sizeof,
  Struct,
  type Type,
  underlyingType,
  Var,
} from "../btf/mod.ts";
import { FormatError } from "../errors.ts";

/** The section the header puts call-site descriptors in; never loaded into the kernel. */
export const LOG_SECTION = ".ebpf_log";

/** Bytes of `struct ebpf_log_header` at the start of every record: ts_ns, id, cpu. */
export const LOG_HEADER_SIZE = 16;

/** The levels of `ebpf_log.h`, most severe first (aya-log's and the `log` crate's). */
export const LogLevel = { Error: 1, Warn: 2, Info: 3, Debug: 4, Trace: 5 } as const;

/** One of {@linkcode LogLevel}'s values. */
export type LogLevel = typeof LogLevel[keyof typeof LogLevel];

/** The name of each level, as {@linkcode formatLogRecord} prints it. */
export const LOG_LEVEL_NAMES: Readonly<Record<number, string>> = {
  1: "ERROR",
  2: "WARN",
  3: "INFO",
  4: "DEBUG",
  5: "TRACE",
};

/** How an argument is stored and printed, from its BTF type. */
export type LogArgKind = "int" | "bool" | "enum" | "pointer" | "str" | "ipv4" | "ipv6" | "mac";

/** One argument of a call site: where its value sits in a record, and its type. */
export interface LogArg {
  /** How the value is stored and printed. */
  readonly kind: LogArgKind;
  /** Offset in the record, header included. */
  readonly offset: number;
  /** Bytes of the value (of the string's characters for `str`). */
  readonly size: number;
  /** For `int` and `enum`: whether the value is signed. */
  readonly signed: boolean;
  /** The argument's C type, as BTF has it. */
  readonly type: Type;
}

/** A piece of a parsed format string: literal text, or the argument at an index. */
export type LogFormatPiece = string | { readonly arg: number; readonly hex?: "x" | "X" };

/** One call site: what a record with its id means. */
export interface LogFormat {
  /** The id records of this call site carry. */
  readonly id: number;
  /** The level the call logs at. */
  readonly level: LogLevel;
  /** The C function the call is written in (a program's name, or a function it calls). */
  readonly function: string;
  /** The line `__LINE__` gave: where the call ends, for a call over several lines. */
  readonly line: number;
  /** The format string as written. */
  readonly format: string;
  /** The format string split into literal text and placeholders. */
  readonly pieces: readonly LogFormatPiece[];
  /** The arguments, in the call's order. */
  readonly args: readonly LogArg[];
  /** Bytes a record of this call site has: the header and the arguments. */
  readonly recordSize: number;
}

/** The call sites of one object, by id. */
export class LogFormats {
  readonly #byId: Map<number, LogFormat>;

  /** Makes a table of `formats` (ids must be unique). */
  constructor(formats: Iterable<LogFormat> = []) {
    this.#byId = new Map();
    for (const f of formats) {
      if (this.#byId.has(f.id)) {
        throw new TypeError(`Two typed-log call sites have id ${f.id}`);
      }
      this.#byId.set(f.id, f);
    }
  }

  /** The call site with `id`, if the object has one. */
  get(id: number): LogFormat | undefined {
    return this.#byId.get(id);
  }

  /** How many call sites there are. */
  get size(): number {
    return this.#byId.size;
  }

  /** The call sites in id order. */
  [Symbol.iterator](): IterableIterator<LogFormat> {
    return [...this.#byId.values()].sort((a, b) => a.id - b.id)[Symbol.iterator]();
  }
}

/**
 * Reads the typed-log call sites of a BPF object (its ELF bytes). An object without an
 * `.ebpf_log` section has none. Throws {@linkcode FormatError} for a section that is not
 * what `ebpf_log.h` writes (no BTF, a descriptor out of bounds, a format string whose
 * placeholders do not match its arguments, an argument of a type it cannot print).
 */
export function parseLogFormats(object: Uint8Array): LogFormats {
  const elf = new ElfFile(object);
  const section = elf.section(LOG_SECTION);
  if (section === undefined) return new LogFormats();
  if (section.type === SectionType.NoBits) {
    throw new FormatError(`ELF: section "${LOG_SECTION}" has no bytes in the file`, 0);
  }
  const btfSection = elf.section(".BTF");
  if (btfSection === undefined || btfSection.type === SectionType.NoBits) {
    throw new FormatError(
      `ELF: section "${LOG_SECTION}" needs the object's BTF (build with clang -g)`,
      section.offset,
    );
  }
  const data = elf.data(section);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const little = elf.byteOrder === "little";
  const spec = parseSpec(new Uint8Array(elf.data(btfSection)));
  const datasec = spec.typeByName(LOG_SECTION, Datasec);
  if (datasec === undefined) {
    throw new FormatError(`BTF: no DATASEC "${LOG_SECTION}"`, btfSection.offset);
  }
  const formats: LogFormat[] = [];
  for (const vs of datasec.vars) {
    const v = vs.type;
    const desc = v instanceof Var ? underlyingType(v.type) : undefined;
    if (!(v instanceof Var) || !(desc instanceof Struct)) {
      throw new FormatError(`BTF: "${LOG_SECTION}" holds something but descriptors`, 0);
    }
    const at = section.offset + vs.offset;
    if (vs.offset < 0 || vs.offset + desc.size > data.length) {
      throw new FormatError(`ELF: descriptor "${v.name}" is out of its section`, at);
    }
    try {
      formats.push(descriptor(v.name, desc, view, vs.offset, little, at));
    } catch (e) {
      // The BTF helpers' RangeErrors (a type without a size, a cycle) say the same: corrupt.
      if (e instanceof FormatError || !(e instanceof RangeError)) throw e;
      throw new FormatError(`BTF: descriptor "${v.name}": ${e.message}`, at, { cause: e });
    }
  }
  try {
    return new LogFormats(formats);
  } catch (e) {
    throw new FormatError((e as Error).message, section.offset, { cause: e });
  }
}

/** One descriptor: `{ __u32 id, level, line; struct __ebpf_log_args args; char fmt[]; }`. */
function descriptor(
  name: string,
  desc: Struct,
  view: DataView,
  base: number,
  little: boolean,
  at: number,
): LogFormat {
  const member = (m: string) => {
    const found = desc.members.find((x) => x.name === m);
    if (found === undefined || found.offset % 8 !== 0) {
      throw new FormatError(`BTF: descriptor "${name}" has no member "${m}"`, at);
    }
    const type = underlyingType(found.type);
    const offset = found.offset / 8;
    if (offset + sizeof(type) > desc.size) {
      throw new FormatError(`BTF: member "${m}" of descriptor "${name}" is out of it`, at);
    }
    return { type, offset };
  };
  const u32 = (m: string) => view.getUint32(base + member(m).offset, little);
  const id = u32("id");
  const level = u32("level");
  if (!(level in LOG_LEVEL_NAMES)) {
    throw new FormatError(`Descriptor "${name}" has level ${level}, not 1 to 5`, at);
  }
  const fmt = member("fmt");
  if (!(fmt.type instanceof BtfArray)) {
    throw new FormatError(`BTF: "fmt" of descriptor "${name}" is not an array`, at);
  }
  const bytes = new Uint8Array(view.buffer, view.byteOffset + base + fmt.offset, fmt.type.nelems);
  const end = bytes.indexOf(0);
  const format = new TextDecoder().decode(end < 0 ? bytes : bytes.subarray(0, end));
  const argsType = member("args").type;
  if (!(argsType instanceof Struct)) {
    throw new FormatError(`BTF: "args" of descriptor "${name}" is not a struct`, at);
  }
  const args = argsType.members.map((m, i) => argument(name, i, m.type, m.offset, at));
  for (const [i, a] of args.entries()) {
    const end = a.offset + (a.kind === "str" ? 4 : 0) + a.size;
    if (end > LOG_HEADER_SIZE + argsType.size) {
      throw new FormatError(`BTF: argument ${i + 1} of "${name}" is out of its record`, at);
    }
  }
  const pieces = parseTemplate(format, args, name, at);
  const dot = name.indexOf(".");
  return {
    id,
    level: level as LogLevel,
    function: dot < 0 ? name : name.slice(0, dot),
    line: u32("line"),
    format,
    pieces,
    args,
    recordSize: LOG_HEADER_SIZE + argsType.size,
  };
}

/** The structs `ebpf_log.h` stores non-integer kinds in. */
const SLOT_KINDS: Record<string, LogArgKind> = {
  ebpf_log_str: "str",
  ebpf_log_ipv4: "ipv4",
  ebpf_log_ipv6: "ipv6",
  ebpf_log_mac: "mac",
};

function argument(desc: string, i: number, type: Type, bitOffset: number, at: number): LogArg {
  const t = underlyingType(type);
  const offset = LOG_HEADER_SIZE + bitOffset / 8;
  if (t instanceof Int && t.bits === t.size * 8 && [1, 2, 4, 8].includes(t.size)) {
    const bool = (t.encoding & IntEncoding.Bool) !== 0;
    return { kind: bool ? "bool" : "int", offset, size: t.size, signed: t.signed, type };
  }
  if (t instanceof Enum) return { kind: "enum", offset, size: t.size, signed: t.signed, type };
  if (t instanceof Pointer) return { kind: "pointer", offset, size: 8, signed: false, type };
  const kind = t instanceof Struct ? SLOT_KINDS[t.name] : undefined;
  if (kind === "str") {
    const s = (t as Struct).members.find((m) => m.name === "s");
    const chars = s ? underlyingType(s.type) : undefined;
    if (!(chars instanceof BtfArray) || s!.offset !== 32) {
      throw new FormatError(`BTF: struct ebpf_log_str of "${desc}" is not the header's`, at);
    }
    return { kind, offset, size: chars.nelems, signed: false, type };
  }
  if (kind !== undefined) return { kind, offset, size: sizeof(t), signed: false, type };
  throw new FormatError(
    `Argument ${i + 1} of "${desc}" is a ${t.kind} '${t.name}', which typed logs cannot print`,
    at,
  );
}

/** Splits `{}`, `{:x}`, `{:X}`, `{{` and `}}`; placeholders must match the arguments. */
function parseTemplate(
  format: string,
  args: readonly LogArg[],
  desc: string,
  at: number,
): LogFormatPiece[] {
  const pieces: LogFormatPiece[] = [];
  let text = "";
  let next = 0;
  const bad = (why: string) => new FormatError(`Format of "${desc}" (${format}): ${why}`, at);
  for (let i = 0; i < format.length; i++) {
    const c = format[i];
    if ((c === "{" || c === "}") && format[i + 1] === c) {
      text += c;
      i++;
      continue;
    }
    if (c === "}") throw bad(`unmatched '}' at ${i}`);
    if (c !== "{") {
      text += c;
      continue;
    }
    const close = format.indexOf("}", i);
    if (close < 0) throw bad(`unclosed '{' at ${i}`);
    const spec = format.slice(i + 1, close);
    if (spec !== "" && spec !== ":x" && spec !== ":X") throw bad(`unknown placeholder {${spec}}`);
    if (next >= args.length) throw bad(`more placeholders than the ${args.length} arguments`);
    if (spec !== "" && !["int", "enum", "pointer"].includes(args[next].kind)) {
      throw bad(`{${spec}} for a ${args[next].kind} argument`);
    }
    if (text !== "") pieces.push(text);
    text = "";
    pieces.push(spec === "" ? { arg: next } : { arg: next, hex: spec[1] as "x" | "X" });
    next++;
    i = close;
  }
  if (text !== "") pieces.push(text);
  if (next !== args.length) throw bad(`${next} placeholders for ${args.length} arguments`);
  return pieces;
}
