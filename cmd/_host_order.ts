/**
 * Bytes of a BTF-typed value in the other byte order, for showing a big-endian object's
 * variables on a little-endian host (and the reverse) through the host-order codecs.
 *
 * @module
 */

import { sizeof, underlyingType } from "../btf/helpers.ts";
import {
  Array as ArrayType,
  Enum,
  Float,
  Int,
  Pointer,
  Struct,
  type Type,
  Union,
} from "../btf/types.ts";

const MAX_DEPTH = 32;

/**
 * `bytes` (a value of `type`) with every scalar's bytes reversed, or undefined when the
 * layout has no single answer: bitfields (their bit numbering depends on the byte order too)
 * and unions whose members disagree about where the scalars are.
 */
export function swapByteOrder(type: Type, bytes: Uint8Array): Uint8Array | undefined {
  const size = sizeof(type);
  if (size > bytes.length) return undefined;
  const order = Uint32Array.from({ length: size }, (_, i) => i);
  if (!permute(type, order, 0, 0)) return undefined;
  return Uint8Array.from(order, (i) => bytes[i]);
}

/** Reverses the scalars of `type` at `offset` in the index array `order`. */
function permute(type: Type, order: Uint32Array, offset: number, depth: number): boolean {
  if (depth > MAX_DEPTH) return false;
  const t = underlyingType(type);
  if (t instanceof Int || t instanceof Enum || t instanceof Float || t instanceof Pointer) {
    const size = t instanceof Pointer ? 8 : t.size;
    order.subarray(offset, offset + size).reverse();
    return true;
  }
  if (t instanceof ArrayType) {
    const step = sizeof(t.type);
    for (let i = 0; i < t.nelems; i++) {
      if (!permute(t.type, order, offset + i * step, depth + 1)) return false;
    }
    return true;
  }
  if (t instanceof Struct) {
    return t.members.every((m) =>
      m.bitfieldSize === 0 && m.offset % 8 === 0 &&
      permute(m.type, order, offset + m.offset / 8, depth + 1)
    );
  }
  if (t instanceof Union) {
    // Every member must move the bytes the same way; one that does not leaves no answer.
    let agreed: Uint32Array | undefined;
    for (const m of t.members) {
      if (m.bitfieldSize !== 0 || m.offset !== 0) return false;
      const mine = order.slice();
      if (!permute(m.type, mine, offset, depth + 1)) return false;
      if (agreed !== undefined && !mine.every((v, i) => v === agreed![i])) return false;
      agreed = mine;
    }
    if (agreed !== undefined) order.set(agreed);
    return true;
  }
  return false;
}
