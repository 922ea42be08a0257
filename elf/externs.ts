/**
 * Extern symbols: `__kconfig` values (laid out in the `.kconfig` map as libbpf lays them
 * out), `__ksym` kernel variables and kfuncs. The loader resolves them against the running
 * kernel; here they are only recorded.
 *
 * @module
 */

import { alignof, Func, sizeof, Var } from "../btf/mod.ts";
import { FormatError } from "../errors.ts";
import { MapSpec } from "../map/map_spec.ts";
import { MapType } from "../map/map_type.ts";
import type { ExternKind, ExternRef } from "../prog/program_spec.ts";
import { SymbolBinding, SymbolType } from "./elf_file.ts";
import { BPF_F_RDONLY_PROG } from "./data_sections.ts";
import { datasec, type ObjectContext } from "./_object.ts";

/** The name of the map that holds kconfig values. */
export const KCONFIG_MAP = ".kconfig";

/** The object's externs by name, and the `.kconfig` map when it has kconfig externs. */
export interface Externs {
  /** Every undefined global or weak symbol that BTF (or its use) makes an extern. */
  byName: Map<string, ExternRef>;
  /** The `.kconfig` map: zeroed, read-only to programs, filled by the loader. */
  kconfig: MapSpec | undefined;
}

/**
 * Collects externs. With BTF, each one's kind comes from the data section clang put it in
 * (`.kconfig`, or `.ksyms` for kernel variables and kfuncs); without BTF, every undefined
 * symbol is a ksym, which relocation turns into a kfunc when a call uses it.
 */
export function readExterns(ctx: ObjectContext): Externs {
  const byName = new Map<string, ExternRef>();
  const undefinedSymbols = ctx.symbols.filter((s) =>
    s.index !== 0 && s.section === 0 && s.name !== "" &&
    (s.binding === SymbolBinding.Global || s.binding === SymbolBinding.Weak)
  );
  if (undefinedSymbols.length === 0) return { byName, kconfig: undefined };
  const btfKinds = new Map<string, { kind: ExternKind; type: Var | Func }>();
  for (const [secName, kind] of [[".kconfig", "kconfig"], [".ksyms", "ksym"]] as const) {
    const ds = datasec(ctx, secName);
    for (const vsi of ds?.vars ?? []) {
      const t = vsi.type;
      if (t instanceof Func) btfKinds.set(t.name, { kind: "kfunc", type: t });
      else if (t instanceof Var) btfKinds.set(t.name, { kind, type: t });
    }
  }
  const kconfig: { ref: ExternRef; size: number; align: number }[] = [];
  for (const sym of undefinedSymbols) {
    if (sym.type !== SymbolType.NoType && sym.type !== SymbolType.Func) {
      throw new FormatError(`ELF: extern "${sym.name}" has symbol type ${sym.type}`, 0);
    }
    // A symbol BTF does not list (inline assembly, a forward declaration) stays a ksym.
    const btf = btfKinds.get(sym.name);
    const ref: ExternRef = {
      name: sym.name,
      kind: btf?.kind ?? "ksym",
      weak: sym.binding === SymbolBinding.Weak,
    };
    if (btf) ref.type = btf.type;
    byName.set(sym.name, ref);
    if (ref.kind === "kconfig") {
      let size = 0;
      let align = 0;
      try {
        const t = (btf!.type as Var).type;
        size = sizeof(t);
        align = alignof(t);
      } catch {
        // A type of no size (a function, a cycle) is unusable; said just below.
      }
      if (size <= 0 || align <= 0 || align > 8) {
        throw new FormatError(`BTF: kconfig extern "${sym.name}" has an unusable type`, 0);
      }
      kconfig.push({ ref, size, align });
    }
  }
  if (kconfig.length === 0) return { byName, kconfig: undefined };
  // libbpf's order: by alignment (largest first), then size (smallest first), then name; so
  // offsets match what bpftool loads.
  kconfig.sort((a, b) =>
    b.align - a.align || a.size - b.size || (a.ref.name < b.ref.name ? -1 : 1)
  );
  let offset = 0;
  for (const k of kconfig) {
    offset = Math.ceil(offset / k.align) * k.align;
    k.ref.offset = offset;
    offset += k.size;
  }
  const ds = datasec(ctx, KCONFIG_MAP);
  if (ds) {
    ds.size = offset;
    for (const vsi of ds.vars) {
      const ref = byName.get((vsi.type as Var).name);
      if (ref?.offset !== undefined) vsi.offset = ref.offset;
    }
  }
  const map = new MapSpec({
    name: KCONFIG_MAP,
    type: MapType.Array,
    keySize: 4,
    valueSize: offset,
    maxEntries: 1,
    flags: BPF_F_RDONLY_PROG,
    freeze: true,
    contents: [{ key: new Uint8Array(4), value: new Uint8Array(offset) }],
    value: ds,
  });
  return { byName, kconfig: map };
}
