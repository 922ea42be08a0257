/**
 * Reading types from a spec's raw words without decoding them: where type `id` starts (in
 * the spec or, for split BTF, in its base), its kind, what it names through typedefs and
 * qualifiers, and its size. The one implementation of these walks, for the spec's own
 * validation and for the readers that run before validation (the ELF reader's map
 * definitions), so every id is checked against the tables it indexes. Plain functions over
 * a record of typed arrays, which allocate nothing: the spec's member check runs them for
 * every member of vmlinux. Each caller takes its own policy from what they return (the
 * spec counts a type without a size as 0 bytes, the ELF reader throws naming the map).
 * Internal to the package: not exported from `btf/mod.ts`.
 *
 * @module
 */

import { HOST_BYTE_ORDER } from "../asm/mod.ts";
import { Kind } from "./types.ts";

/** The raw tables of a spec and of its base: `Spec.raw` as the readers below take it. */
export interface RawReader {
  /** The type section as 32-bit words in host byte order. */
  readonly words: Uint32Array;
  /**
   * The same words as 16-bit halves, the high half of word `o` at `2 * o + HI`: kinds are
   * read from them, as a 32-bit word of 2^30 or more is a heap number in cold code.
   */
  readonly halves: Uint16Array;
  /** The word index in `words` where each of this spec's types starts. */
  readonly offsets: Uint32Array;
  /** The id of the first type in this spec: 1, or the base's next id for split BTF. */
  readonly firstId: number;
  /** The number of this spec's own types. */
  readonly count: number;
  /** The base's tables, for split BTF: ids below `firstId` are its types. */
  readonly base: RawReader | undefined;
}

/** Which 16-bit half of a host-order 32-bit word holds its high bits. */
export const HI = HOST_BYTE_ORDER === "little" ? 1 : 0;

/** What {@linkcode resolvedSize} does at a kind: one of these, indexed by kind. */
const enum SizeStep {
  /** The type has no size: the walk stops. */
  None = 0,
  /** The size is the `size_or_type` word. */
  Word = 1,
  /** A pointer: 8 bytes. */
  Pointer = 2,
  /** An array: its element's size times its length. */
  Array = 3,
  /** The size of the type in the `size_or_type` word. */
  Follow = 4,
}

function sizeSteps(sized: Kind[], followed: Kind[]): Uint8Array {
  const steps = new Uint8Array(32);
  for (const k of sized) steps[k] = SizeStep.Word;
  for (const k of followed) steps[k] = SizeStep.Follow;
  steps[Kind.Pointer] = SizeStep.Pointer;
  steps[Kind.Array] = SizeStep.Array;
  return steps;
}

const SIZED = [Kind.Int, Kind.Enum, Kind.Enum64, Kind.Struct, Kind.Union, Kind.Float];
const QUALIFIERS = [Kind.Typedef, Kind.Const, Kind.Volatile, Kind.Restrict, Kind.TypeTag];

/** Kinds that only rename or qualify the type in their `size_or_type` word (1). */
const QUALIFIER_KIND = new Uint8Array(32);
for (const k of QUALIFIERS) QUALIFIER_KIND[k] = 1;

/**
 * Sizes as the spec's check of struct members resolves them, as the kernel does: through
 * typedefs, qualifiers and arrays to an int, enum, struct, union, float or pointer.
 */
export const MEMBER_SIZES: Uint8Array = sizeSteps(SIZED, QUALIFIERS);

/**
 * Sizes as `sizeof` (helpers.ts) resolves them: a Datasec by its size word, a variable by
 * its type, besides {@linkcode MEMBER_SIZES}.
 */
export const SIZEOF_SIZES: Uint8Array = sizeSteps([...SIZED, Kind.Datasec], [
  ...QUALIFIERS,
  Kind.Var,
]);

/**
 * The tables that hold type `id`: `r` or, for an id below its first, its base's; undefined
 * for void and for an id that no type has. The type starts at word
 * `t.offsets[id - t.firstId]` of `t.words`.
 */
function holderOf(r: RawReader, id: number): RawReader | undefined {
  while (id < r.firstId && r.base !== undefined) r = r.base;
  const i = id - r.firstId;
  return i >= 0 && i < r.count ? r : undefined;
}

/** The kind of the type that starts at word `o` of `r`. */
export function kindAt(r: RawReader, o: number): number {
  return (r.halves[2 * o + 2 + HI] >>> 8) & 0x1f;
}

/** The `BTF_KIND_*` of type `id`: 0 for void, -1 for an id that no type has. */
export function kindOf(r: RawReader, id: number): number {
  if (id === 0) return 0;
  const t = holderOf(r, id);
  return t === undefined ? -1 : kindAt(t, t.offsets[id - t.firstId]);
}

/**
 * Word `k` of type `id` (0 `name_off`, 1 `info`, 2 `size_or_type`, 3 on the kind's own
 * words), which the caller knows the type's kind to have; -1 for an id that no type has.
 */
export function typeWord(r: RawReader, id: number, k: number): number {
  const t = holderOf(r, id);
  return t === undefined ? -1 : t.words[t.offsets[id - t.firstId] + k];
}

/**
 * Where a type starts: the tables that hold it and its word in their `words` (-1 for
 * none). Filled by {@linkcode underlyingId} for its caller to read the type found without
 * looking its id up again; one per walk, reused, so that walks allocate nothing.
 */
export interface RawPlace {
  /** The tables that hold the type. */
  tables: RawReader;
  /** The word where the type starts in `tables.words`; -1 for void or no type. */
  word: number;
}

/**
 * The id that type `id` names through typedefs and qualifiers (const, volatile, restrict,
 * type tags), as `underlyingType` resolves it: the first id on the way of another kind,
 * void, or an id that no type has (`at.word` is then -1); -1 when the chain is longer than
 * `maxDepth` (or cyclic, in BTF not validated yet). `at` is set to where the type found
 * starts.
 */
export function underlyingId(r: RawReader, id: number, maxDepth: number, at: RawPlace): number {
  at.word = -1;
  for (let depth = 0; depth <= maxDepth; depth++) {
    const t = holderOf(r, id);
    if (t === undefined) return id;
    const o = t.offsets[id - t.firstId];
    if (QUALIFIER_KIND[kindAt(t, o)] !== 1) {
      at.tables = t;
      at.word = o;
      return id;
    }
    id = t.words[o + 2];
  }
  return -1;
}

/**
 * The size in bytes of type `id`, resolved as `steps` says ({@linkcode MEMBER_SIZES} or
 * {@linkcode SIZEOF_SIZES}). Negative when it has none: `-1 - stop`, where `stop` is the id
 * at which the walk stopped: void, a type of a kind without a size (a forward declaration,
 * a function), or an id that no type has (which {@linkcode kindOf} tells apart); -1 as
 * well when the chain is longer than `maxDepth` steps (or cyclic).
 */
export function resolvedSize(
  r: RawReader,
  id: number,
  steps: Uint8Array,
  maxDepth: number,
): number {
  let n = 1;
  for (let depth = 0; depth <= maxDepth; depth++) {
    const t = holderOf(r, id);
    if (t === undefined) return -1 - id;
    const w = t.words;
    const o = t.offsets[id - t.firstId];
    switch (steps[kindAt(t, o)]) {
      case SizeStep.Word:
        return n * w[o + 2];
      case SizeStep.Pointer:
        return n * 8;
      case SizeStep.Array:
        n *= w[o + 5];
        id = w[o + 3];
        break;
      case SizeStep.Follow:
        id = w[o + 2];
        break;
      default:
        return -1 - id;
    }
  }
  return -1;
}
