/**
 * Where the loader applies CO-RE relocations: against the caller's target types or the
 * running kernel's BTF (vmlinux first, then modules, as libbpf searches), only when some
 * instruction carries a relocation.
 *
 * @module
 */

import type { Instructions } from "../asm/mod.ts";
import {
  applyCoreRelocations,
  CORE_RELO_META,
  type CoreCandidateCache,
  type CoreTargets,
  kernelModulesWithBtf,
  loadKernelModuleSpec,
  type Spec,
} from "../btf/mod.ts";
import { mapKernelSpec } from "../btf/handle.ts";

/** Whether any instruction carries a CO-RE relocation. */
export function hasCoreRelocations(insns: Instructions): boolean {
  for (const ins of insns.list) if (ins.meta?.[CORE_RELO_META] !== undefined) return true;
  return false;
}

let kernelTargets: CoreTargets | undefined;

/**
 * vmlinux, mapped once per process, and the modules with BTF, read only when a program
 * relocates a type vmlinux lacks (as libbpf loads module BTF): a distro kernel has a
 * hundred or more of them, ≈0.1 ms each to read and parse.
 */
export function kernelCoreTargets(): CoreTargets {
  if (kernelTargets) return kernelTargets;
  let modules: Spec[] | undefined;
  return kernelTargets = {
    vmlinux: mapKernelSpec(),
    modules: () => modules ??= loadModuleSpecs(),
  };
}

function loadModuleSpecs(): Spec[] {
  const specs: Spec[] = [];
  let names: string[] = [];
  try {
    names = kernelModulesWithBtf();
  } catch { /* no module BTF directory */ }
  for (const m of names) {
    try {
      specs.push(loadKernelModuleSpec(m));
    } catch { /* a module that went away or has unreadable BTF */ }
  }
  return specs;
}

/**
 * Searches the CO-RE candidates of all of an object's `programs` at once, into `cache`,
 * before they load one by one: each target's types are walked once, not once a program.
 * Only when some program has a relocation (the loads would read the kernel's BTF anyway);
 * what fails here fails again, in its turn, in the load of the program it concerns.
 */
export function prefetchCandidates(
  programs: Instructions[],
  targets: Spec | Spec[] | undefined,
  cache: CoreCandidateCache,
): void {
  if (!programs.some(hasCoreRelocations)) return;
  try {
    cache.prefetch(programs, targets ?? kernelCoreTargets());
  } catch { /* raised by the program's own load, after what comes before it */ }
}

/**
 * A copy of `insns` with every CO-RE relocation applied against `targets` (default: the
 * running kernel's BTF), or `insns` itself when there is nothing to relocate.
 */
export function applyRelocations(
  insns: Instructions,
  targets?: Spec | Spec[],
  cache?: CoreCandidateCache,
): Instructions {
  if (!hasCoreRelocations(insns)) return insns;
  return applyCoreRelocations(insns, targets ?? kernelCoreTargets(), { cache });
}
