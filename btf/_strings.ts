/**
 * C strings in a BTF string section: decoding with a cache, hashing and comparing raw bytes
 * so that name lookups never decode the whole table.
 *
 * @module
 */

const utf8 = new TextDecoder();
const encoder = new TextEncoder();

/** Decodes the NUL-terminated string at `off`; the caller has checked that a NUL follows. */
export function decodeCString(bytes: Uint8Array, off: number): string {
  let end = off;
  // Short ASCII names are the norm; building them by hand beats TextDecoder's call overhead.
  let ascii = true;
  while (end < bytes.length) {
    const b = bytes[end];
    if (b === 0) break;
    if (b >= 0x80) ascii = false;
    end++;
  }
  const len = end - off;
  if (len === 0) return "";
  if (ascii && len <= 48) {
    // Four characters a call: each `+=` is a string concatenation.
    let s = "";
    let i = off;
    for (; i + 4 <= end; i += 4) {
      s += String.fromCharCode(bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]);
    }
    for (; i < end; i++) s += String.fromCharCode(bytes[i]);
    return s;
  }
  return utf8.decode(bytes.subarray(off, end));
}

/**
 * A whole string section decoded as one JS string, when every byte is ASCII (string offsets
 * are then indices into it); false otherwise. ASCII bytes are their own UTF-8, which V8
 * turns into a one-byte string in one pass over the bytes. Any other byte either joins a
 * sequence that decodes to fewer code units than it has bytes or decodes to U+FFFD, so
 * the same length and no U+FFFD mean all ASCII; no second pass over the section.
 */
export function asciiTable(bytes: Uint8Array): string | false {
  const s = utf8.decode(bytes);
  return s.length === bytes.length && s.indexOf("\uFFFD") < 0 ? s : false;
}

/** FNV-1a over the NUL-terminated bytes at `off`. */
export function hashCString(bytes: Uint8Array, off: number): number {
  let h = 0x811c9dc5;
  for (let i = off; i < bytes.length; i++) {
    const b = bytes[i];
    if (b === 0) break;
    h = Math.imul(h ^ b, 0x01000193);
  }
  return h >>> 0;
}

/** FNV-1a over `key`, the same function as {@linkcode hashCString}. */
export function hashBytes(key: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key[i], 0x01000193);
  return h >>> 0;
}

/** Whether the NUL-terminated string at `off` equals `key`. */
export function equalsCString(bytes: Uint8Array, off: number, key: Uint8Array): boolean {
  if (off + key.length >= bytes.length) return false;
  for (let i = 0; i < key.length; i++) {
    if (bytes[off + i] !== key[i]) return false;
  }
  return bytes[off + key.length] === 0;
}

/** UTF-8 bytes of a string. */
export function encodeString(s: string): Uint8Array {
  return encoder.encode(s);
}
