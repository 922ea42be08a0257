/**
 * Tracepoints: a `BPF_PROG_TYPE_TRACEPOINT` program on a tracefs event, through
 * perf_event_open(2) of the event's id.
 *
 * @module
 */

import { PerfEventKind } from "./_link_info.ts";
import { FD } from "../_internal/fd.ts";
import type { Program } from "../prog/program.ts";
import { ProgramType, programTypeName } from "../prog/program_type.ts";
import { openPerfEvent, perfEventAttr, PerfType } from "./_perf_event.ts";
import { eventId } from "./_tracefs.ts";
import {
  attachToPerfEvent,
  type PerfEventAttachOptions,
  type PerfEventIoctlLink,
  type PerfEventLink,
} from "./perf_event.ts";

/** Options of {@linkcode attachTracepoint}. */
export type TracepointOptions = PerfEventAttachOptions;

/**
 * Attaches a tracepoint program to `group/name` (a directory under tracefs `events/`, such
 * as `syscalls/sys_enter_getpid`). Needs `--allow-read` for tracefs.
 *
 * @example
 * ```ts ignore
 * using l = attachTracepoint(prog, "syscalls", "sys_enter_getpid");
 * ```
 */
export function attachTracepoint(
  program: Program,
  group: string,
  name: string,
  options: TracepointOptions = {},
): PerfEventLink | PerfEventIoctlLink {
  if (program.type !== ProgramType.TracePoint) {
    throw new TypeError(
      `Cannot attach ${programTypeName(program.type)} to tracepoint "${group}/${name}": ` +
        "use a tracepoint program",
    );
  }
  const id = eventId(group, name);
  const attr = perfEventAttr({
    type: PerfType.Tracepoint,
    config: BigInt(id),
    sample: 1n,
    wakeupEvents: 1,
  });
  const fd = new FD(openPerfEvent(attr, { pid: -1, cpu: 0 }), "perf event");
  return attachToPerfEvent(program, fd, options, undefined, {
    perfEventType: PerfEventKind.Tracepoint,
    name,
    offset: 0n,
    address: 0n,
    missed: 0n,
    refCtrOffset: 0n,
    eventType: 0,
  });
}
