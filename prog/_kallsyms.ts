/**
 * Kernel symbol addresses from `/proc/kallsyms`, for typeless ksyms.
 *
 * @module
 */

let cache: Map<string, bigint> | undefined;

/** The address of kernel symbol `name`, or undefined when kallsyms does not list it. */
export function kallsymsAddress(name: string): bigint | undefined {
  if (!cache) {
    cache = new Map();
    const text = Deno.readTextFileSync("/proc/kallsyms");
    let start = 0;
    while (start < text.length) {
      let end = text.indexOf("\n", start);
      if (end < 0) end = text.length;
      // "ffffffff81000000 T _text" or "... t name\t[module]"
      const sp1 = text.indexOf(" ", start);
      const sp2 = sp1 < 0 ? -1 : text.indexOf(" ", sp1 + 1);
      if (sp2 > 0 && sp2 < end) {
        let nameEnd = text.indexOf("\t", sp2 + 1);
        if (nameEnd < 0 || nameEnd > end) nameEnd = end;
        const sym = text.slice(sp2 + 1, nameEnd);
        if (!cache.has(sym)) cache.set(sym, BigInt("0x" + text.slice(start, sp1)));
      }
      start = end + 1;
    }
  }
  return cache.get(name);
}
