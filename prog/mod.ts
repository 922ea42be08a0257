/**
 * Programs: loading BPF programs into the kernel (with CO-RE, BTF func and line info, kfuncs
 * and ksyms resolved), running them with BPF_PROG_TEST_RUN, and collections: everything an
 * object describes, created with `newCollection` and closed together.
 *
 * @example
 * ```ts ignore
 * import { loadCollectionSpec } from "@ebpf/ebpf/elf";
 * import { newCollection } from "@ebpf/ebpf/prog";
 * import { attachTracepoint } from "@ebpf/ebpf/link";
 *
 * const spec = await loadCollectionSpec("counter.o");
 * using coll = newCollection(spec);
 * using _link = attachTracepoint(coll.programs.count, "syscalls", "sys_enter_openat");
 * console.log(coll.maps.counts.lookup(0));
 * ```
 *
 * @example
 * ```ts ignore
 * import { asm, Program, ProgramSpec, ProgramType } from "@ebpf/ebpf";
 *
 * using prog = Program.load(new ProgramSpec({
 *   type: ProgramType.SocketFilter,
 *   license: "GPL",
 *   instructions: new asm.Instructions([asm.Mov.Imm(asm.R0, 1), asm.Return()]),
 * }));
 * console.log(prog.run({ data: new Uint8Array(64) }).retval); // 1
 * ```
 *
 * @module
 */

export { ProgramType, programTypeName } from "./program_type.ts";
export {
  haveProgramHelper,
  haveProgramType,
  type HelperRef,
  programHelpers,
  requireProgramHelper,
  requireProgramType,
} from "./program_type_probe.ts";
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
export { Variable } from "./variable.ts";
export { CollectionSpec, type CollectionSpecInit } from "./collection_spec.ts";
export {
  MAX_LOG_SIZE,
  Program,
  type ProgramLoadOptions,
  type RunOptions,
  type RunResult,
} from "./program.ts";
export {
  ProgramStream,
  StreamId,
  type StreamIterateOptions,
  type StreamOwner,
} from "./program_stream.ts";
export { Collection, type CollectionOptions, newCollection } from "./collection.ts";
export { loadedPrograms, programIds } from "./loaded_programs.ts";
export {
  enableStats,
  type FuncInfo,
  type LineInfo,
  type ProgramInfo,
  StatsType,
} from "./program_info.ts";
export { xlatedInstructions, type XlatedMapReference, xlatedMapReference } from "./xlated.ts";
export {
  type BoundLoadOptions,
  type BoundObjects,
  type BoundVariable,
  type DecodedKind,
  type Decoder,
  embeddedObject,
  type EmbeddedObjects,
  loadBound,
  typeDecoders,
  type TypedMap,
} from "./bindings.ts";
