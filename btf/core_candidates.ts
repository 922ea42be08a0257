/**
 * Candidate search for CO-RE: the target types whose essential name (flavour suffix
 * stripped) equals the local type's, of a compatible kind. The names of a program's
 * relocations are searched together, in one pass over each target's types (libbpf scans
 * every type once per local type); a process that keeps asking for new names gets the
 * spec's name index instead.
 *
 * @module
 */

import { essentialName } from "./helpers.ts";
import { asciiTable, encodeString } from "./_strings.ts";
import { checksTypesOnUse, Spec } from "./spec.ts";
import type { Type } from "./types.ts";
import { kindsCompat } from "./core_compat.ts";

/** One candidate target type. */
export interface CoreCandidate {
  /** The spec it was found in. */
  spec: Spec;
  /** Index of that spec in the targets given to the relocation engine. */
  specIndex: number;
  /** Its type id in that spec. */
  id: number;
  /** The type. */
  type: Type;
}

/** Essential name → ids of the spec's own types whose name carries a `___` flavour. */
const flavoured = new WeakMap<Spec, Map<string, number[]>>();

/**
 * Types named `foo___bar` are candidates for `foo` too. The name index only finds exact
 * names, so each spec gets a small second index of its flavoured names, built once from a
 * pass over the raw string and type tables (vmlinux has none or few of them).
 */
function flavouredIndex(spec: Spec): Map<string, number[]> {
  let idx = flavoured.get(spec);
  if (idx) return idx;
  idx = new Map();
  if (!checksTypesOnUse(spec)) spec.validate(); // out-of-range offsets are marked by none
  const { words, offsets, firstId, count, strings, stringsBase } = spec.raw;
  const marked = flavouredStrings(strings);
  for (let i = 0; i < count; i++) {
    const nameOff = words[offsets[i]];
    const rel = nameOff - stringsBase;
    // Split BTF may name a type with a string of its base: decode those rare ones.
    const flagged = rel >= 0 ? marked.has(rel) : spec.nameOf(firstId + i).includes("___");
    if (!flagged) continue;
    const name = spec.nameOf(firstId + i);
    const ess = essentialName(name);
    if (ess === name) continue;
    const list = idx.get(ess);
    if (list) list.push(firstId + i);
    else idx.set(ess, [firstId + i]);
  }
  flavoured.set(spec, idx);
  return idx;
}

/**
 * Offsets (relative to the string section) of the NUL-terminated strings with "___" in them.
 * The first CO-RE load of a process runs this over vmlinux's 2.3 MB of strings before the JIT
 * has warmed up: a byte loop costs tens of milliseconds there, so an ASCII section (all of
 * vmlinux's) is searched with the engine's native `indexOf` (string offsets are indices into
 * its `asciiTable`); any other byte falls back to the loop.
 */
function flavouredStrings(strings: Uint8Array): Set<number> {
  const marked = new Set<number>();
  const text = asciiTable(strings);
  if (text !== false) {
    for (let i = text.indexOf("___"); i >= 0;) {
      const end = text.indexOf("\0", i);
      if (end < 0) break; // unterminated: not a string
      marked.add(text.lastIndexOf("\0", i) + 1);
      i = text.indexOf("___", end);
    }
    return marked;
  }
  let start = 0;
  let hit = false;
  for (let i = 0; i < strings.length; i++) {
    const c = strings[i];
    if (c === 0) {
      if (hit) marked.add(start);
      start = i + 1;
      hit = false;
    } else if (
      !hit && c === 0x5f && i + 2 < strings.length && strings[i + 1] === 0x5f &&
      strings[i + 2] === 0x5f
    ) {
      hit = true;
    }
  }
  return marked;
}

/**
 * Own type ids of `spec` per essential name (exact and flavoured names together, in id
 * order), kept per spec: a CO-RE load asks for the same few names again and again.
 */
const byEssential = new WeakMap<Spec, { ids: Map<string, number[]>; scans: number }>();

/**
 * Batch scans a spec gets before names it has not seen go through its name index instead:
 * one scan reads a word and a byte per type, the index hashes every name once (as much as
 * several scans), so only a process that keeps asking for new names builds it.
 */
const SCANS_BEFORE_INDEX = 8;

/**
 * The ids of `spec`'s own types (not its base's) whose essential name is each of `names`,
 * in id order: exact names and `name___flavour` ones alike. Names not asked for before are
 * found together, in one pass over the raw tables that reads each type's name offset and
 * the first byte of its name (libbpf compares every name, once per candidate); a JIT-cold
 * first CO-RE load thus costs one pass over vmlinux, with no index or decoded string
 * table built.
 */
