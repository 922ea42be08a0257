/**
 * Where the loader applies CO-RE relocations: against the caller's target types or the
 * running kernel's BTF, only when some instruction carries a relocation.
 *
 * @module
 */

import type { Instructions } from "../asm/mod.ts";
import { CORE_RELO_META, loadKernelSpec, type Spec } from "../btf/mod.ts";
import { NotSupportedError } from "../errors.ts";

/** Whether the CO-RE pass (btf/core.ts) is wired in. */
export const CORE_AVAILABLE: boolean = false;

/** Whether any instruction carries a CO-RE relocation. */
export function hasCoreRelocations(insns: Instructions): boolean {
  for (const ins of insns.list) if (ins.meta?.[CORE_RELO_META] !== undefined) return true;
  return false;
}

/**
 * A copy of `insns` with every CO-RE relocation applied against `targets` (default: the
 * running kernel's BTF), or `insns` itself when there is nothing to relocate.
 */
export function applyRelocations(insns: Instructions, targets?: Spec | Spec[]): Instructions {
  if (!hasCoreRelocations(insns)) return insns;
  void (targets ?? loadKernelSpec());
  throw new NotSupportedError("CO-RE relocation", undefined, "btf/core.ts has not landed yet");
}
