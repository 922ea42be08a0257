/**
 * Reading clang-compiled BPF objects into a `CollectionSpec`, with libbpf's conventions: the
 * ELF64 reader, the SEC() section table, BTF and legacy maps, global data and variables,
 * subprograms, relocations and externs. Everything here is pure: no syscalls and no
 * permissions when given bytes (`loadCollectionSpec` needs `--allow-read`).
 *
 * @example
 * ```ts ignore
 * import { loadCollectionSpec } from "@ebpf/ebpf/elf";
 *
 * const spec = await loadCollectionSpec("prog.o");
 * for (const [name, p] of Object.entries(spec.programs)) {
 *   console.log(name, p.sectionName, p.instructions.length);
 * }
 * spec.variables.threshold?.set(10); // a `volatile const`, before loading
 * ```
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
