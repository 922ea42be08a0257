/**
 * Resolving kernel symbols in instructions: kfunc calls (a BTF id, and the index of a module's
 * BTF in `fd_array`), typed ksyms (`BPF_PSEUDO_BTF_ID`) and typeless ksyms (an address from
 * `/proc/kallsyms`), as libbpf resolves them. A typed function ksym on a kernel before 6.4,
 * which takes only variables by BTF id, loads its address from `/proc/kallsyms` instead.
 *
 * @module
 */

import {
  CallKind,
  Class,
  copy,
  type Instruction,
  Instructions,
  JumpOp,
  LoadImm64Op,
  Pseudo,
} from "../asm/mod.ts";
import { Func, skipQualifiers, type Spec, type Type, Var, Void } from "../btf/mod.ts";
import type { BtfHandle } from "../btf/handle.ts";
import { EXTERN, type ExternRef } from "./program_spec.ts";
import { findKernelType, type KernelType, moduleBtfHandle } from "./_kernel_btf.ts";
import { skipMods, typesAreCompat } from "../btf/core_compat.ts";
import { kallsymsAddress } from "./_kallsyms.ts";
import { ksymFunctions } from "./_prog_features.ts";
import { NotSupportedError } from "../errors.ts";

const CALL = Class.JMP | JumpOp.Call;

/** Instructions with kernel symbols resolved, and what the load needs for them. */
export interface ResolvedSymbols {
  /** The instructions (a copy when anything changed). */
  insns: Instructions;
  /** `fd_array` for module kfuncs: index 0 is unused, as in libbpf. */
  fdArray: number[];
  /** Module BTF handles to close after the load. */
  handles: BtfHandle[];
}

/** Makes the `ld_imm64` `ins` load the plain 64-bit value `addr`. */
function setAddress(ins: Instruction, addr: bigint): void {
  ins.src = Pseudo.None;
  ins.imm = Number(BigInt.asIntN(32, addr));
  ins.immHi = Number(BigInt.asIntN(32, addr >> 32n));
}

/**
 * The address of kernel function `name` for a kernel without typed function ksyms (before
 * 6.4): the one /proc/kallsyms lists, which is what a newer kernel fills in itself. Without
 * it (not listed, or hidden as 0 by `kptr_restrict`) the load cannot be done there.
 */
function functionAddress(name: string): bigint {
  const addr = kallsymsAddress(name);
  if (addr === undefined || addr === 0n) {
    throw new NotSupportedError(
      ksymFunctions.feature,
      ksymFunctions.minKernel,
      `ksym '${name}' is a function, and /proc/kallsyms gives no address for it to use instead`,
    );
  }
  return addr;
}

/** Whether `ins` refers to a kernel symbol the loader must resolve. */
export function needsKernelSymbol(ins: Instruction): boolean {
  const ext = ins.meta?.[EXTERN] as ExternRef | undefined;
  if (ext !== undefined) return ext.kind === "ksym" || ext.kind === "kfunc";
  if (ins.reference === undefined) return false;
  return (ins.opcode === CALL && ins.src === CallKind.Kfunc) ||
    (ins.opcode === LoadImm64Op && ins.src === Pseudo.BTFID);
}

/**
 * `found` when the extern's own BTF type is compatible with the kernel's, as libbpf checks
 * (`bpf_core_types_are_compat` on a variable's type or a function's prototype); undefined
 * for a weak extern that is not; an error naming both types otherwise.
 */
function compatible<T extends Func | Var>(
  found: KernelType<T> | undefined,
  ext: ExternRef | undefined,
  what: string,
): KernelType<T> | undefined {
  const local = ext?.type;
  if (!found || !(local instanceof Func || local instanceof Var)) return found;
  // libbpf compares the types with modifiers and typedefs skipped on both sides.
  const mine = skipMods(local.type);
  const theirs = skipMods(found.type.type);
  if (typesAreCompat(mine, theirs)) return found;
  if (ext!.weak) return undefined;
  throw new TypeError(
    `Cannot resolve ${what} '${found.type.name}': its type ${describe(mine)} is incompatible ` +
      `with the kernel's ${describe(theirs)}`,
  );
}

