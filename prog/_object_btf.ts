/**
 * The object's BTF as the kernel will take it: data sections laid out, extern linkage
 * dropped, hidden global subprograms made static, the strings of line info added, and loaded
 * once for all programs and maps of a collection (as libbpf loads one BTF per object).
 *
 * @module
 */

import {
  Builder,
  Datasec,
  DeclTag,
  Func,
  Linkage,
  type Spec,
  type Type,
  Var,
  VarSecinfo,
} from "../btf/mod.ts";
import { BtfHandle, kernelCompat } from "../btf/handle.ts";
import { TypeSnapshot } from "../btf/_snapshot.ts";
import { HOST_BYTE_ORDER, type Instruction, type SourceLine } from "../asm/mod.ts";
import { FUNC_INFO, HIDDEN_FUNC } from "./program_spec.ts";

const HOST_LITTLE = HOST_BYTE_ORDER === "little";

/** Where the variables of one data section sit, and how big the section is. */
export interface SectionLayout {
  /** The section's size in bytes (its map's value size). */
  size: number;
  /** Byte offset of each variable by name. */
  offsets: Map<string, number>;
}

/** The BTF of an object, loaded into the kernel with its ids and line strings known. */
export class ObjectBtf {
  readonly handle: BtfHandle;
  readonly #builder: Builder;
  readonly #replaced: Map<Type, Type>;
  readonly #strings: Map<string, number>;

  private constructor(
    handle: BtfHandle,
    builder: Builder,
    replaced: Map<Type, Type>,
    strings: Map<string, number>,
  ) {
    this.handle = handle;
    this.#builder = builder;
    this.#replaced = replaced;
    this.#strings = strings;
  }

  /**
   * Writes `spec` with the given section layouts and loads it. Data sections without a
   * layout (`.ksyms`, or any section when the caller knows none) are left out: nothing the
   * kernel checks refers to them except maps, which only use laid-out sections. Functions
   * in `statics` (from {@linkcode hiddenFuncs}) are written with static linkage.
   */
  static load(
    spec: Spec,
    layouts: Map<string, SectionLayout>,
    lines: Iterable<SourceLine>,
    statics: Iterable<Func> = [],
  ): ObjectBtf {
    const { bytes, builder, replaced } = written(spec, layouts, [...statics]);
    const { blob, strings } = withLines(bytes, lines);
    return new ObjectBtf(BtfHandle.load(blob), builder, replaced, strings);
  }

  /** The fd of the loaded BTF. */
  get fd(): number {
    return this.handle.fd;
  }

  /** The id of `type` in the loaded BTF (its laid-out copy for data sections), or 0. */
  typeId(type: unknown): number {
    if (type === undefined || type === null) return 0;
    const t = this.#replaced.get(type as Type) ?? type as Type;
    return this.#builder.typeId(t) ?? 0;
  }

  /** The string offset of a line-info string added at load, or 0. */
  stringOffset(s: string): number {
    return this.#strings.get(s) ?? 0;
  }

  /** Closes the BTF fd (programs and maps that use it keep their own reference). */
  close(): void {
    this.handle.close();
  }
}

/** The object's BTF as written for the kernel, with what it takes to find ids in it. */
interface Written {
  bytes: Uint8Array;
  builder: Builder;
  replaced: Map<Type, Type>;
}

/**
 * The last writing of a spec, and what it was written from. The snapshot is taken when a
 * spec is written a second time: one loaded once, just after parsing, never pays for it.
 */
interface CacheEntry extends Written {
  key: string;
  snapshot: TypeSnapshot | undefined;
}

/**
 * The last BTF written for each spec. Loading the same spec again (a service that makes
 * the same collection repeatedly) reuses it when the layouts, hidden functions and kernel
 * compatibility are the same and no field of any type changed: writing costs more than
 * everything else the loader does in JavaScript. Keyed weakly, so it goes with the spec.
 */
const cache = new WeakMap<Spec, CacheEntry>();

function written(spec: Spec, layouts: Map<string, SectionLayout>, statics: Func[]): Written {
  const key = cacheKey(spec, layouts, statics);
  const hit = cache.get(spec);
  if (key !== undefined && hit?.key === key && hit.snapshot?.matches()) return hit;
  const w = write(spec, layouts, statics);
  if (key === undefined) return w;
  let snapshot: TypeSnapshot | undefined;
  if (hit !== undefined) {
    // Every type of the spec (those left out decide what is written too: extern linkage,
    // data sections) and whatever else the writer reached.
    const types: Type[] = [...spec.types()];
    for (const t of w.builder.types) if (spec.typeId(t) === undefined) types.push(t);
    snapshot = new TypeSnapshot(types);
  }
  cache.set(spec, { ...w, key, snapshot });
  return w;
}

/** What the writing depends on besides the types; undefined when it cannot be told. */
function cacheKey(
  spec: Spec,
  layouts: Map<string, SectionLayout>,
  statics: Func[],
): string | undefined {
  let key = JSON.stringify(kernelCompat());
  for (const [name, layout] of layouts) {
    key += `\n${name}\0${layout.size}`;
    for (const [v, off] of layout.offsets) key += `\0${v}=${off}`;
  }
  key += "\n";
  for (const f of statics) {
    const id = spec.typeId(f);
    if (id === undefined) return undefined;
    key += `${id},`;
  }
  return key;
}

