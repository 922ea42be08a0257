/**
 * kprobes and kretprobes: a `BPF_PROG_TYPE_KPROBE` program on a kernel function, through the
 * `kprobe` PMU (perf_event_open with the symbol in config1), or the legacy tracefs
 * `kprobe_events` file when there is no PMU. Kernels built without kprobes give
 * NotSupportedError.
 *
 * @module
 */

import { PerfEventKind } from "./_link_info.ts";
import { cString, currentBackend } from "../ffi.ts";
import { FD } from "../_internal/fd.ts";
import { Errno, NotSupportedError, SyscallError } from "../errors.ts";
import type { Program } from "../prog/program.ts";
import { ProgramType, programTypeName } from "../prog/program_type.ts";
import { keepAlive } from "./_link_create.ts";
import { dynamicPmu, openPerfEvent, perfEventAttr, PerfType } from "./_perf_event.ts";
import { checkEventName, createProbeEvent } from "./_tracefs.ts";
import {
  attachToPerfEvent,
  type PerfEventAttachOptions,
  type PerfEventIoctlLink,
  type PerfEventLink,
} from "./perf_event.ts";

/** Options of {@linkcode attachKprobe}. */
export interface KprobeOptions extends PerfEventAttachOptions {
  /** Bytes into the function to probe (kprobes only). */
  offset?: bigint;
}

/** The prefix of syscall entry points on this architecture (`__x64_` on x86-64). */
export function syscallPrefix(arch: string = Deno.build.arch): string | undefined {
  if (arch === "x86_64") return "__x64_";
  if (arch === "aarch64") return "__arm64_";
  return undefined;
}

/**
 * The names to try for `symbol`: a `sys_*` name is tried with the architecture's syscall
 * prefix first (the real entry point since 4.17), then as given.
 */
export function kprobeCandidates(symbol: string): string[] {
  const prefix = syscallPrefix();
  if (symbol.startsWith("sys_") && prefix !== undefined) return [prefix + symbol, symbol];
  return [symbol];
}

function kprobe(
  program: Program,
  symbol: string,
  ret: boolean,
  options: KprobeOptions,
): PerfEventLink | PerfEventIoctlLink {
  const what = ret ? "kretprobe" : "kprobe";
  if (program.type !== ProgramType.Kprobe) {
    throw new TypeError(
      `Cannot attach ${programTypeName(program.type)} as a ${what}: use a kprobe program`,
    );
  }
  if (symbol === "") throw new TypeError(`A ${what} needs a symbol`);
  if (ret && options.offset) throw new TypeError("A kretprobe takes no offset");
  const offset = options.offset ?? 0n;
  const pmu = dynamicPmu("kprobe");
  let lastError: unknown;
  for (const name of kprobeCandidates(symbol)) {
    let fd: number;
    let cleanup: (() => void) | undefined;
    try {
      if (pmu) {
        const funcBuf = cString(name);
        const attr = perfEventAttr({
          type: pmu.type,
          config: ret ? 1n << BigInt(pmu.retprobeBit) : 0n,
          sample: 1n,
          wakeupEvents: 1,
          config1: currentBackend().address(funcBuf),
          config2: offset,
        });
        fd = openPerfEvent(attr, { pid: -1, cpu: 0 });
        keepAlive(funcBuf);
      } else {
        checkEventName("kernel symbol", name);
        const probe = createProbeEvent(
          "kprobe_events",
          ret ? "r" : "p",
          offset ? `${name}+${offset}` : name,
          what,
        );
        cleanup = probe.remove;
        const attr = perfEventAttr({
          type: PerfType.Tracepoint,
          config: BigInt(probe.id),
          sample: 1n,
          wakeupEvents: 1,
        });
        try {
          fd = openPerfEvent(attr, { pid: -1, cpu: 0 });
        } catch (e) {
          probe.remove();
          throw e;
        }
      }
    } catch (e) {
      // ENOENT/EINVAL: no such symbol under this name; try the next candidate.
      if (e instanceof SyscallError && (e.errno === Errno.ENOENT || e.errno === Errno.EINVAL)) {
        lastError = e;
        continue;
      }
      if (e instanceof NotSupportedError) throw e;
      throw e;
    }
    return attachToPerfEvent(program, new FD(fd, "perf event"), options, cleanup, {
      perfEventType: ret ? PerfEventKind.Kretprobe : PerfEventKind.Kprobe,
      name,
      offset,
      address: 0n,
      missed: 0n,
      refCtrOffset: 0n,
      eventType: 0,
    });
  }
  throw new Deno.errors.NotFound(`Cannot ${what} "${symbol}": no such kernel symbol`, {
    cause: lastError,
  });
}

/**
 * Runs a kprobe program when the kernel enters `symbol`. A `sys_*` name is resolved with
 * the syscall prefix of the architecture. Throws NotSupportedError on kernels without
 * kprobes.
 *
 * @example
 * ```ts ignore
 * using l = attachKprobe(prog, "sys_getpid", { cookie: 42n });
 * ```
 */
export function attachKprobe(
  program: Program,
  symbol: string,
  options: KprobeOptions = {},
): PerfEventLink | PerfEventIoctlLink {
  return kprobe(program, symbol, false, options);
}

/** Runs a kprobe program when the kernel returns from `symbol`. */
export function attachKretprobe(
  program: Program,
  symbol: string,
  options: PerfEventAttachOptions = {},
): PerfEventLink | PerfEventIoctlLink {
  return kprobe(program, symbol, true, options);
}
