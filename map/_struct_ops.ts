/**
 * The kernel side of a struct_ops map: the `bpf_struct_ops_<name>` wrapper type in vmlinux
 * BTF whose id goes in `btf_vmlinux_value_type_id` and whose size is the map's value size.
 *
 * @module
 */

import { Struct } from "../btf/types.ts";
import { mapKernelSpec } from "../btf/handle.ts";
import { NotSupportedError } from "../errors.ts";
import { isBtfType } from "./codec.ts";

/** The prefix the kernel gives the value type of each struct_ops it registers. */
export const STRUCT_OPS_VALUE_PREFIX = "bpf_struct_ops_";

/** Where the kernel keeps a struct_ops value type. */
export interface StructOpsTarget {
  /** The name of the wrapper type, such as `"bpf_struct_ops_tcp_congestion_ops"`. */
  name: string;
  /** Its id in vmlinux BTF. */
  typeId: number;
  /** Its size: the value size the kernel requires of the map. */
  size: number;
}

/**
 * Finds the kernel value type of the struct_ops whose user-side type is `value` (a BTF
 * struct named as the kernel's, such as `tcp_congestion_ops`), as libbpf and cilium/ebpf
 * do: by the name `bpf_struct_ops_<name>` in vmlinux BTF. Module types are not searched
 * here; give their id and the module's BTF fd through `MapCreateOptions.btf`.
 */
export function structOpsTarget(mapName: string, value: unknown): StructOpsTarget {
  if (!isBtfType(value) || !(value instanceof Struct) || value.name === "") {
    throw new TypeError(
      `Map "${mapName}" of type STRUCT_OPS needs a named BTF struct as its value type, ` +
        `such as "tcp_congestion_ops"`,
    );
  }
  const name = STRUCT_OPS_VALUE_PREFIX + value.name;
  const vmlinux = mapKernelSpec();
  const target = vmlinux.typeByName(name, Struct);
  if (!target) {
    throw new NotSupportedError(
      `struct_ops "${value.name}"`,
      undefined,
      `the kernel's BTF has no "${name}" (not built in, or registered by a module)`,
    );
  }
  return { name, typeId: vmlinux.typeId(target)!, size: target.size };
}
