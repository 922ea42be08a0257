/**
 * Kernel functions by glob pattern, for kprobe_multi: the kernel takes only names or
 * addresses, so the pattern (`*` any run, `?` one character, as libbpf's `kprobe.multi/`
 * sections) is matched here against tracefs `available_filter_functions`, the functions
 * fprobe can attach to.
 *
 * @module
 */

import { NotSupportedError, PermissionError } from "../errors.ts";
import { tracefsRoot } from "./_tracefs.ts";

/** Whether `name` matches the glob `pattern` (`*` and `?`, nothing else special). */
export function globMatch(pattern: string, name: string): boolean {
  // Iterative matching with one backtrack point per `*`: linear in practice.
  let p = 0, n = 0, star = -1, mark = 0;
  while (n < name.length) {
    if (p < pattern.length && (pattern[p] === "?" || pattern[p] === name[n])) {
      p++;
      n++;
    } else if (p < pattern.length && pattern[p] === "*") {
      star = p++;
      mark = n;
    } else if (star >= 0) {
      p = star + 1;
      n = ++mark;
    } else return false;
  }
  while (pattern[p] === "*") p++;
  return p === pattern.length;
}

/**
 * The names in an `available_filter_functions` text matching `pattern`, each once, in file
 * order. Lines are `name` or `name [module]`; the kernel lists functions whose address it
 * lost as `__ftrace_invalid_address___N`, which nothing can attach to.
 */
export function matchFilterFunctions(text: string, pattern: string): string[] {
  const out = new Set<string>();
  for (const line of text.split("\n")) {
    const name = line.split(" ", 1)[0];
    if (name === "" || name.startsWith("__ftrace_invalid_address__")) continue;
    if (globMatch(pattern, name)) out.add(name);
  }
  return [...out];
}

/** The attachable kernel functions matching `pattern`. */
export function kernelFunctions(pattern: string): string[] {
  const path = `${tracefsRoot()}/available_filter_functions`;
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.PermissionDenied) {
      throw new PermissionError(
        `Cannot read ${path} to match "${pattern}": ${e.message}; give the functions as symbols`,
        undefined,
        { cause: e },
      );
    }
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    throw new NotSupportedError(
      "kprobe_multi pattern",
      undefined,
      `no ${path}: the kernel was built without dynamic ftrace`,
      { cause: e },
    );
  }
  return matchFilterFunctions(text, pattern);
}
