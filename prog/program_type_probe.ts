/**
 * Probing whether the running kernel can load a program type, and which helpers each
 * program type may call: libbpf's rules (`libbpf_probe_bpf_prog_type`,
 * `libbpf_probe_bpf_helper`), each answer memoised per process.
 *
 * @module
 */

import { feature, type FeatureProbe } from "../_internal/feature.ts";
import { Errno, NotSupportedError } from "../errors.ts";
import { BpfCmd, bpfError } from "../ffi.ts";
import { BuiltinFunc, HELPER_COUNT } from "../asm/func.ts";
import { AttachType } from "./attach_type.ts";
import { ProgramType, programTypeName } from "./program_type.ts";
import { probeLoad, type ProbeLoadOptions } from "./_probe_load.ts";
import { runningKernelVersion } from "./_kconfig.ts";

/** The first kernel release that has each program type, for {@linkcode NotSupportedError}s. */
export const PROGRAM_TYPE_MIN_KERNEL: Readonly<Record<Exclude<ProgramType, 0>, string>> = {
  [ProgramType.SocketFilter]: "3.19",
  [ProgramType.Kprobe]: "4.1",
  [ProgramType.SchedCLS]: "4.1",
  [ProgramType.SchedACT]: "4.1",
  [ProgramType.TracePoint]: "4.7",
  [ProgramType.XDP]: "4.8",
  [ProgramType.PerfEvent]: "4.9",
  [ProgramType.CGroupSKB]: "4.10",
  [ProgramType.CGroupSock]: "4.10",
  [ProgramType.LWTIn]: "4.10",
  [ProgramType.LWTOut]: "4.10",
  [ProgramType.LWTXmit]: "4.10",
  [ProgramType.SockOps]: "4.13",
  [ProgramType.SkSKB]: "4.14",
  [ProgramType.CGroupDevice]: "4.15",
  [ProgramType.SkMsg]: "4.17",
  [ProgramType.RawTracepoint]: "4.17",
  [ProgramType.CGroupSockAddr]: "4.17",
  [ProgramType.LWTSeg6Local]: "4.18",
  [ProgramType.LircMode2]: "4.18",
  [ProgramType.SkReuseport]: "4.19",
  [ProgramType.FlowDissector]: "4.20",
  [ProgramType.CGroupSysctl]: "5.2",
  [ProgramType.RawTracepointWritable]: "5.2",
  [ProgramType.CGroupSockopt]: "5.3",
  [ProgramType.Tracing]: "5.5",
  [ProgramType.StructOps]: "5.6",
  [ProgramType.Extension]: "5.6",
  [ProgramType.LSM]: "5.7",
  [ProgramType.SkLookup]: "5.9",
  [ProgramType.Syscall]: "5.14",
  [ProgramType.Netfilter]: "6.4",
};

/** `r0 = 0`: the body of a program type probe (`r0 = 0; exit`). */
const R0_ZERO = [0xb7, 0, 0, 0, 0, 0, 0, 0];
const BPF_F_SLEEPABLE = 1 << 4;
/** ENOTSUPP, the kernel-internal errno a struct_ops program without a target gets. */
const ENOTSUPP = 524;

/**
 * How libbpf loads a probe of each type: the attr fields the type needs, and for types
 * that cannot load without an attach target, the refusal (errno and log line) that shows
 * the kernel knows the type.
 */
interface LoadRule {
  readonly options: ProbeLoadOptions;
  readonly expect?: { readonly errno: number; readonly log?: string };
}

