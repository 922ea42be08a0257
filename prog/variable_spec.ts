/**
 * VariableSpec: a global variable of a BPF object, backed by the bytes of its section's map
 * (`.data`, `.rodata`, `.bss`, …). Plain data; no syscalls.
 *
 * @module
 */

import type { MapSpec } from "../map/map_spec.ts";

/**
 * One global variable: where it lives in its section's map and its BTF type. Its value is
 * read from and written to the map spec's initial contents, so a value set before loading
 * is what the program sees (a `volatile const` in `.rodata` becomes a load-time constant).
 * After load, the collection's `variables` read and write the live value (`Variable`).
 *
 * @example
 * ```ts ignore
 * const spec = await loadCollectionSpec("prog.o");
 * spec.variables.threshold.set(10); // before newCollection(spec)
 * ```
 */
export class VariableSpec {
  /** The variable's symbol name. */
  readonly name: string;
  /** The name of the map that holds it (its ELF section, such as `".rodata"`). */
  readonly mapName: string;
  /** Byte offset in the section. */
  readonly offset: number;
  /** Size in bytes. */
  readonly size: number;
  /** The variable's BTF type (a `btf.Var`), when the object has BTF. */
  readonly type: unknown;
  /** The map spec whose first entry's value holds the section's bytes. */
  map: MapSpec;
  /** The byte order numbers are written in by {@linkcode VariableSpec.set}: the object's. */
  readonly byteOrder: "little" | "big";

  /** Describes `size` bytes at `offset` of `map`'s value. */
  constructor(
    init: {
      name: string;
      map: MapSpec;
      offset: number;
      size: number;
      type?: unknown;
      byteOrder?: "little" | "big";
    },
  ) {
    this.byteOrder = init.byteOrder ?? "little";
    this.name = init.name;
    this.map = init.map;
    this.mapName = init.map.name;
    this.offset = init.offset;
    this.size = init.size;
    this.type = init.type;
  }

  /** Whether the variable is read-only to programs (`.rodata*`: frozen at load). */
  get constant(): boolean {
    return this.map.freeze;
  }

  /** A copy of this variable that refers to `map` (the copy of its map in a copied collection). */
  withMap(map: MapSpec): VariableSpec {
    return new VariableSpec({ ...this, map });
  }

  /** A copy of the variable's current bytes. */
  get(): Uint8Array {
    return this.#bytes().slice(this.offset, this.offset + this.size);
  }

  /**
   * Sets the value before load: bytes of exactly the variable's size, or a number/bigint
   * for a 1, 2, 4 or 8-byte variable, written in `byteOrder` (by default the object's, so
   * that a big-endian object gets big-endian values).
   */
  set(value: Uint8Array | number | bigint, byteOrder: "little" | "big" = this.byteOrder): void {
    const bytes = this.#bytes();
    if (value instanceof Uint8Array) {
      if (value.length !== this.size) {
        throw new RangeError(
          `Cannot set variable '${this.name}': got ${value.length} bytes, need ${this.size}`,
        );
      }
      bytes.set(value, this.offset);
      return;
    }
    const view = new DataView(bytes.buffer, bytes.byteOffset + this.offset, this.size);
    const le = byteOrder === "little";
    const big = typeof value === "bigint" ? value : BigInt(value);
    if (typeof value === "number" && !Number.isInteger(value)) {
      throw new TypeError(`Cannot set variable '${this.name}': ${value} is not an integer`);
    }
    switch (this.size) {
      case 1:
        view.setUint8(0, Number(BigInt.asUintN(8, big)));
        break;
      case 2:
        view.setUint16(0, Number(BigInt.asUintN(16, big)), le);
        break;
      case 4:
        view.setUint32(0, Number(BigInt.asUintN(32, big)), le);
        break;
      case 8:
        view.setBigUint64(0, BigInt.asUintN(64, big), le);
        break;
      default:
        throw new TypeError(
          `Cannot set variable '${this.name}' of ${this.size} bytes from a number: give bytes`,
        );
    }
  }

  /** The section bytes (the map's first value), created zeroed when the map has none. */
  #bytes(): Uint8Array {
    const first = this.map.contents[0];
    if (first?.value instanceof Uint8Array) return first.value;
    const value = new Uint8Array(this.map.valueSize);
    const key = new Uint8Array(4);
    if (first) first.value = value;
    else this.map.contents.push({ key, value });
    return value;
  }
}
