/**
 * Reading BTF from files: raw BTF or the `.BTF` of an ELF object (as bpftool does), and the
 * kernel's own BTF from `/sys/kernel/btf`, cached per process. Only these functions touch
 * the file system, and they need `--allow-read` alone.
 *
 * @module
 */

import { FormatError, NotSupportedError } from "../errors.ts";
import { elfSections, isElf } from "./_elf.ts";
import { type ExtInfos, parseExtInfos } from "./ext.ts";
import { checkTypesOnUse, parseSpec, type Spec } from "./spec.ts";

/** The `.BTF` and `.BTF.ext` of an ELF object. */
export interface SpecAndExtInfos {
  /** The types of `.BTF`. */
  spec: Spec;
  /** The records of `.BTF.ext`, or undefined when the object has none. */
  extInfos: ExtInfos | undefined;
}

/**
 * Parses the `.BTF` (and `.BTF.ext`, if present) sections of an ELF object. Throws a
 * {@linkcode FormatError} when the object has no `.BTF`.
 */
export function parseSpecAndExtInfos(elf: Uint8Array): SpecAndExtInfos {
  const { sections } = elfSections(elf);
  const btf = sections.get(".BTF");
  if (!btf) throw new FormatError("ELF object has no .BTF section", 0);
  // Section contents may sit at any alignment; copy so that the type section is word-aligned.
  const spec = parseSpec(btf.slice());
  const ext = sections.get(".BTF.ext");
  return { spec, extInfos: ext ? parseExtInfos(ext.slice(), spec) : undefined };
}

/**
 * Reads BTF from a file, as `bpftool btf dump file` does: raw BTF (such as
 * `/sys/kernel/btf/vmlinux`) or the `.BTF` section of an ELF object.
 */
export function loadSpec(path: string | URL, options: { base?: Spec } = {}): Spec {
  const bytes = readFile(path);
  if (isElf(bytes)) return parseSpecAndExtInfos(bytes).spec;
  return parseSpec(bytes, options);
}

/** Reads `.BTF` and `.BTF.ext` of an ELF object file. */
export function loadSpecAndExtInfos(path: string | URL): SpecAndExtInfos {
  return parseSpecAndExtInfos(readFile(path));
}

const KERNEL_BTF_DIR = "/sys/kernel/btf";

/**
 * Reads a whole file into one buffer of its size. A third faster than `Deno.readFileSync`
 * for sysfs files, which it reads in growing chunks; falls back to it for files that report
 * no size (procfs).
 */
function readFile(path: string | URL): Uint8Array {
  const file = Deno.openSync(path);
  try {
    const size = file.statSync().size;
    if (size <= 0) return Deno.readFileSync(path);
    const buf = new Uint8Array(size);
    let off = 0;
    while (off < size) {
      const n = file.readSync(buf.subarray(off));
      if (n === null || n === 0) break;
      off += n;
    }
    if (off < size) return buf.subarray(0, off);
    // A file that grew since stat: read the rest the slow way.
    const probe = new Uint8Array(1);
    if (file.readSync(probe) !== null) return Deno.readFileSync(path);
    return buf;
  } finally {
    file.close();
  }
}

let kernelSpec: Spec | undefined;
const moduleSpecs = new Map<string, Spec>();

/**
 * The running kernel's BTF, from `/sys/kernel/btf/vmlinux`. Parsed once per process; later
 * calls return the same spec. Each type is checked when first decoded or named, not all
 * 130,000 at the first use (`validate()` checks them all). Throws
 * {@linkcode NotSupportedError} when the kernel was built without `CONFIG_DEBUG_INFO_BTF`.
 * Deno 2.9 opens files under `/sys` only with `--allow-all` (`--allow-read`, even
 * `--allow-read=/sys`, is not enough).
 *
 * @example
 * ```ts
 * import { loadKernelSpec, Struct } from "@ebpf/ebpf/btf";
 * const task = loadKernelSpec().typeByName("task_struct", Struct);
 * console.log(task?.size);
 * ```
 */
export function loadKernelSpec(): Spec {
  return cachedKernelSpec();
}

/**
 * The per-process kernel spec behind {@linkcode loadKernelSpec}, made on first call from
 * the bytes `map` returns (handle.ts maps the file) or, when it returns undefined, from
 * reading the file. Internal: not exported from `btf/mod.ts`.
 */
export function cachedKernelSpec(map?: () => Uint8Array | undefined): Spec {
  return kernelSpec ??= checkTypesOnUse(parseSpec(map?.() ?? readKernelBtf("vmlinux")));
}

/**
 * The BTF of a kernel module, from `/sys/kernel/btf/<module>`: split BTF on top of
 * {@linkcode loadKernelSpec}. Cached per module; its types are checked as they are used.
 */
export function loadKernelModuleSpec(module: string): Spec {
  if (module === "" || module.includes("/") || module === "." || module === "..") {
    throw new TypeError(`Invalid kernel module name: "${module}"`);
  }
  if (module === "vmlinux") return loadKernelSpec();
  let spec = moduleSpecs.get(module);
  if (!spec) {
    spec = checkTypesOnUse(parseSpec(readKernelBtf(module), { base: loadKernelSpec() }));
    moduleSpecs.set(module, spec);
  }
  return spec;
}

/** The names of the kernel modules that have BTF (`/sys/kernel/btf` without `vmlinux`). */
export function kernelModulesWithBtf(): string[] {
  const out: string[] = [];
  try {
    for (const e of Deno.readDirSync(KERNEL_BTF_DIR)) if (e.name !== "vmlinux") out.push(e.name);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return out;
    throw e;
  }
  return out.sort();
}

function readKernelBtf(name: string): Uint8Array {
  try {
    return readFile(`${KERNEL_BTF_DIR}/${name}`);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      if (name === "vmlinux") {
        throw new NotSupportedError(
          "kernel BTF",
          "5.4",
          `${KERNEL_BTF_DIR}/vmlinux does not exist (kernel built without CONFIG_DEBUG_INFO_BTF)`,
          { cause: e },
        );
      }
      throw new NotSupportedError(
        `BTF of kernel module "${name}"`,
        "5.11",
        `${KERNEL_BTF_DIR}/${name} does not exist`,
        { cause: e },
      );
    }
    throw e;
  }
}
