/**
 * uprobes and uretprobes: a `BPF_PROG_TYPE_KPROBE` program on a function of an executable or
 * shared library, through the `uprobe` PMU (path in config1, file offset in config2), or
 * tracefs `uprobe_events` when there is no PMU.
 *
 * @module
 */

import { PerfEventKind } from "./_link_info.ts";
import { cString, currentBackend } from "../ffi.ts";
import { FD } from "../_internal/fd.ts";
import type { Program } from "../prog/program.ts";
import { ProgramType, programTypeName } from "../prog/program_type.ts";
import { keepAlive } from "./_link_create.ts";
import { dynamicPmu, openPerfEvent, perfEventAttr, PerfType } from "./_perf_event.ts";
import { createProbeEvent } from "./_tracefs.ts";
import { openTarget } from "./_uprobe_elf.ts";
import {
  attachToPerfEvent,
  type PerfEventAttachOptions,
  type PerfEventIoctlLink,
  type PerfEventLink,
} from "./perf_event.ts";

/** Options of {@linkcode attachUprobe}. */
export interface UprobeOptions extends PerfEventAttachOptions {
  /**
   * Virtual address of the probe in the target (as in its symbol table), used instead of
   * resolving the symbol; give `""` as the symbol then.
   */
  address?: bigint;
  /** Bytes added to the resolved location. */
  offset?: bigint;
  /** Only fire in this process (default: every process). */
  pid?: number;
  /** File offset of a USDT-style semaphore the kernel increments while attached. */
  refCtrOffset?: bigint;
}

/** Where a uprobe goes: the resolved file and the file offset of the probe. */
export interface UprobeTarget {
  /** The ELF file, resolved to a path. */
  path: string;
  /** The file offset of the probe. */
  offset: bigint;
}

/**
 * Resolves `symbol` (or `options.address`) in the ELF file `path` to the file offset a
 * uprobe takes. `path` may be a bare library name such as `"libc.so.6"`.
 */
export function resolveUprobe(
  path: string,
  symbol: string,
  options: UprobeOptions = {},
): UprobeTarget {
  const target = openTarget(path);
  let addr = options.address;
  if (addr === undefined) {
    if (symbol === "") throw new TypeError("A uprobe needs a symbol or an address");
    addr = target.elf.functionAddress(symbol);
    if (addr === undefined) {
      throw new Deno.errors.NotFound(`Symbol "${symbol}" is not a function in "${target.path}"`);
    }
  }
  const off = target.elf.fileOffset(addr);
  if (off === undefined) {
    throw new RangeError(`Address 0x${addr.toString(16)} is in no segment of "${target.path}"`);
  }
  return { path: target.path, offset: off + (options.offset ?? 0n) };
}

/** Opens the perf event of a uprobe at `target` and attaches `program` to it. */
export function attachUprobeAt(
  program: Program,
  target: UprobeTarget,
  ret: boolean,
  options: UprobeOptions,
): PerfEventLink | PerfEventIoctlLink {
  const what = ret ? "uretprobe" : "uprobe";
  if (program.type !== ProgramType.Kprobe) {
    throw new TypeError(
      `Cannot attach ${programTypeName(program.type)} as a ${what}: use a kprobe program`,
    );
  }
  const pid = options.pid ?? -1;
  const cpu = pid >= 0 ? -1 : 0;
  const described = {
    perfEventType: ret ? PerfEventKind.Uretprobe : PerfEventKind.Uprobe,
    name: target.path,
    offset: target.offset,
    address: 0n,
    missed: 0n,
    refCtrOffset: options.refCtrOffset ?? 0n,
    eventType: 0,
  };
  const refCtr = options.refCtrOffset ?? 0n;
  const pmu = dynamicPmu("uprobe");
  if (pmu) {
    const pathBuf = cString(target.path);
    const attr = perfEventAttr({
      type: pmu.type,
      config: (ret ? 1n << BigInt(pmu.retprobeBit) : 0n) | (refCtr << 32n),
      sample: 1n,
      wakeupEvents: 1,
      config1: currentBackend().address(pathBuf),
      config2: target.offset,
    });
    const fd = openPerfEvent(attr, { pid, cpu });
    keepAlive(pathBuf);
    return attachToPerfEvent(program, new FD(fd, "perf event"), options, undefined, described);
  }
  if (/\s/.test(target.path)) throw new TypeError(`Uprobe path has white space: "${target.path}"`);
  const ref = refCtr ? `(0x${refCtr.toString(16)})` : "";
  const probe = createProbeEvent(
    "uprobe_events",
    ret ? "r" : "p",
    `${target.path}:0x${target.offset.toString(16)}${ref}`,
    what,
  );
  let fd: number;
  try {
    fd = openPerfEvent(
      perfEventAttr({ type: PerfType.Tracepoint, config: BigInt(probe.id), sample: 1n }),
      { pid, cpu },
    );
  } catch (e) {
    probe.remove();
    throw e;
  }
  return attachToPerfEvent(
    program,
    new FD(fd, "perf event"),
    options,
    probe.remove,
    described,
  );
}

/**
 * Runs a kprobe program when a process enters function `symbol` of the ELF file `path`
 * (an executable, or a shared library such as `"libc.so.6"`).
 *
 * @example
 * ```ts ignore
 * using l = attachUprobe(prog, "libc.so.6", "getpid", { pid: Deno.pid });
 * ```
 */
export function attachUprobe(
  program: Program,
  path: string,
  symbol: string,
  options: UprobeOptions = {},
): PerfEventLink | PerfEventIoctlLink {
  return attachUprobeAt(program, resolveUprobe(path, symbol, options), false, options);
}

/** Runs a kprobe program when a process returns from function `symbol` of `path`. */
export function attachUretprobe(
  program: Program,
  path: string,
  symbol: string,
  options: UprobeOptions = {},
): PerfEventLink | PerfEventIoctlLink {
  return attachUprobeAt(program, resolveUprobe(path, symbol, options), true, options);
}