function write(spec: Spec, layouts: Map<string, SectionLayout>, statics: Func[]): Written {
  const builder = new Builder();
  const skipped = new Set<Type>();
  const replaced = new Map<Type, Type>();
  const datasecs: Datasec[] = [];
  for (const t of spec.types()) {
    if (t instanceof Datasec) {
      datasecs.push(t);
      skipped.add(t);
    } else if (
      (t instanceof Var || t instanceof Func) && t.linkage === Linkage.Extern
    ) {
      skipped.add(t);
    }
  }
  for (const t of spec.types()) {
    if (skipped.has(t)) continue;
    if (t instanceof DeclTag && skipped.has(t.type)) continue;
    builder.add(t);
  }
  for (const ds of datasecs) {
    const layout = layouts.get(ds.name);
    if (!layout || layout.size === 0) continue;
    const vars: VarSecinfo[] = [];
    let ok = true;
    for (const vs of ds.vars) {
      let v = vs.type;
      if (!(v instanceof Var)) {
        ok = false;
        break;
      }
      const offset = layout.offsets.get(v.name) ?? (ds.vars.length === 1 ? 0 : undefined);
      if (offset === undefined) {
        ok = false;
        break;
      }
      if (v.linkage === Linkage.Extern) {
        const copy = new Var(v.name, v.type, Linkage.Global);
        replaced.set(v, copy);
        v = copy;
      }
      vars.push(new VarSecinfo(v, offset, vs.size));
    }
    if (!ok) continue;
    vars.sort((a, b) => a.offset - b.offset);
    const copy = new Datasec(ds.name, ds.size || layout.size, vars);
    replaced.set(ds, copy);
    builder.add(copy);
  }
  // The linkage is switched on the spec's own Func objects only while they are written:
  // their ids, and the decl tags that point at them, stay as they are, and the spec the
  // caller holds is left as parsed.
  const switched: Func[] = [];
  let bytes: Uint8Array;
  try {
    for (const f of statics) {
      if (f.linkage !== Linkage.Global) continue;
      f.linkage = Linkage.Static;
      switched.push(f);
    }
    bytes = builder.marshal({ ...kernelCompat(), byteOrder: HOST_BYTE_ORDER });
  } finally {
    for (const f of switched) f.linkage = Linkage.Global;
  }
  return { bytes, builder, replaced };
}

/**
 * The BTF functions of the subprograms the ELF reader marked hidden (`__hidden` globals):
 * libbpf loads them as static (its `mark_btf_static`), so that the verifier checks each in
 * its caller's context, with the caller's knowledge of the arguments, instead of once as a
 * global function that may assume nothing about them.
 */
export function hiddenFuncs(insns: Iterable<Instruction>): Set<Func> {
  const out = new Set<Func>();
  for (const ins of insns) {
    const f = ins.meta?.[FUNC_INFO];
    if (ins.meta?.[HIDDEN_FUNC] === true && f instanceof Func) out.add(f);
  }
  return out;
}

/** The last blob made from each written BTF, and the line strings it was made with. */
const lineCache = new WeakMap<
  Uint8Array,
  { unique: string[]; blob: Uint8Array; strings: Map<string, number> }
>();

/**
 * {@linkcode appendStrings}, or its last result for the same written BTF when the programs'
 * line strings are the same: encoding them is most of what a reused BTF costs.
 */
function withLines(
  bytes: Uint8Array,
  lines: Iterable<SourceLine>,
): { blob: Uint8Array; strings: Map<string, number> } {
  const unique = uniqueStrings(lines);
  const hit = lineCache.get(bytes);
  if (hit !== undefined && sameList(hit.unique, unique)) return hit;
  const out = appendStrings(bytes, unique);
  lineCache.set(bytes, { unique, ...out });
  return out;
}

/** The distinct non-empty file names and source lines, in order of first use. */
function uniqueStrings(lines: Iterable<SourceLine>): string[] {
  const unique: string[] = [];
  const seen = new Set<string>();
  for (const line of lines) {
    const { fileName, text } = line;
    if (fileName !== undefined && fileName !== "" && !seen.has(fileName)) {
      seen.add(fileName);
      unique.push(fileName);
    }
    if (text !== undefined && text !== "" && !seen.has(text)) {
      seen.add(text);
      unique.push(text);
    }
  }
  return unique;
}

function sameList(a: string[], b: string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Appends the file names and source lines of line info to the string section of a blob the
 * builder wrote (types first, then strings), so that line_info records can point at them.
 */
function appendStrings(
  bytes: Uint8Array,
  candidates: string[],
): { blob: Uint8Array; strings: Map<string, number> } {
  const strings = new Map<string, number>();
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const le = HOST_LITTLE;
  const hdrLen = v.getUint32(4, le);
  const strOff = v.getUint32(16, le);
  const strLen = v.getUint32(20, le);
  // One encode for all strings: a TextEncoder call per line cost more than the rest of
  // the BTF's preparation. The NULs that end the strings in the blob also tell their offsets.
  const unique = candidates.filter((s) => !s.includes("\0"));
  if (unique.length === 0) return { blob: bytes, strings };
  const tail = new TextEncoder().encode(unique.join("\0") + "\0");
  let at = 0;
  for (const s of unique) {
    strings.set(s, strLen + at);
    at = tail.indexOf(0, at) + 1;
  }
  const blob = new Uint8Array(bytes.length + tail.length);
  blob.set(bytes);
  blob.set(tail, hdrLen + strOff + strLen);
  new DataView(blob.buffer).setUint32(20, strLen + tail.length, le);
  return { blob, strings };
}
