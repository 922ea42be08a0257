/**
 * `/proc/self/fdinfo/FD`: what the kernel reports about a BPF object only there, not through
 * `BPF_OBJ_GET_INFO_BY_FD` (memlock, whether a map is frozen), as bpftool reads it.
 *
 * @module
 */

/**
 * The `key: value` lines of an fd's fdinfo, or undefined when they cannot be read: no
 * `--allow-read` for `/proc`, or no procfs. Callers report the fields as unknown then, as
 * bpftool omits them.
 */
export function readFdInfo(fd: number): Map<string, string> | undefined {
  let text: string;
  try {
    text = Deno.readTextFileSync(`/proc/self/fdinfo/${fd}`);
  } catch (e) {
    if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
  const fields = new Map<string, string>();
  for (const line of text.split("\n")) {
    const colon = line.indexOf(":");
    if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  return fields;
}

/** A decimal field of an fdinfo as a number, or undefined when absent or not a number. */
export function fdInfoNumber(
  fields: Map<string, string> | undefined,
  key: string,
): number | undefined {
  const text = fields?.get(key);
  if (text === undefined || !/^\d+$/.test(text)) return undefined;
  return Number(text);
}