function describe(t: Type): string {
  return t.name ? `${t.kind} '${t.name}'` : t.kind;
}

/**
 * Resolves every kfunc call and ksym load of `insns`. `kernelTypes` replaces the running
 * kernel's BTF. A missing non-weak kfunc throws a NotSupportedError naming it, a missing
 * non-weak ksym a ReferenceError.
 */
export function resolveKernelSymbols(
  insns: Instructions,
  kernelTypes?: Spec | Spec[],
): ResolvedSymbols {
  const out: ResolvedSymbols = { insns, fdArray: [], handles: [] };
  let list: Instruction[] | undefined;
  const modules = new Map<string, number>();
  const moduleIndex = (module: string): { index: number; fd: number } => {
    let index = modules.get(module);
    if (index === undefined) {
      const handle = moduleBtfHandle(module);
      out.handles.push(handle);
      if (out.fdArray.length === 0) out.fdArray.push(0);
      index = out.fdArray.length;
      out.fdArray.push(handle.fd);
      modules.set(module, index);
    }
    return { index, fd: out.fdArray[index] };
  };
  try {
    for (let i = 0; i < insns.list.length; i++) {
      const orig = insns.list[i];
      if (!needsKernelSymbol(orig)) continue;
      list ??= insns.list.slice();
      const ins = list[i] = copy(orig);
      const ext = orig.meta?.[EXTERN] as ExternRef | undefined;
      const name = ext?.name ?? orig.reference!;
      const weak = ext?.weak ?? false;
      if (ins.opcode === CALL) {
        const found = compatible(findKernelType(name, Func, kernelTypes), ext, "kfunc");
        ins.src = CallKind.Kfunc;
        if (!found) {
          // As cilium/ebpf says: a kernel without the kfunc does not support the program.
          if (!weak) throw new NotSupportedError(`kfunc '${name}'`, undefined, "not in kernel BTF");
          ins.imm = 0;
          ins.offset = 0;
        } else {
          ins.imm = found.id;
          ins.offset = found.module === undefined ? 0 : moduleIndex(found.module).index;
        }
        ins.reference = undefined;
        continue;
      }
      // A ksym: typed when its BTF type says what it is — a variable of a stated type, or a
      // function whose address is taken — and then resolved through kernel BTF alone, as
      // libbpf does (a weak one the BTF lacks is NULL, whatever kallsyms lists).
      const local = ext?.type;
      const typed = ext === undefined || local instanceof Func ||
        (local instanceof Var && !(skipQualifiers(local.type) instanceof Void));
      if (typed) {
        const found = local instanceof Func
          ? compatible(findKernelType(name, Func, kernelTypes), ext, "ksym")
          : compatible(findKernelType(name, Var, kernelTypes), ext, "ksym");
        if (found && local instanceof Func && !ksymFunctions.supported()) {
          setAddress(ins, functionAddress(name));
        } else if (found) {
          ins.src = Pseudo.BTFID;
          ins.imm = found.id;
          ins.immHi = found.module === undefined ? 0 : moduleIndex(found.module).fd;
        } else {
          if (!weak) throw new ReferenceError(`Cannot resolve ksym '${name}': not in kernel BTF`);
          setAddress(ins, 0n);
        }
        ins.reference = undefined;
        continue;
      }
      const addr = kallsymsAddress(name);
      if (addr === undefined && !weak) {
        throw new ReferenceError(`Cannot resolve ksym '${name}': not in /proc/kallsyms`);
      }
      setAddress(ins, addr ?? 0n);
      ins.reference = undefined;
    }
  } catch (e) {
    for (const h of out.handles) h.close();
    throw e;
  }
  if (list) out.insns = Instructions.of(list);
  return out;
}
