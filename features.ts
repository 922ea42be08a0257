/**
 * What the running kernel supports, asked the kernel itself (never its version string), in
 * the spirit of cilium/ebpf's `features` package: program types, the helpers each program
 * type may call, ISA versions, bounded loops, large programs, map types and flags, link
 * kinds, BPF cookies. Every probe runs once per process and is memoised, so asking again
 * costs no syscall. `have…` functions answer true or false; `require…` functions throw a
 * {@linkcode NotSupportedError} that names the feature and the first kernel that has it.
 * {@linkcode probeFeatures} asks everything at once, for a `feature probe` command, and
 * {@linkcode formatFeatures} / {@linkcode featuresJson} print it as `bpftool feature probe`
 * does (text, JSON).
 *
 * This module is a facade over the probe tables of each layer (`map/map_type_probe.ts`,
 * `prog/program_type_probe.ts`, `prog/_prog_features.ts`, `prog/_kconfig.ts` for BPF cookies,
 * `link/link_features.ts`). Every
 * probe needs `--allow-ffi` and CAP_BPF; without them it throws {@linkcode PermissionError}.
 *
 * @example
 * ```ts ignore
 * import { features, ProgramType } from "@ebpf/ebpf";
 * if (features.haveBoundedLoops() && features.haveProgramHelper(ProgramType.XDP, "bpf_loop")) {
 *   console.log("loops in XDP");
 * }
 * console.log(features.formatFeatures(features.probeFeatures()));
 * ```
 *
 * @module
 */

import type { NotSupportedError, PermissionError } from "./errors.ts";
import {
  haveMapFlag,
  haveMapType,
  MAP_FLAG_NAMES,
  type MapFlag,
  mapFlagMinKernel,
  perCpuElemFlags,
  requireMapFlag,
  requireMapType,
} from "./map/map_type_probe.ts";
import { MAP_TYPE_MIN_KERNEL, MapType, mapTypeName } from "./map/map_type.ts";
import {
  haveProgramHelper,
  haveProgramType,
  type HelperRef,
  helpersProbeable,
  PROGRAM_TYPE_MIN_KERNEL,
  programHelpers,
  requireProgramHelper,
  requireProgramType,
} from "./prog/program_type_probe.ts";
import { ProgramType, programTypeName } from "./prog/program_type.ts";
import { bpfCookie } from "./prog/_kconfig.ts";
import { boundedLoops, isaV2, isaV3, isaV4, largePrograms } from "./prog/_prog_features.ts";
import type { FeatureProbe } from "./_internal/feature.ts";
import {
  haveLinkFeature,
  LINK_FEATURES,
  type LinkFeature,
  requireLinkFeature,
} from "./link/link_features.ts";

export {
  haveMapFlag,
  haveMapType,
  haveProgramHelper,
  haveProgramType,
  type HelperRef,
  LINK_FEATURES,
  type LinkFeature,
  MAP_FLAG_NAMES,
  type MapFlag,
  requireMapFlag,
  requireMapType,
  requireProgramHelper,
  requireProgramType,
};

/** Whether the kernel has `BPF_JLT`, `BPF_JLE`, `BPF_JSLT`, `BPF_JSLE` (ISA v2, Linux 4.14). */
export function haveIsaV2(): boolean {
  return isaV2.supported();
}

/** Whether the kernel has 32-bit jumps, `BPF_JMP32` (ISA v3, Linux 5.1). */
export function haveIsaV3(): boolean {
  return isaV3.supported();
}

/**
 * Whether the kernel has sign-extending loads and moves, signed division, `bswap` and
 * `gotol` (ISA v4, Linux 6.6).
 */
export function haveIsaV4(): boolean {
  return isaV4.supported();
}

/** The newest BPF instruction set the kernel accepts: 1 to 4 (what clang's `-mcpu=vN` emits). */
export function isaVersion(): 1 | 2 | 3 | 4 {
  if (haveIsaV4()) return 4;
  if (haveIsaV3()) return 3;
  return haveIsaV2() ? 2 : 1;
}

