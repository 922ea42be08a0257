/**
 * Reading clang-compiled BPF objects: the ELF64 reader, libbpf's SEC() section conventions,
 * and (to come) the CollectionSpec builder. Everything here is pure: no syscalls and no
 * permissions when given bytes.
 *
 * @example
 * ```ts
 * import { sectionConvention } from "@ebpf/ebpf/elf";
 *
 * const c = sectionConvention("kprobe/do_unlinkat");
 * console.log(c.kind, c.attachTo); // "kprobe" "do_unlinkat"
 * ```
 *
 * @module
 */

export {
  type SectionConvention,
  sectionConvention,
  type SectionDefinition,
  sectionDefinitions,
  type SectionFlags,
  type SectionKind,
} from "./section_conventions.ts";
export { loadCollectionSpec, parseCollectionSpec } from "./collection_reader.ts";
