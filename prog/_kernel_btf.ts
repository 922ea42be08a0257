/**
 * Finding kernel types by name in vmlinux and module BTF: attach targets, kfuncs and typed
 * ksyms all resolve to a BTF id plus, for modules, the module BTF object's fd.
 *
 * @module
 */

import {
  kernelModulesWithBtf,
  loadKernelModuleSpec,
  type Spec,
  type Type,
  type TypeClass,
} from "../btf/mod.ts";
import { BtfHandle, mapKernelSpec } from "../btf/handle.ts";
import { Attr, BpfCmd, bpfErrno } from "../ffi.ts";

/** A kernel type found by name. */
export interface KernelType<T extends Type> {
  /** The type. */
  type: T;
  /** Its id in vmlinux or in the module's split BTF. */
  id: number;
  /** The module that has it, undefined for vmlinux. */
  module: string | undefined;
}

/**
 * Looks `name` up with kind `kind` in `target` (the caller's kernel types), or in vmlinux
 * and then in every module with BTF.
 */
export function findKernelType<T extends Type>(
  name: string,
  kind: TypeClass<T>,
  target?: Spec | Spec[],
): KernelType<T> | undefined {
  if (target !== undefined) {
    for (const spec of Array.isArray(target) ? target : [target]) {
      const t = spec.typeByName(name, kind);
      if (t) return { type: t, id: spec.typeId(t)!, module: undefined };
    }
    return undefined;
  }
  const vmlinux = mapKernelSpec();
  const t = vmlinux.typeByName(name, kind);
  if (t) return { type: t, id: vmlinux.typeId(t)!, module: undefined };
  let modules: string[];
  try {
    modules = kernelModulesWithBtf();
  } catch {
    return undefined;
  }
  for (const module of modules) {
    let spec: Spec;
    try {
      spec = loadKernelModuleSpec(module);
    } catch {
      continue;
    }
    const m = spec.typeByName(name, kind);
    // typeByName also searches the base; only the module's own types count here.
    if (m) {
      const id = spec.typeId(m)!;
      if (id >= spec.firstTypeId) return { type: m, id, module };
    }
  }
  return undefined;
}

/** Opens the kernel BTF object of a module by name (walking BTF ids, as libbpf does). */
export function moduleBtfHandle(module: string): BtfHandle {
  const attr = new Attr();
  let id = 0;
  for (;;) {
    attr.reset().u32(0, id);
    if (bpfErrno(BpfCmd.BTF_GET_NEXT_ID, attr) < 0) break;
    id = attr.getU32(4);
    let handle: BtfHandle;
    try {
      handle = BtfHandle.fromId(id);
    } catch {
      continue;
    }
    const info = handle.info();
    if (info.kernelBtf && info.name === module) return handle;
    handle.close();
  }
  throw new Error(`Cannot find the BTF object of kernel module '${module}'`);
}
