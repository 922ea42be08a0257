/**
 * `prog list`, `prog show ID`, `prog dump xlated ID`: the programs loaded in the kernel, as
 * `bpftool prog` shows them (JSON with bpftool's field names).
 *
 * @module
 */

import { loadedPrograms, Program, type ProgramInfo } from "../../prog/mod.ts";
import { BtfHandle } from "../../btf/handle.ts";
import { kallsymsAddress, kallsymsNames } from "../../prog/_kallsyms.ts";
import {
  formatTime,
  type Options,
  type Output,
  parseId,
  UsageError,
  wallClockSeconds,
} from "./command.ts";
import { funcSignature } from "./func_signature.ts";
import { progTypeName } from "./names.ts";
import { fields, table } from "./output.ts";
import {
  type CallNames,
  formatXlatedLines,
  type FunctionStart,
  type SourceLine,
  xlatedLines,
} from "./xlated.ts";

/** One program as `bpftool -j prog show` prints it. */
export interface ProgRecord {
  id: number;
  type: string | number;
  name: string;
  tag: string;
  gpl_compatible: boolean;
  run_time_ns?: bigint;
  run_cnt?: bigint;
  recursion_misses?: bigint;
  loaded_at: number;
  uid: number;
  bytes_xlated: number;
  jited: boolean;
  bytes_jited?: number;
  bytes_memlock?: number;
  map_ids: number[];
  btf_id?: number;
  verified_insns: number;
}

/** The record of a program from what the kernel reports. */
export function progRecord(info: ProgramInfo): ProgRecord {
  const r: ProgRecord = {
    id: info.id,
    type: progTypeName(info.type),
    name: info.name,
    tag: info.tag,
    gpl_compatible: info.gplCompatible,
    loaded_at: wallClockSeconds(info.loadTime),
    uid: info.createdByUid,
    bytes_xlated: info.xlatedSize,
    jited: info.jitedSize > 0,
    map_ids: info.mapIds,
    verified_insns: info.verifiedInstructions,
  };
  // Fields bpftool prints only when they hold something, in its order.
  if (info.runTimeNs !== 0n) {
    r.run_time_ns = info.runTimeNs;
    r.run_cnt = info.runCount;
  }
  if (info.recursionMisses !== 0n) r.recursion_misses = info.recursionMisses;
  if (info.jitedSize > 0) r.bytes_jited = info.jitedSize;
  if (info.memlock !== undefined) r.bytes_memlock = info.memlock;
  if (info.btfId !== 0) r.btf_id = info.btfId;
  return r;
}

const HEADER = ["ID", "TYPE", "NAME", "TAG", "LOADED", "XLATED", "JITED", "MEMLOCK", "MAPS", "BTF"];

function row(r: ProgRecord) {
  return [
    r.id,
    r.type,
    r.name,
    r.tag,
    formatTime(r.loaded_at),
    r.bytes_xlated,
    r.bytes_jited,
    r.bytes_memlock,
    r.map_ids.join(",") || undefined,
    r.btf_id,
  ];
}

/** `prog list`. */
export function progList(): Output {
  const records: ProgRecord[] = [];
  for (using prog of loadedPrograms()) records.push(progRecord(prog.info()));
  return { json: records, text: () => table(HEADER, records.map(row)) };
}

/** A JIT-compiled function of a program: its kernel symbol, address and size. */
export interface JitedFunction {
  name: string | undefined;
  addr: bigint;
  bytes: number;
}

/** The program's JIT-compiled functions, main program first, named through /proc/kallsyms. */
function jitedFunctions(info: ProgramInfo): JitedFunction[] {
  const symbol = kallsymsNames();
  return info.jitedKsyms.map((addr, i) => ({
    name: addr === 0n ? undefined : symbol(addr),
    addr,
    bytes: info.jitedFuncLengths[i] ?? 0,
  }));
}

/** `prog show ID`: the record, with its JIT-compiled functions. */
export function progShow(id: number): Output {
  using prog = Program.fromId(id);
  const info = prog.info();
  const r = { ...progRecord(info), functions: jitedFunctions(info) };
  return {
    json: r,
    text: () =>
      fields([
        ["id", r.id],
        ["type", r.type],
        ["name", r.name],
        ["tag", r.tag],
        ["gpl compatible", r.gpl_compatible],
        ["loaded at", formatTime(r.loaded_at)],
        ["uid", r.uid],
        ["xlated bytes", r.bytes_xlated],
        ["jited bytes", r.bytes_jited],
        ["memlock bytes", r.bytes_memlock],
        ["verified insns", r.verified_insns],
        ["map ids", r.map_ids.join(", ") || undefined],
        ["btf id", r.btf_id],
        ...r.functions.map((f, i) =>
          [
            i === 0 ? "functions" : "",
            `${f.name ?? `0x${f.addr.toString(16)}`} (${f.bytes} B)`,
          ] as [
            string,
            string,
          ]
        ),
        ...(r.run_cnt !== undefined
          ? [["runs", r.run_cnt], ["run time ns", r.run_time_ns]] as [string, bigint][]
          : []),
      ]),
  };
}

/** How calls are named: /proc/kallsyms, read only if a call needs it. */
function callNames(info: ProgramInfo): CallNames {
  return {
    jitedKsyms: info.jitedKsyms,
    symbol: kallsymsNames(),
    get callBase() {
      return kallsymsAddress("__bpf_call_base") ?? 0n;
    },
  };
}

/** `prog dump xlated ID`: the translated instructions with the source lines above them. */
export function progDumpXlated(args: string[], options: Options): Output {
  if (args[0] !== "xlated") throw new UsageError("Only 'prog dump xlated ID' is supported");
  const id = parseId(args.slice(1), "program");
  using prog = Program.fromId(id);
  const info = prog.info();
  if (info.xlatedSize === 0) {
    throw new Error(
      `The kernel hides program ${id}'s instructions (kernel.kptr_restrict or no CAP_SYS_ADMIN)`,
    );
  }
  let funcs: FunctionStart[] = [];
  let lines: SourceLine[] = [];
  if (info.btfId !== 0 && (info.funcInfo.length > 0 || info.lineInfo.length > 0)) {
    using btf = BtfHandle.fromId(info.btfId);
    const spec = btf.spec();
    funcs = info.funcInfo.map((f) => ({
      insnOff: f.insnOffset,
      proto: funcSignature(spec, f.typeId),
    }));
    lines = info.lineInfo.map((l) => ({
      insnOff: l.insnOffset,
      line: spec.string(l.lineOffset),
      file: spec.string(l.fileNameOffset),
      lineNumber: l.line,
      column: l.column,
    }));
  }
  const records = xlatedLines(info.xlated, funcs, lines, callNames(info));
  return {
    json: records.map(({ index: _, ...r }) => r),
    text: () => formatXlatedLines(records, options.linum),
  };
}

/** Runs `prog VERB …`. */
export function prog(verb: string | undefined, args: string[], options: Options): Output {
  switch (verb) {
    case undefined:
    case "list":
      return progList();
    case "show":
      return args.length === 0 ? progList() : progShow(parseId(args, "program"));
    case "dump":
      return progDumpXlated(args, options);
  }
  throw new UsageError(`Unknown command: 'prog ${verb}'`);
}