/**
 * Throws {@linkcode NotSupportedError} naming ISA `version` and its first kernel when the
 * kernel cannot run programs built with clang's `-mcpu=v<version>`.
 */
export function requireIsaVersion(version: 1 | 2 | 3 | 4): void {
  if (version === 2) isaV2();
  else if (version === 3) isaV3();
  else if (version === 4) isaV4();
  else if (version !== 1) throw new RangeError(`Unknown BPF ISA version: ${version}`);
}

/** Whether the verifier accepts bounded loops (Linux 5.3). */
export function haveBoundedLoops(): boolean {
  return boundedLoops.supported();
}

/**
 * Whether programs may have more than 4096 instructions: privileged programs may have a
 * million since Linux 5.2.
 */
export function haveLargePrograms(): boolean {
  return largePrograms.supported();
}

/** Whether programs can read a BPF cookie set at attach time (`bpf_get_attach_cookie`, 5.15). */
export function haveBpfCookie(): boolean {
  return bpfCookie.supported();
}

/**
 * Whether per-CPU map element commands take `BPF_F_CPU` and `BPF_F_ALL_CPUS` (one CPU's
 * value, or one value for all CPUs; Linux 7.0).
 */
export function havePerCpuElemFlags(): boolean {
  return perCpuElemFlags.supported();
}

/** Throws {@linkcode NotSupportedError} when the verifier lacks bounded loops (before 5.3). */
export function requireBoundedLoops(): void {
  boundedLoops();
}

/** Throws {@linkcode NotSupportedError} when programs are limited to 4096 instructions. */
export function requireLargePrograms(): void {
  largePrograms();
}

/** Throws {@linkcode NotSupportedError} when the kernel lacks BPF cookies (before 5.15). */
export function requireBpfCookie(): void {
  bpfCookie();
}

/**
 * Whether the kernel has the link kind `kind` (`"cgroup"`, `"netns"`, `"perfEvent"`,
 * `"tcx"`, `"netkit"`, `"netfilter"`, `"structOps"`, `"sockmap"`, `"uprobeMulti"`,
 * `"kprobeMulti"`, `"kprobeSession"`).
 */
export function haveLinkKind(kind: LinkFeature): boolean {
  return haveLinkFeature(kind);
}

/** Throws {@linkcode NotSupportedError} naming the link kind and its first kernel when missing. */
export function requireLinkKind(kind: LinkFeature): void {
  requireLinkFeature(kind);
}

/** Whether `kprobe_multi` links attach one program to many kernel functions (5.18). */
export function haveKprobeMulti(): boolean {
  return haveLinkFeature("kprobeMulti");
}

/** Whether `uprobe_multi` links attach one program to many user-space offsets (6.6). */
export function haveUprobeMulti(): boolean {
  return haveLinkFeature("uprobeMulti");
}

/**
 * Whether struct_ops work here: struct_ops maps and programs (5.6). Links for them
 * (`BPF_F_LINK`) came in 6.4: ask `haveLinkKind("structOps")`.
 */
export function haveStructOps(): boolean {
  return haveMapType(MapType.StructOpsMap) && haveProgramType(ProgramType.StructOps);
}

/** Throws {@linkcode NotSupportedError} naming what struct_ops lack here, and its first kernel. */
export function requireStructOps(): void {
  requireMapType(MapType.StructOpsMap);
  requireProgramType(ProgramType.StructOps);
}

const MISC: readonly (readonly [string, string, FeatureProbe])[] = [
  ["have_large_insn_limit", "Large program size limit", largePrograms],
  ["have_bounded_loops", "Bounded loop support", boundedLoops],
  ["have_v2_isa_extension", "ISA extension v2", isaV2],
  ["have_v3_isa_extension", "ISA extension v3", isaV3],
  ["have_v4_isa_extension", "ISA extension v4", isaV4],
  ["have_bpf_cookie", "BPF cookie", bpfCookie],
  ["have_percpu_elem_flags", "Per-CPU element flags BPF_F_CPU and BPF_F_ALL_CPUS", perCpuElemFlags],
];

