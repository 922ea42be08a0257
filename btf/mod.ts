/**
 * BTF, the BPF Type Format: parse it (both byte orders, every kind), look types up, write
 * it back, read `.BTF.ext`, and print it as bpftool does (raw) or as C.
 *
 * Everything here is plain TypeScript over bytes: it needs no permission and runs in any
 * JavaScript runtime. Reading files ({@linkcode loadSpec}, {@linkcode loadKernelSpec}) needs
 * `--allow-read` only. Loading BTF into the kernel is `BtfHandle`, exported from the root
 * module because it needs `--allow-ffi`.
 *
 * Parsing is lazy: one pass over the bytes indexes and validates every type, and type
 * objects, names and members are decoded when first used. `spec.raw` gives the typed
 * arrays behind a spec for walks that must not allocate.
 *
 * @example
 * ```ts
 * import { loadKernelSpec, sizeof, Struct } from "@ebpf/ebpf/btf";
 * const spec = loadKernelSpec();
 * const task = spec.typeByName("task_struct", Struct)!;
 * console.log(sizeof(task), task.members.length);
 * ```
 *
 * @module
 */

export {
  Array,
  Composite,
  Const,
  Datasec,
  DeclTag,
  Enum,
  EnumValue,
  Float,
  Func,
  FuncParam,
  FuncProto,
  Fwd,
  Int,
  IntEncoding,
  Kind,
  KIND_NAMES,
  type KindName,
  kindOf,
  Linkage,
  MAX_KIND,
  Member,
  Pointer,
  Ref,
  Restrict,
  Struct,
  type Type,
  TypeBase,
  type TypeClass,
  Typedef,
  TypeTag,
  Union,
  Var,
  VarSecinfo,
  VOID,
  Void,
  Volatile,
} from "./types.ts";
export {
  BTF_HEADER_SIZE,
  BTF_MAGIC,
  type ByteOrder,
  type ParseOptions,
  parseSpec,
  type RawBtf,
  Spec,
} from "./spec.ts";
export {
  kernelModulesWithBtf,
  loadKernelModuleSpec,
  loadKernelSpec,
  loadSpec,
  loadSpecAndExtInfos,
  parseSpecAndExtInfos,
  type SpecAndExtInfos,
} from "./load.ts";
export {
  Builder,
  forEachRef,
  type KernelCompat,
  type MarshalOptions,
  marshalTypes,
} from "./marshal.ts";
export {
  CORE_RELO_KIND_NAMES,
  CORE_RELO_META,
  type CoreRelo,
  CoreReloKind,
  ExtIndex,
  type ExtInfos,
  type ExtSection,
  FUNC_INFO_META,
  type FuncInfo,
  indexExtInfos,
  type LineInfo,
  parseExtInfos,
} from "./ext.ts";
export {
  alignof,
  copyType,
  copyTypes,
  essentialName,
  isQualifier,
  sizeof,
  skipQualifiers,
  underlyingType,
} from "./helpers.ts";
export { formatRaw } from "./format_raw.ts";
export { type RawEntry, type RawType, rawTypes, type RawValue } from "./raw_types.ts";
export { FORMAT_C_MAX_NESTING, formatC, type FormatCOptions } from "./format_c.ts";
export {
  applyCoreRelocations,
  calcCoreRelocations,
  CORE_FIXUP_META,
  CORE_POISON_META,
  CORE_TARGET_META,
  CoreCandidateCache,
  type CoreFixup,
  type CoreOptions,
  type CorePoison,
  corePoisonOf,
  coreReloKindName,
  type CoreTarget,
  describeCoreRelo,
  explainCorePoison,
  POISON_HELPER_ID,
} from "./core.ts";
export { CoreRelocationError } from "./core_error.ts";
export type { CoreAccessor, CoreSpec } from "./core_spec.ts";
export type { CoreCandidate, CoreTargets } from "./core_candidates.ts";
