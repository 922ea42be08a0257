/**
 * Kernel symbol addresses from `/proc/kallsyms`, for typeless ksyms, and symbol names by
 * address, for disassembly that names the functions a program calls.
 *
 * @module
 */

let cache: Map<string, bigint> | undefined;

/** The address of kernel symbol `name`, or undefined when kallsyms does not list it. */
export function kallsymsAddress(name: string): bigint | undefined {
  if (!cache) {
    cache = new Map();
    const text = readProcFile("/proc/kallsyms");
    for (const line of text.split("\n")) {
      // "ffffffff81000000 T _text", or "... t name\t[module]" for module symbols
      const sp1 = line.indexOf(" ");
      const sp2 = line.indexOf(" ", sp1 + 1);
      if (sp1 <= 0 || sp2 < 0) continue;
      const tab = line.indexOf("\t", sp2 + 1);
      const sym = line.slice(sp2 + 1, tab < 0 ? line.length : tab);
      if (!cache.has(sym)) cache.set(sym, BigInt("0x" + line.slice(0, sp1)));
    }
  }
  return cache.get(name);
}

/**
 * Kernel symbols by address, read now: a lookup of the symbol at exactly an address, or
 * undefined (also when kallsyms hides addresses: `kernel.kptr_restrict` shows them as 0).
 * The first name listed at an address wins. Not cached across calls: BPF programs come and
 * go, and so do their `bpf_prog_<tag>_<name>` symbols; a caller keeps the lookup as long as
 * its answer should stay the same (one listing, one dump).
 */
export function kallsymsNames(): (address: bigint) => string | undefined {
  let byAddress: Map<bigint, string> | undefined;
  return (address) => {
    if (!byAddress) {
      byAddress = new Map();
      for (const line of readProcFile("/proc/kallsyms").split("\n")) {
        const sp1 = line.indexOf(" ");
        const sp2 = line.indexOf(" ", sp1 + 1);
        if (sp1 <= 0 || sp2 < 0) continue;
        const at = BigInt("0x" + line.slice(0, sp1));
        const tab = line.indexOf("\t", sp2 + 1);
        if (at !== 0n && !byAddress.has(at)) {
          byAddress.set(at, line.slice(sp2 + 1, tab < 0 ? line.length : tab));
        }
      }
    }
    return byAddress.get(address);
  };
}

/**
 * Reads a procfs file in large chunks. procfs reports size 0, and `Deno.readTextFileSync`
 * took 11 s for the 5 MB of kallsyms here, against 30 ms for 1 MiB reads.
 */
function readProcFile(path: string): string {
  using f = Deno.openSync(path);
  const chunk = new Uint8Array(1 << 20);
  const decoder = new TextDecoder();
  let text = "";
  for (;;) {
    const n = f.readSync(chunk);
    if (n === null || n === 0) break;
    text += decoder.decode(chunk.subarray(0, n), { stream: true });
  }
  return text + decoder.decode();
}
