// The mutation machinery of the fuzz tests: a seeded generator, so that every run sees the
// same inputs, and two mutators, one for whole files and one that knows BTF's layout.

/** xorshift32: the same inputs on every run. */
export function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

const FILE_INTERESTING = [0, 1, 2, 4, 8, 0x7f, 0x80, 0xff, 0xffff, 0x7fffffff, 0xffffffff];

/**
 * 1 to 4 mutations of a copy of `src`: bit flips, random bytes, interesting 32-bit values,
 * and now and then a truncation, so that every offset must be checked against the end.
 */
export function mutateFile(src: Uint8Array, next: () => number): Uint8Array {
  const out = src.slice();
  const n = 1 + (next() % 4);
  for (let k = 0; k < n; k++) {
    const at = next() % out.length;
    switch (next() % 4) {
      case 0:
        out[at] ^= 1 << (next() % 8);
        break;
      case 1:
        out[at] = next() & 0xff;
        break;
      case 2: {
        const v = FILE_INTERESTING[next() % FILE_INTERESTING.length];
        const view = new DataView(out.buffer);
        if (at + 4 <= out.length) view.setUint32(at, v, (next() & 1) === 0);
        break;
      }
      default:
        if ((next() & 7) === 0) return out.subarray(0, at);
    }
  }
  return out;
}

const BTF_INTERESTING = [0, 1, 2, 3, 0xff, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff, 24, 12];

/**
 * 1 to 4 mutations of a copy of a BTF blob: bit flips, random bytes, interesting words,
 * small type ids (self-references and cycles), header fields moved a little, truncation.
 */
export function mutateBtf(src: Uint8Array, next: () => number): Uint8Array {
  const b = src.slice();
  const v = new DataView(b.buffer);
  const rounds = 1 + (next() % 4);
  for (let r = 0; r < rounds; r++) {
    const op = next() % 6;
    const at = next() % b.length;
    switch (op) {
      case 0:
        b[at] ^= 1 << (next() % 8);
        break;
      case 1:
        b[at] = next() & 0xff;
        break;
      case 2:
        if (at + 4 <= b.length) {
          v.setUint32(at & ~3, BTF_INTERESTING[next() % BTF_INTERESTING.length], next() % 2 === 0);
        }
        break;
      case 3: {
        // A small type id, often the type's own: self-references and cycles.
        if (at + 4 <= b.length) v.setUint32(at & ~3, next() % 64, next() % 2 === 0);
        break;
      }
      case 4: {
        // A header field.
        const f = 4 + 4 * (next() % 5);
        v.setUint32(f, (v.getUint32(f, true) + (next() % 64) - 32) >>> 0, true);
        break;
      }
      case 5:
        return b.subarray(0, at);
    }
  }
  return b;
}