function essentialIds(spec: Spec, names: readonly string[]): number[][] {
  let memo = byEssential.get(spec);
  if (!memo) byEssential.set(spec, memo = { ids: new Map(), scans: 0 });
  const missing = [...new Set(names.filter((n) => !memo.ids.has(n)))];
  if (missing.length > 0) {
    if (memo.scans++ < SCANS_BEFORE_INDEX) scanEssentialNames(spec, missing, memo.ids);
    else for (const n of missing) memo.ids.set(n, indexedEssentialIds(spec, n));
  }
  return names.map((n) => memo.ids.get(n)!);
}

/**
 * The one pass of {@linkcode essentialIds}: fills `out` with an id list per name.
 *
 * The pass runs JIT-cold on a process's first CO-RE load, and V8 compiles its loop while it
 * runs (on-stack replacement) from the feedback gathered so far: a branch first taken after
 * that (the first match of a name, or a name that merely starts with one) throws the loop
 * back to the interpreter until it is compiled again: up to four times over vmlinux. So the
 * loop takes no branch the common case skips: it compares each name with the keys that
 * share its first byte, each key a name ending in its NUL (an exact match) or in `___` (a
 * flavoured one), and stores every comparison's type and key where it keeps only full
 * matches, sorted out after the loop. The candidate search of `core_kernel-el.o` in a fresh
 * process went from 5.2 to 3.9 ms (medians of 15).
 */
function scanEssentialNames(spec: Spec, names: string[], out: Map<string, number[]>): void {
  // Name offsets out of range match nothing below; a spec validated as a whole throws for
  // them first, as its name index would.
  if (!checksTypesOnUse(spec)) spec.validate();
  const { words, offsets, firstId, count, strings, stringsBase } = spec.raw;
  const size = strings.length;
  // Two keys per name: `name\0` when the name carries no flavour of its own (libbpf compares
  // essential lengths, too), and `name___`, whose matches are checked for their essential
  // name after the loop. No BTF name holds a NUL: such a name matches nothing (and would
  // match across strings), nor does an empty one.
  const keys: Uint8Array[] = [];
  const keyName: number[] = [];
  const keyExact: boolean[] = [];
  names.forEach((n, k) => {
    const bytes = encodeString(n);
    if (bytes.length === 0 || bytes.includes(0)) return;
    for (const exact of essentialName(n) === n ? [true, false] : [false]) {
      const key = new Uint8Array(bytes.length + (exact ? 1 : 3));
      key.set(bytes);
      if (!exact) key.fill(0x5f, bytes.length);
      keys.push(key);
      keyName.push(k);
      keyExact.push(exact);
    }
  });
  // Keys by their first byte: most names start with a byte no key does, and cost no more.
  const head = new Int32Array(256).fill(-1);
  const next = new Int32Array(keys.length);
  for (let k = keys.length - 1; k >= 0; k--) {
    next[k] = head[keys[k][0]];
    head[keys[k][0]] = k;
  }
  // Full matches: type index and key (-1: a type named by a string of the base, to decode).
  let hitType = new Int32Array(64 + keys.length);
  let hitKey = new Int32Array(64 + keys.length);
  let n = 0;
  for (let i = 0; i < count; i++) {
    const off = words[offsets[i]];
    if (off === 0) continue; // anonymous
    const rel = off - stringsBase;
    if (rel >= size) continue;
    if (rel < 0) {
      // Split BTF named by a string of its base (a module): decoded after the loop.
      if (n === hitType.length) [hitType, hitKey] = [doubled(hitType), doubled(hitKey)];
      hitType[n] = i;
      hitKey[n++] = -1;
      continue;
    }
    for (let k = head[strings[rel]]; k >= 0; k = next[k]) {
      const key = keys[k];
      // A name's NUL stops the comparison (only an exact key's last byte matches it).
      let j = 1;
      while (j < key.length && strings[rel + j] === key[j]) j++;
      if (n === hitType.length) [hitType, hitKey] = [doubled(hitType), doubled(hitKey)];
      hitType[n] = i;
      hitKey[n] = k;
      n += j === key.length ? 1 : 0;
    }
  }
  const found = names.map((): number[] => []);
  for (let h = 0; h < n; h++) {
    const id = firstId + hitType[h];
    const k = hitKey[h];
    if (k < 0) matchDecoded(spec, id, names, found);
    else if (keyExact[k] || essentialName(spec.nameOf(id)) === names[keyName[k]]) {
      found[keyName[k]].push(id);
    }
  }
  for (let k = 0; k < names.length; k++) out.set(names[k], found[k]);
}

/** A copy of `a` with twice the room. */
function doubled(a: Int32Array): Int32Array<ArrayBuffer> {
  const more = new Int32Array(a.length * 2);
  more.set(a);
  return more;
}

