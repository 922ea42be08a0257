/**
 * The runtime of the modules `bpf2ts` generates: the typed views of a loaded collection and
 * the loading code they share, so that each generated module holds only its types and its
 * embedded objects.
 *
 * @module
 */

import { NotSupportedError } from "../errors.ts";
import { type ByteOrder, HOST_BYTE_ORDER } from "../asm/mod.ts";
import type { BpfMap } from "../map/bpf_map.ts";
import { type Codec, codecFor, decodeValue, encodeValue } from "../map/codec.ts";
import { Enum, Struct, type Type, Typedef, Union } from "../btf/types.ts";
import { type Collection, type CollectionOptions, newCollection } from "./collection.ts";
import type { CollectionSpec } from "./collection_spec.ts";
import type { Program } from "./program.ts";
import type { Variable } from "./variable.ts";

/** A map with keys `K` and values `V`, as the map's BTF codecs encode and decode them. */
export type TypedMap<K, V> =
  & Omit<BpfMap, "lookup" | "update" | "delete" | "keys" | "entries" | "lookupAndDelete">
  & {
    /** The value under `key`, or `undefined`. */
    lookup(key: K, flags?: bigint): V | undefined;
    /** Sets the value under `key` (`flags`: `UpdateFlags`). */
    update(key: K, value: V, flags?: bigint): void;
    /** Deletes `key`; false when it was absent. */
    delete(key: K): boolean;
    /** Every key. */
    keys(): Generator<K>;
    /** Every key and value. */
    entries(): Generator<[K, V]>;
    /** Looks up and deletes `key`. */
    lookupAndDelete(key: K): V | undefined;
  };

/**
 * A global variable of a loaded collection, typed.
 *
 * @deprecated Use {@linkcode Variable}, which generated bindings now name.
 */
export type BoundVariable<T> = Variable<T>;

/** What a generated `load…()` creates; close it (or `using`) to release everything. */
export interface BoundObjects<
  Maps = Record<string, BpfMap>,
  Programs = Record<string, Program>,
  Variables = Record<string, Variable<unknown>>,
> extends Disposable {
  /** The underlying collection. */
  readonly collection: Collection;
  /** Maps by name. */
  readonly maps: Maps;
  /** Programs by name. */
  readonly programs: Programs;
  /** Global variables by name. */
  readonly variables: Variables;
  /** Closes every map and program. */
  close(): void;
}

/** Options of {@linkcode loadBound}: the collection's, plus initial variable values. */
export interface BoundLoadOptions<Constants = object> extends CollectionOptions {
  /** Initial values of global variables, encoded from their BTF types. */
  constants?: Constants;
}

/**
 * The little- and big-endian builds of one object, base64-encoded, as bindings embed them
 * (line breaks and other whitespace in the text are ignored).
 */
export interface EmbeddedObjects {
  /** The `bpfel` object. */
  little?: string;
  /** The `bpfeb` object. */
  big?: string;
}

/** The bytes of the embedded object for `byteOrder` (by default the host's). */
export function embeddedObject(
  objects: EmbeddedObjects,
  source: string,
  byteOrder: ByteOrder = HOST_BYTE_ORDER,
): Uint8Array {
  const b64 = objects[byteOrder];
  if (b64 === undefined) {
    throw new NotSupportedError(
      `A ${byteOrder}-endian object in the bindings of '${source}'`,
      undefined,
      `generate them with bpf2ts --byte-order ${byteOrder} (or both)`,
    );
  }
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

/**
 * Writes `options.constants` into `spec`'s variables, creates the collection, and returns it
 * with its maps, programs and variables (see {@linkcode Variable}: read and written in place,
 * in shared memory).
 */
export function loadBound(spec: CollectionSpec, options: BoundLoadOptions = {}): BoundObjects {
  const { constants, ...collectionOptions } = options;
  for (const [name, value] of Object.entries(constants ?? {})) {
    const v = spec.variables[name];
    if (v === undefined) throw new TypeError(`No variable '${name}'`);
    const codec = codecOf(varType(v));
    v.set(codec ? encodeValue(codec, value, name) : value as Uint8Array);
  }
  const collection = newCollection(spec, collectionOptions);
  return {
    collection,
    maps: collection.maps,
    programs: collection.programs,
    variables: collection.variables,
    close: () => collection.close(),
    [Symbol.dispose]: () => collection.close(),
  };
}

/** Decodes the bytes of one BTF type to its value: what a generated `decode<Type>()` is. */
export type Decoder<T> = (bytes: Uint8Array) => T;

/** The kinds of named BTF types a {@linkcode Decoder} can be made for. */
export type DecodedKind = "struct" | "union" | "enum" | "typedef";

const KIND_CLASSES = { struct: Struct, union: Union, enum: Enum, typedef: Typedef } as const;

/**
 * Decoders of named types of an object's BTF, one per `[kind, name]` of `types`, for
 * generated bindings. Nothing happens until a decoder is first called: then `spec` is called
 * (once for all of them) and the type's codec built (see `map/codec.ts`); later calls only
 * decode.
 *
 * @example
 * ```ts ignore
 * const decoders = typeDecoders(loadCounterSpec, "counter.c", [["struct", "event"]]);
 * export function decodeEvent(bytes: Uint8Array): Event {
 *   return decoders[0](bytes) as Event;
 * }
 * ```
 */
export function typeDecoders(
  spec: () => CollectionSpec,
  source: string,
  types: [kind: DecodedKind, name: string][],
): Decoder<unknown>[] {
  let btf: { typesByName(name: string): Type[] } | undefined;
  return types.map(([kind, name]) => {
    let codec: Codec | undefined;
    return (bytes: Uint8Array): unknown => {
      if (codec === undefined) {
        btf ??= spec().types;
        if (btf === undefined) throw new TypeError(`'${source}' has no BTF`);
        const found = btf.typesByName(name).filter((t) => t instanceof KIND_CLASSES[kind]);
        if (found.length !== 1) {
          throw new TypeError(`'${source}' has ${found.length} types '${kind} ${name}', not one`);
        }
        codec = codecFor(found[0]);
      }
      return decodeValue(codec, bytes);
    };
  });
}

/** The codec of a BTF type, or undefined when it has no value representation. */
function codecOf(type: unknown): Codec | undefined {
  try {
    return codecFor(type);
  } catch {
    return undefined;
  }
}

/** The type a variable's `btf.Var` holds. */
function varType(v: { type: unknown }): unknown {
  return (v.type as { type?: unknown } | undefined)?.type;
}
