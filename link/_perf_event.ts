/**
 * perf_event_open(2) for tracing links: the `struct perf_event_attr` builder, the PMU
 * lookups in sysfs, and a replaceable opener so tests can check the exact attr sent.
 *
 * @module
 */

import { ioctl, perfEventOpen, type PerfEventOpenArgs, readAccessError } from "../ffi.ts";
import { NotSupportedError } from "../errors.ts";

/** `PERF_TYPE_*` of `perf_event_attr.type` for the built-in PMUs. */
export const PerfType = {
  Hardware: 0,
  Software: 1,
  Tracepoint: 2,
  HwCache: 3,
  Raw: 4,
  Breakpoint: 5,
} as const;

/** `PERF_FLAG_FD_CLOEXEC`. */
export const PERF_FLAG_FD_CLOEXEC = 8n;

/** `sizeof(struct perf_event_attr)` as of PERF_ATTR_SIZE_VER7. */
export const PERF_ATTR_SIZE = 128;

/** The fields of `struct perf_event_attr` the library sets. */
export interface PerfAttrInit {
  type: number;
  config?: bigint;
  /** sample_period, or sample_freq with `freq`. */
  sample?: bigint;
  freq?: boolean;
  sampleType?: bigint;
  wakeupEvents?: number;
  /** config1: kprobe_func / uprobe_path address, or a raw config1. */
  config1?: bigint;
  /** config2: probe offset or address. */
  config2?: bigint;
  /** Start disabled (the bit `disabled`). */
  disabled?: boolean;
  /** Count events of child tasks (the bit `inherit`). */
  inherit?: boolean;
}

/** Encodes a `struct perf_event_attr` (little-endian host layout). */
export function perfEventAttr(init: PerfAttrInit): Uint8Array {
  const out = new Uint8Array(new ArrayBuffer(PERF_ATTR_SIZE));
  const v = new DataView(out.buffer);
  v.setUint32(0, init.type, true);
  v.setUint32(4, PERF_ATTR_SIZE, true);
  v.setBigUint64(8, init.config ?? 0n, true);
  v.setBigUint64(16, init.sample ?? 0n, true);
  v.setBigUint64(24, init.sampleType ?? 0n, true);
  let bits = 0n;
  if (init.disabled) bits |= 1n << 0n;
  if (init.inherit) bits |= 1n << 1n;
  if (init.freq) bits |= 1n << 10n;
  v.setBigUint64(40, bits, true);
  v.setUint32(48, init.wakeupEvents ?? 0, true);
  v.setBigUint64(56, init.config1 ?? 0n, true);
  v.setBigUint64(64, init.config2 ?? 0n, true);
  return out;
}

/** What opens perf events: perf_event_open(2), or a fake in tests. */
export type PerfOpener = (attr: Uint8Array, args: PerfEventOpenArgs) => number;

let opener: PerfOpener = perfEventOpen;

/**
 * Replaces the perf_event_open(2) the link package calls and returns a function that
 * restores the previous one. For tests that check the attrs sent without a kernel.
 */
export function setPerfOpener(next: PerfOpener): () => void {
  const previous = opener;
  opener = next;
  return () => {
    opener = previous;
  };
}

/** Opens a perf event through the current opener, with close-on-exec. */
export function openPerfEvent(attr: Uint8Array, args: PerfEventOpenArgs): number {
  return opener(attr, { ...args, flags: (args.flags ?? 0n) | PERF_FLAG_FD_CLOEXEC });
}

/** What reads sysfs and tracefs files: `Deno.readTextFileSync`, or a fake in tests. */
export type FileReader = (path: string) => string;

let reader: FileReader = Deno.readTextFileSync;

/** Replaces the file reader used for PMU and tracefs lookups; returns the restorer. */
export function setFileReader(next: FileReader): () => void {
  const previous = reader;
  reader = next;
  return () => {
    reader = previous;
  };
}

/** Reads a small text file, or undefined when it does not exist. */
export function readOptional(path: string): string | undefined {
  try {
    return reader(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw readAccessError(path, e);
  }
}

/** A dynamic PMU ("kprobe", "uprobe") from `/sys/bus/event_source/devices/<name>`. */
export interface Pmu {
  /** Its `perf_event_attr.type`. */
  type: number;
  /** The config bit that makes a return probe. */
  retprobeBit: number;
}

/** The PMU named `name`, or undefined when the kernel has none. */
export function dynamicPmu(name: string): Pmu | undefined {
  const base = `/sys/bus/event_source/devices/${name}`;
  const type = readOptional(`${base}/type`);
  if (type === undefined) return undefined;
  const format = readOptional(`${base}/format/retprobe`) ?? "config:0";
  const bit = /^config:(\d+)/.exec(format.trim());
  return { type: Number(type.trim()), retprobeBit: bit ? Number(bit[1]) : 0 };
}

/** Throws NotSupportedError for `feature` when neither a PMU nor tracefs can make it. */
export function noProbeSupport(feature: string, detail: string): never {
  throw new NotSupportedError(feature, undefined, detail);
}

/** What runs ioctl(2) on perf event fds; replaceable in tests. */
export type PerfIoctl = (fd: number, request: bigint, arg: bigint) => number;

let perfIoctlImpl: PerfIoctl = ioctl;

/** Replaces the ioctl used on perf event fds; returns the restorer. */
export function setPerfIoctl(next: PerfIoctl): () => void {
  const previous = perfIoctlImpl;
  perfIoctlImpl = next;
  return () => {
    perfIoctlImpl = previous;
  };
}

/** ioctl(2) on a perf event fd through the current implementation. */
export function perfIoctl(fd: number, request: bigint, arg = 0n): number {
  return perfIoctlImpl(fd, request, arg);
}

/** `PERF_EVENT_IOC_*` requests. */
export const PerfIoc = {
  Enable: 0x2400n,
  Disable: 0x2401n,
  /** `_IOW('$', 8, __u32)`. */
  SetBpf: 0x40042408n,
} as const;
