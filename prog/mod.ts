/**
 * Programs: loading BPF programs into the kernel, running them, and collections of them.
 *
 * @module
 */

export { ProgramType, programTypeName } from "./program_type.ts";
export { AttachType, attachTypeName } from "./attach_type.ts";
export {
  CORE_RELO,
  EXTERN,
  type ExternKind,
  type ExternRef,
  FUNC_INFO,
  ProgramFlags,
  ProgramSpec,
  type ProgramSpecInit,
} from "./program_spec.ts";
export { VariableSpec } from "./variable_spec.ts";
export { CollectionSpec, type CollectionSpecInit } from "./collection_spec.ts";
export {
  MAX_LOG_SIZE,
  Program,
  type ProgramLoadOptions,
  type RunOptions,
  type RunResult,
} from "./program.ts";
export { Collection, type CollectionOptions, newCollection } from "./collection.ts";
export { enableStats, type ProgramInfo, StatsType } from "./program_info.ts";