/** One program type in a {@linkcode FeatureReport}. */
export interface ProgramTypeFeature {
  /** The program type's number. */
  readonly type: ProgramType;
  /** bpftool's name, such as `"sched_cls"`. */
  readonly name: string;
  /** Whether the running kernel loads programs of this type. */
  readonly supported: boolean;
  /** The first kernel that has the type. */
  readonly minKernel: string;
  /**
   * The helpers programs of this type may call (`"bpf_map_lookup_elem"`, …), in number
   * order: empty when the type is missing, undefined when helpers were not probed or
   * cannot be (tracing, ext, lsm, struct_ops need an attach target).
   */
  readonly helpers: readonly string[] | undefined;
}

/** One map type in a {@linkcode FeatureReport}. */
export interface MapTypeFeature {
  /** The map type's number. */
  readonly type: MapType;
  /** bpftool's name, such as `"lru_hash"`. */
  readonly name: string;
  /** Whether the running kernel creates maps of this type. */
  readonly supported: boolean;
  /** The first kernel that has the type. */
  readonly minKernel: string;
}

/** Any other feature in a {@linkcode FeatureReport}. */
export interface NamedFeature {
  /** A key for tools: bpftool's (`"have_bounded_loops"`), a flag or a link kind. */
  readonly key: string;
  /** What people read, such as `"Bounded loop support"`. */
  readonly description: string;
  /** Whether the running kernel has it. */
  readonly supported: boolean;
  /** The first kernel that has it. */
  readonly minKernel: string;
}

/** Everything {@linkcode probeFeatures} found out. */
export interface FeatureReport {
  /** Every program type the library knows, in uapi order. */
  readonly programTypes: readonly ProgramTypeFeature[];
  /** Every map type the library knows, in uapi order. */
  readonly mapTypes: readonly MapTypeFeature[];
  /**
   * bpftool's "miscellaneous" section (large programs, bounded loops, ISA v2–v4), BPF
   * cookies and the per-CPU element flags.
   */
  readonly misc: readonly NamedFeature[];
  /** Map flags a kernel may lack (`BPF_F_MMAPABLE`, …), by their uapi names. */
  readonly mapFlags: readonly NamedFeature[];
  /** Link kinds a kernel may lack (`tcx`, `kprobeMulti`, …), as {@linkcode LinkFeature}s. */
  readonly linkKinds: readonly NamedFeature[];
}

/** What {@linkcode probeFeatures} asks. */
export interface ProbeFeaturesOptions {
  /**
   * Probe the helpers of every program type too (default true): a few thousand probe loads
   * the first time, the slow part of a full probe.
   */
  readonly helpers?: boolean;
}

/** `"BPF_PROG_TYPE_SCHED_CLS"` → `"sched_cls"`. */
function shortName(uapiName: string, prefix: string): string {
  return uapiName.slice(prefix.length).toLowerCase();
}

/**
 * Probes everything this module knows about: every program type (and, by default, the
 * helpers of each), map type, misc feature, map flag and link kind. Memoised like every
 * probe: a second call makes no syscall.
 */
