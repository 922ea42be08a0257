/**
 * Typed logs, the aya-log idea for C: a BPF program includes `include/ebpf_log.h` (shipped
 * with this package; `bpf2ts` adds it to clang's include path and `bpf2ts --log-header DIR`
 * writes a copy) and logs `level, format, args` into a ring buffer. Records carry only a
 * call-site id, a timestamp, the CPU and the raw argument values; the format strings and the
 * argument types stay in the object (the `.ebpf_log` section and its BTF), where
 * {@linkcode parseLogFormats} finds them and {@linkcode LogReader} formats records with them.
 *
 * @example
 * ```ts ignore
 * import { formatLogRecord, LogReader, parseLogFormats } from "@ebpf/ebpf/log";
 *
 * const object = await Deno.readFile("prog.o");
 * using coll = newCollection(parseCollectionSpec(object));
 * using logs = new LogReader(coll.maps.ebpf_logs, parseLogFormats(object));
 * for await (const record of logs) console.log(formatLogRecord(record));
 * ```
 *
 * @module
 */

export {
  LOG_HEADER_SIZE,
  LOG_LEVEL_NAMES,
  LOG_SECTION,
  type LogArg,
  type LogArgKind,
  type LogFormat,
  type LogFormatPiece,
  LogFormats,
  LogLevel,
  parseLogFormats,
} from "./log_spec.ts";
export {
  decodeLogRecord,
  formatLogMessage,
  formatLogRecord,
  ipv6Text,
  type LogRecord,
  type LogValue,
} from "./log_message.ts";
export { LogReader } from "./log_reader.ts";