/** {@linkcode scanEssentialNames} for a type whose name must be decoded to compare. */
function matchDecoded(spec: Spec, id: number, names: string[], found: number[][]): void {
  const ess = essentialName(spec.nameOf(id));
  for (let k = 0; k < names.length; k++) if (ess === names[k]) found[k].push(id);
}

/** {@linkcode essentialIds} for one name, through the spec's name index. */
function indexedEssentialIds(spec: Spec, name: string): number[] {
  const first = spec.base ? spec.firstTypeId : 1;
  const ids = essentialName(name) === name
    ? spec.typeIdsByName(name).filter((id) => id >= first)
    : [];
  const extra = flavouredIndex(spec).get(name);
  return extra ? [...ids, ...extra].sort((a, b) => a - b) : ids;
}

/**
 * The candidates for each of `locals` in one target spec, in id order, like libbpf's
 * `bpf_core_add_cands`: a named type of a compatible kind (ENUM and ENUM64 mix) whose
 * essential name equals the local one. Only the spec's own types are searched when it is
 * split BTF (a module): its base's types are found through the base itself.
 */
function findCandidatesInAll(
  locals: readonly Type[],
  spec: Spec,
  specIndex: number,
  out: CoreCandidate[][],
): void {
  const names = locals.map((t) => essentialName(t.name));
  const asked = names.filter((n) => n !== "");
  const lists = essentialIds(spec, asked);
  const byName = new Map<string, number[]>();
  asked.forEach((n, k) => byName.set(n, lists[k]));
  locals.forEach((local, k) => {
    const ids = byName.get(names[k]);
    if (ids === undefined) return;
    for (const id of ids) {
      const t = spec.typeById(id);
      if (!kindsCompat(t, local)) continue;
      out[k].push({ spec, specIndex, id, type: t });
    }
  });
}

/**
 * The BTF a CO-RE relocation's candidates are searched in: `vmlinux` first; then, only for
 * a local type vmlinux lacks, each spec of `modules()` (libbpf's rule). `modules()` is
 * called then and not before, so a kernel's module BTF is read only when it is needed.
 * Module `i` is target `i + 1` in {@linkcode CoreCandidate.specIndex}.
 */
export interface CoreTargets {
  /** The kernel's own BTF (or the one spec given). */
  readonly vmlinux: Spec;
  /** The modules' BTF, split on `vmlinux`; asked for only when needed. */
  modules(): readonly Spec[];
}

/**
 * Targets as the relocation engine takes them: one spec, `[vmlinux, ...modules]`, or
 * {@linkcode CoreTargets} (kept as is). Throws a TypeError for anything else.
 */
export function toCoreTargets(targets: Spec | readonly Spec[] | CoreTargets): CoreTargets {
  if (targets instanceof Spec) return { vmlinux: targets, modules: () => [] };
  if (Array.isArray(targets)) {
    if (targets.length > 0 && targets.every((s) => s instanceof Spec)) {
      const modules = targets.slice(1);
      return { vmlinux: targets[0], modules: () => modules };
    }
  } else if (
    typeof targets === "object" && targets !== null &&
    (targets as CoreTargets).vmlinux instanceof Spec &&
    typeof (targets as CoreTargets).modules === "function"
  ) {
    return targets as CoreTargets;
  }
  throw new TypeError(
    "Invalid CO-RE targets: expected a btf.Spec, a non-empty array of them, or CoreTargets",
  );
}

/**
 * libbpf's `bpf_core_find_cands` for each of `locals`: candidates in vmlinux; only for a
 * local type that has none there, in each module. Each target's types are searched once
 * for all of them.
 */
export function findCandidatesOfAll(
  locals: readonly Type[],
  targets: CoreTargets,
): CoreCandidate[][] {
  const out = locals.map((): CoreCandidate[] => []);
  if (locals.length === 0) return out;
  findCandidatesInAll(locals, targets.vmlinux, 0, out);
  const rest = locals.map((_, k) => k).filter((k) => out[k].length === 0);
  if (rest.length === 0) return out;
  const restLocals = rest.map((k) => locals[k]);
  const modules = targets.modules();
  for (let i = 0; i < modules.length; i++) {
    const found = restLocals.map((): CoreCandidate[] => []);
    findCandidatesInAll(restLocals, modules[i], i + 1, found);
    rest.forEach((k, j) => out[k].push(...found[j]));
  }
  return out;
}

/** {@linkcode findCandidatesOfAll} for one local type. */
export function findCandidates(local: Type, targets: CoreTargets): CoreCandidate[] {
  return findCandidatesOfAll([local], targets)[0];
}