export function probeFeatures(options: ProbeFeaturesOptions = {}): FeatureReport {
  const withHelpers = options.helpers ?? true;
  const programTypes = Object.entries(PROGRAM_TYPE_MIN_KERNEL).map(([key, minKernel]) => {
    const type = Number(key) as ProgramType;
    const supported = haveProgramType(type);
    const helpers = withHelpers && helpersProbeable(type)
      ? programHelpers(type).map((fn) => fn.name)
      : undefined;
    const name = shortName(programTypeName(type), "BPF_PROG_TYPE_");
    return { type, name, supported, minKernel, helpers };
  });
  const mapTypes = Object.entries(MAP_TYPE_MIN_KERNEL).filter(([key]) => key !== "0").map(
    ([key, minKernel]) => {
      const type = Number(key) as MapType;
      const name = shortName(mapTypeName(type), "BPF_MAP_TYPE_");
      return { type, name, supported: haveMapType(type), minKernel };
    },
  );
  const misc = MISC.map(([key, description, probe]) => ({
    key,
    description,
    supported: probe.supported(),
    minKernel: probe.minKernel,
  }));
  const mapFlags = MAP_FLAG_NAMES.map((flag) => ({
    key: flag,
    description: `Map flag ${flag}`,
    supported: haveMapFlag(flag),
    minKernel: mapFlagMinKernel(flag),
  }));
  const linkKinds = (Object.keys(LINK_FEATURES) as LinkFeature[]).map((kind) => ({
    key: kind,
    description: LINK_FEATURES[kind].feature,
    supported: haveLinkFeature(kind),
    minKernel: LINK_FEATURES[kind].minKernel,
  }));
  return { programTypes, mapTypes, misc, mapFlags, linkKinds };
}

/**
 * The report as `bpftool -j feature probe kernel` prints it (`program_types`, `map_types`,
 * `helpers`, `misc` with bpftool's keys), plus `map_flags` and `link_kinds`.
 */
export function featuresJson(report: FeatureReport): Record<string, Record<string, unknown>> {
  const entries = <T>(list: readonly T[], f: (t: T) => [string, unknown]) =>
    Object.fromEntries(list.map(f));
  const json: Record<string, Record<string, unknown>> = {
    program_types: entries(report.programTypes, (p) => [`have_${p.name}_prog_type`, p.supported]),
    map_types: entries(report.mapTypes, (m) => [`have_${m.name}_map_type`, m.supported]),
  };
  if (report.programTypes.some((p) => p.helpers !== undefined)) {
    json.helpers = entries(
      report.programTypes,
      (p) => [`${p.name}_available_helpers`, p.helpers ?? []],
    );
  }
  json.misc = entries(report.misc, (f) => [f.key, f.supported]);
  json.map_flags = entries(report.mapFlags, (f) => [f.key, f.supported]);
  json.link_kinds = entries(report.linkKinds, (f) => [f.key, f.supported]);
  return json;
}

const available = (yes: boolean) => yes ? "is available" : "is NOT available";

/** The report as `bpftool feature probe kernel` prints it for people. */
export function formatFeatures(report: FeatureReport): string {
  const out: string[] = ["Scanning eBPF program types..."];
  for (const p of report.programTypes) {
    out.push(`eBPF program_type ${p.name} ${available(p.supported)}`);
  }
  out.push("", "Scanning eBPF map types...");
  for (const m of report.mapTypes) out.push(`eBPF map_type ${m.name} ${available(m.supported)}`);
  if (report.programTypes.some((p) => p.helpers !== undefined)) {
    out.push("", "Scanning eBPF helper functions...");
    for (const p of report.programTypes) {
      out.push(`eBPF helpers supported for program type ${p.name}:`);
      if (!p.supported) out.push("\tProgram type not supported");
      else if (p.helpers === undefined) {
        out.push("\tCould not determine which helpers are available");
      } else for (const h of p.helpers) out.push(`\t- ${h}`);
    }
  }
  out.push("", "Scanning miscellaneous eBPF features...");
  for (const f of report.misc) out.push(`${f.description} ${available(f.supported)}`);
  out.push("", "Scanning map flags...");
  for (const f of report.mapFlags) out.push(`${f.description} ${available(f.supported)}`);
  out.push("", "Scanning link kinds...");
  for (const f of report.linkKinds) out.push(`${f.description} ${available(f.supported)}`);
  return out.join("\n") + "\n";
}

// Names the doc comments link to.
export type { NotSupportedError, PermissionError };