function loadRule(type: ProgramType): LoadRule {
  switch (type) {
    case ProgramType.CGroupSockAddr:
      return { options: { expectedAttachType: AttachType.CgroupInet4Connect } };
    case ProgramType.CGroupSockopt:
      return { options: { expectedAttachType: AttachType.CgroupGetsockopt } };
    case ProgramType.SkLookup:
      return { options: { expectedAttachType: AttachType.SkLookup } };
    case ProgramType.LircMode2:
      return { options: { expectedAttachType: AttachType.LircMode2 } };
    case ProgramType.Netfilter:
      return { options: { expectedAttachType: AttachType.Netfilter } };
    case ProgramType.Kprobe:
      return { options: { kernVersion: runningKernelVersion() } };
    case ProgramType.Syscall:
      return { options: { flags: BPF_F_SLEEPABLE } };
    // BTF id 1 of vmlinux is never a function: kernels that know the type say so.
    case ProgramType.Tracing:
      return {
        options: { expectedAttachType: AttachType.TraceFentry, attachBtfId: 1, log: true },
        expect: { errno: Errno.EINVAL, log: "attach_btf_id 1 is not a function" },
      };
    case ProgramType.LSM:
      return {
        options: { expectedAttachType: AttachType.ModifyReturn, attachBtfId: 1, log: true },
        expect: { errno: Errno.EINVAL, log: "attach_btf_id 1 is not a function" },
      };
    case ProgramType.Extension:
      return {
        options: { attachBtfId: 1, log: true },
        expect: { errno: Errno.EINVAL, log: "Cannot replace kernel functions" },
      };
    case ProgramType.StructOps:
      return { options: {}, expect: { errno: ENOTSUPP } };
    default:
      return { options: {} };
  }
}

/** Program types whose helpers cannot be probed: they need an attach target to load at all. */
const UNPROBED_HELPERS: ReadonlySet<number> = new Set([
  ProgramType.Tracing,
  ProgramType.Extension,
  ProgramType.LSM,
  ProgramType.StructOps,
]);

function probeProgramType(type: ProgramType): boolean {
  const rule = loadRule(type);
  const { fd, errno, log } = probeLoad(type, R0_ZERO, rule.options);
  fd?.close();
  if (rule.expect === undefined) {
    if (errno === Errno.EPERM) throw bpfError(BpfCmd.PROG_LOAD, Errno.EPERM);
    return fd !== undefined;
  }
  // A type that only loads with a target: any other answer (even EPERM, once a plain
  // socket filter has shown the privileges suffice) means the kernel lacks it.
  if (errno === Errno.EPERM) haveProgramType(ProgramType.SocketFilter);
  return errno === rule.expect.errno &&
    (rule.expect.log === undefined || log.includes(rule.expect.log));
}

const typeProbes = new Map<number, FeatureProbe>();

function typeProbe(type: ProgramType): FeatureProbe {
  if (!Object.hasOwn(PROGRAM_TYPE_MIN_KERNEL, type)) {
    throw new RangeError(`Unknown program type: ${type}`);
  }
  let probe = typeProbes.get(type);
  if (!probe) {
    const minKernel = PROGRAM_TYPE_MIN_KERNEL[type as Exclude<ProgramType, 0>];
    probe = feature(programTypeName(type), minKernel, () => probeProgramType(type));
    typeProbes.set(type, probe);
  }
  return probe;
}

/**
 * Whether the running kernel can load programs of `type`, probed once per process as
 * libbpf does (a two-instruction program; types that need an attach target are recognised
 * by how the kernel refuses a made-up one). Needs `--allow-ffi` and CAP_BPF; without them
 * it throws {@linkcode PermissionError}.
 *
 * @example
 * ```ts ignore
 * import { haveProgramType, ProgramType } from "@ebpf/ebpf";
 * if (!haveProgramType(ProgramType.SkLookup)) console.log("no sk_lookup programs here");
 * ```
 */
export function haveProgramType(type: ProgramType): boolean {
  return typeProbe(type).supported();
}

/**
 * Throws {@linkcode NotSupportedError}, naming the program type and the first kernel that
 * has it, when the running kernel cannot load programs of `type`.
 */
export function requireProgramType(type: ProgramType): void {
  typeProbe(type)();
}

/** A helper given as a {@linkcode BuiltinFunc}, its number or its C name. */
export type HelperRef = BuiltinFunc | number | string;

