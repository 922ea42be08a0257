/**
 * Typed-log records as values and text: the argument values a record carries, decoded by
 * the kinds of its call site, and the message its format string makes of them.
 *
 * @module
 */

import { HOST_BYTE_ORDER } from "../asm/mod.ts";
import { type Enum, underlyingType } from "../btf/mod.ts";
import {
  LOG_HEADER_SIZE,
  LOG_LEVEL_NAMES,
  type LogArg,
  type LogFormat,
  type LogFormats,
  type LogLevel,
} from "./log_spec.ts";

/**
 * An argument's value: `bigint` for integers, enums and pointers, `boolean` for `_Bool`,
 * `string` for strings, the bytes for IPv4, IPv6 and MAC addresses.
 */
export type LogValue = bigint | boolean | string | Uint8Array;

/** One record of a typed log, decoded. */
export interface LogRecord {
  /** The call site's level. */
  readonly level: LogLevel;
  /** `ERROR`, `WARN`, `INFO`, `DEBUG` or `TRACE`. */
  readonly levelName: string;
  /** The C function the call is in: the program's name when written in the program. */
  readonly function: string;
  /** `bpf_ktime_get_ns()` at the call: CLOCK_MONOTONIC, in nanoseconds. */
  readonly timestampNs: bigint;
  /** The CPU the program ran on. */
  readonly cpu: number;
  /** The call site, with its format string, line and argument kinds. */
  readonly format: LogFormat;
  /** The argument values, in the call's order. */
  readonly values: readonly LogValue[];
  /** The format string with the values in it. */
  readonly message: string;
}

const LITTLE = HOST_BYTE_ORDER === "little";
const utf8 = new TextDecoder();

/**
 * Decodes one ring record (`struct ebpf_log_header` and the arguments, in host byte order)
 * with the call sites of its object. A record too short for its call site, or of an id
 * the object does not have, is a RangeError.
 */
export function decodeLogRecord(formats: LogFormats, record: Uint8Array): LogRecord {
  if (record.length < LOG_HEADER_SIZE) {
    throw new RangeError(`Log record of ${record.length} bytes is shorter than its header`);
  }
  const view = new DataView(record.buffer, record.byteOffset, record.byteLength);
  const id = view.getUint32(8, LITTLE);
  const format = formats.get(id);
  if (format === undefined) throw new RangeError(`Log record of unknown call site ${id}`);
  if (record.length < format.recordSize) {
    throw new RangeError(
      `Log record of ${record.length} bytes for call site ${id} of ${format.recordSize}`,
    );
  }
  const values = format.args.map((a) => argValue(view, a));
  return {
    level: format.level,
    levelName: LOG_LEVEL_NAMES[format.level],
    function: format.function,
    timestampNs: view.getBigUint64(0, LITTLE),
    cpu: view.getUint32(12, LITTLE),
    format,
    values,
    message: formatLogMessage(format, values),
  };
}

function argValue(view: DataView, a: LogArg): LogValue {
  const at = a.offset;
  switch (a.kind) {
    case "int":
    case "enum":
    case "pointer":
      return intAt(view, at, a.size, a.signed);
    case "bool":
      return view.getUint8(at) !== 0;
    case "str": {
      const len = Math.min(view.getUint32(at, LITTLE), a.size);
      return utf8.decode(new Uint8Array(view.buffer, view.byteOffset + at + 4, len));
    }
    default:
      return new Uint8Array(view.buffer, view.byteOffset + at, a.size).slice();
  }
}

function intAt(view: DataView, at: number, size: number, signed: boolean): bigint {
  switch (size) {
    case 1:
      return BigInt(signed ? view.getInt8(at) : view.getUint8(at));
    case 2:
      return BigInt(signed ? view.getInt16(at, LITTLE) : view.getUint16(at, LITTLE));
    case 4:
      return BigInt(signed ? view.getInt32(at, LITTLE) : view.getUint32(at, LITTLE));
    default:
      return signed ? view.getBigInt64(at, LITTLE) : view.getBigUint64(at, LITTLE);
  }
}

/** The text of `format` with `values` in its placeholders. */
export function formatLogMessage(format: LogFormat, values: readonly LogValue[]): string {
  let out = "";
  for (const p of format.pieces) {
    if (typeof p === "string") {
      out += p;
      continue;
    }
    const a = format.args[p.arg];
    const v = values[p.arg];
    if (p.hex !== undefined && typeof v === "bigint") {
      const hex = BigInt.asUintN(a.size * 8, v).toString(16);
      out += p.hex === "X" ? hex.toUpperCase() : hex;
    } else {
      out += valueText(a, v);
    }
  }
  return out;
}

function valueText(a: LogArg, v: LogValue): string {
  switch (a.kind) {
    case "enum": {
      const e = underlyingType(a.type) as Enum;
      return e.values.find((x) => x.value === v)?.name ?? String(v);
    }
    case "pointer":
      return `0x${(v as bigint).toString(16).padStart(16, "0")}`;
    case "ipv4":
      return [...(v as Uint8Array)].join(".");
    case "ipv6":
      return ipv6Text(v as Uint8Array);
    case "mac":
      return [...(v as Uint8Array)].map((b) => b.toString(16).padStart(2, "0")).join(":");
    default:
      return String(v);
  }
}

/**
 * RFC 5952 text: lowercase hex groups without leading zeros, the longest run of two or more
 * zero groups (the first of equal runs) as `::`.
 */
export function ipv6Text(bytes: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i] << 8) | bytes[i + 1]);
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  const hex = (g: number[]) => g.map((x) => x.toString(16)).join(":");
  if (best < 0) return hex(groups);
  return `${hex(groups.slice(0, best))}::${hex(groups.slice(best + bestLen))}`;
}

/**
 * One line for a record: the monotonic time in seconds (six decimals, as trace_pipe prints
 * it), the level, the function and the message: `1234.567890 INFO handle: text`.
 */
export function formatLogRecord(record: LogRecord): string {
  const us = record.timestampNs / 1000n;
  const time = `${us / 1000000n}.${String(us % 1000000n).padStart(6, "0")}`;
  return `${time} ${record.levelName} ${record.function}: ${record.message}`;
}
