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
// SectionConvention.attachType is an AttachType, so it must be public. prog/mod.ts does not
// export it yet; re-exporting the same binding from both places later is harmless.
export { AttachType, attachTypeName } from "../prog/attach_type.ts";