function helperOf(helper: HelperRef): BuiltinFunc {
  if (helper instanceof BuiltinFunc) return helper;
  if (typeof helper === "number") return new BuiltinFunc(helper);
  const byName = BuiltinFunc.byName(helper);
  if (!byName) throw new RangeError(`Unknown helper: "${helper}"`);
  return byName;
}

/**
 * What the verifier says of a helper it does not know ("invalid func unknown#N"), of one
 * the program type may not call (older kernels: "unknown func bpf_x#N"; newer ones, such as
 * 6.18: "program of this type cannot use helper bpf_x#N", which libbpf 1.1 misses).
 */
const HELPER_MISSING = [
  "invalid func ",
  "unknown func ",
  "program of this type cannot use helper ",
];

/**
 * libbpf's helper probe: a program that only calls the helper. The call's arguments are
 * garbage, so the load usually fails; only the verifier's words for an unknown or
 * forbidden helper say no.
 */
function probeHelper(type: ProgramType, helper: number): boolean {
  if (!haveProgramType(type)) return false;
  const call = [0x85, 0, 0, 0, ...new Uint8Array(new Uint32Array([helper]).buffer)];
  const { fd, log } = probeLoad(type, call, { ...loadRule(type).options, log: true });
  fd?.close();
  return !HELPER_MISSING.some((words) => log.includes(words));
}

const helperProbes = new Map<number, FeatureProbe>();

function helperProbe(type: ProgramType, helper: HelperRef): FeatureProbe {
  const fn = helperOf(helper);
  typeProbe(type); // checks the type
  if (UNPROBED_HELPERS.has(type)) {
    throw new RangeError(
      `Helpers of ${programTypeName(type)} cannot be probed: its programs need an attach target`,
    );
  }
  const key = type * 0x10000 + fn.id;
  let probe = helperProbes.get(key);
  if (!probe) {
    probe = feature(
      `${fn.name} in ${programTypeName(type)}`,
      PROGRAM_TYPE_MIN_KERNEL[type as Exclude<ProgramType, 0>],
      () => probeHelper(type, fn.id),
    );
    helperProbes.set(key, probe);
  }
  return probe;
}

/**
 * Whether programs of `type` may call `helper` on the running kernel, probed once per
 * (type, helper) as libbpf does. False when the kernel lacks the type. Throws `RangeError`
 * for the types whose helpers cannot be probed without an attach target (tracing, ext,
 * lsm, struct_ops), as libbpf refuses them.
 *
 * @example
 * ```ts ignore
 * import { asm, haveProgramHelper, ProgramType } from "@ebpf/ebpf";
 * haveProgramHelper(ProgramType.XDP, asm.FnRedirectMap); // true since 4.14
 * haveProgramHelper(ProgramType.Kprobe, "bpf_redirect"); // false
 * ```
 */
export function haveProgramHelper(type: ProgramType, helper: HelperRef): boolean {
  return helperProbe(type, helper).supported();
}

/**
 * Throws {@linkcode NotSupportedError} naming the helper and program type when programs of
 * `type` may not call `helper` on the running kernel.
 */
export function requireProgramHelper(type: ProgramType, helper: HelperRef): void {
  const probe = helperProbe(type, helper);
  if (!probe.supported()) {
    throw new NotSupportedError(
      probe.feature,
      undefined,
      "the kernel or the program type lacks it",
    );
  }
}

/** Whether helpers of `type` can be probed at all (not for types that need a target). */
export function helpersProbeable(type: ProgramType): boolean {
  return !UNPROBED_HELPERS.has(type);
}

/**
 * The helpers programs of `type` may call on the running kernel, in number order (empty
 * when the kernel lacks the type or its helpers cannot be probed).
 */
export function programHelpers(type: ProgramType): BuiltinFunc[] {
  if (UNPROBED_HELPERS.has(type) || !haveProgramType(type)) return [];
  const out: BuiltinFunc[] = [];
  for (let id = 1; id < HELPER_COUNT; id++) {
    if (haveProgramHelper(type, id)) out.push(new BuiltinFunc(id));
  }
  return out;
}
