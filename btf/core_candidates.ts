/**
 * Candidate search for CO-RE: the target types whose essential name (flavour suffix
 * stripped) equals the local type's, of a compatible kind, found through each target
 * spec's name index rather than by scanning every type as libbpf does.
 *
 * @module
 */

import { essentialName } from "./helpers.ts";
import { asciiTable } from "./_strings.ts";
import type { Spec } from "./spec.ts";
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
  spec.validate();
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
 * The candidates for `local` in one target spec, in id order, like libbpf's
 * `bpf_core_add_cands`: a named type of a compatible kind (ENUM and ENUM64 mix) whose
 * essential name equals the local one. Only the spec's own types are searched when it is
 * split BTF (a module): its base's types are found through the base itself.
 */
export function findCandidatesIn(
  local: Type,
  spec: Spec,
  specIndex: number,
  out: CoreCandidate[],
): void {
  const ess = essentialName(local.name);
  if (ess === "") return;
  const first = spec.base ? spec.firstTypeId : 1;
  const ids = spec.typeIdsByName(ess);
  const extra = flavouredIndex(spec).get(ess);
  let all = ids;
  if (extra) all = [...ids, ...extra].sort((a, b) => a - b);
  for (const id of all) {
    if (id < first) continue;
    const t = spec.typeById(id);
    if (!kindsCompat(t, local)) continue;
    out.push({ spec, specIndex, id, type: t });
  }
}

/**
 * libbpf's `bpf_core_find_cands`: candidates in the first target (vmlinux); only when it
 * has none, in each of the others (modules).
 */
export function findCandidates(local: Type, targets: readonly Spec[]): CoreCandidate[] {
  const out: CoreCandidate[] = [];
  if (targets.length === 0) return out;
  findCandidatesIn(local, targets[0], 0, out);
  if (out.length > 0) return out;
  for (let i = 1; i < targets.length; i++) findCandidatesIn(local, targets[i], i, out);
  return out;
}
