/**
 * The kernel side of struct_ops programs and maps: which kernel struct and member a program
 * is loaded for (`attach_btf_id`, `expected_attach_type`), and a struct_ops map's value laid
 * out as the kernel's `bpf_struct_ops_<type>` from the object's members, matched by name
 * (libbpf's `bpf_map__init_kern_struct_ops`).
 *
 * @module
 */

import {
  Array as ArrayType,
  Enum,
  FuncProto,
  Int,
  type Member,
  Pointer,
  sizeof,
  type Spec,
  Struct,
  type Type,
  underlyingType,
} from "../btf/mod.ts";
import { mapKernelSpec } from "../btf/handle.ts";
import { NotSupportedError } from "../errors.ts";
import { HOST_BYTE_ORDER } from "../asm/mod.ts";
import type { MapSpec } from "../map/map_spec.ts";
import { STRUCT_OPS_VALUE_PREFIX } from "../map/_struct_ops.ts";
import { findKernelType } from "./_kernel_btf.ts";
import { ProgramSpec } from "./program_spec.ts";

/** Where a struct_ops program plugs in: `attach_btf_id` and `expected_attach_type`. */
export interface StructOpsSlot {
  /** The id of the kernel struct (`tcp_congestion_ops`) in vmlinux or module BTF. */
  btfId: number;
  /** The module whose BTF has it, undefined for vmlinux. */
  module: string | undefined;
  /** The member's index in the kernel struct: the program's expected attach type. */
  memberIndex: number;
}

/**
 * Resolves a struct_ops program's `attachTo` (`"tcp_congestion_ops:init"`, as the ELF
 * reader sets it for programs a struct_ops variable names) against the kernel's BTF. A
 * struct the kernel lacks is a {@linkcode NotSupportedError} naming it.
 */
export function structOpsSlot(
  programName: string,
  attachTo: string,
  kernelTypes?: Spec | Spec[],
): StructOpsSlot {
  const sep = attachTo.indexOf(":");
  if (sep <= 0 || sep === attachTo.length - 1) {
    throw new TypeError(
      `Cannot load struct_ops program '${programName}': no struct_ops map plugs it in ` +
        `(attachTo '${attachTo}' names no '<struct>:<member>'); libbpf refuses it too, ` +
        `so reference it from a SEC(".struct_ops") variable or mark it SEC("?struct_ops/…")`,
    );
  }
  const structName = attachTo.slice(0, sep);
  const memberName = attachTo.slice(sep + 1);
  const found = findKernelType(structName, Struct, kernelTypes);
  if (!found) {
    throw new NotSupportedError(
      `struct_ops "${structName}"`,
      undefined,
      `the kernel's BTF has no struct "${structName}"`,
    );
  }
  const memberIndex = found.type.members.findIndex((m) => m.name === memberName);
  if (memberIndex < 0) {
    throw new NotSupportedError(
      `struct_ops member "${structName}.${memberName}"`,
      undefined,
      "the kernel's struct has no such member",
    );
  }
  if (!isFunctionPointer(found.type.members[memberIndex].type)) {
    throw new TypeError(
      `Cannot load struct_ops program '${programName}': the kernel's ` +
        `"${structName}.${memberName}" is no function pointer`,
    );
  }
  return { btfId: found.id, module: found.module, memberIndex };
}

/**
 * The value of struct_ops map `ms` as the kernel wants it: `bpf_struct_ops_<type>` with its
 * `data` member filled from the spec's entry, an object of members by name. Function
 * pointers (names of programs, their specs, or `Program`s) become the loaded programs' fds; numbers,
 * bigints, strings (char arrays) and bytes are written where the kernel's member of the
 * same name lies. A member the kernel lacks is allowed only when zero, as in libbpf. With
 * `partial`, function pointers to programs that were not loaded are left empty.
 */
export function structOpsValue(
  ms: MapSpec,
  programs: Record<string, LoadedProgram>,
  partial = false,
): Uint8Array {
  const userType = ms.value;
  if (!(userType instanceof Struct) || userType.name === "") {
    throw new TypeError(`Map '${ms.name}' of type STRUCT_OPS needs a named BTF struct value`);
  }
  const members = ms.contents[0]?.value ?? {};
  if (ms.contents.length > 1 || typeof members !== "object" || members instanceof Uint8Array) {
    throw new TypeError(
      `Map '${ms.name}': a struct_ops map takes one entry, an object of members by name`,
    );
  }
  const name = userType.name;
  const vmlinux = mapKernelSpec();
  const wrapper = vmlinux.typeByName(STRUCT_OPS_VALUE_PREFIX + name, Struct);
  const data = wrapper?.members.find((m) => {
    const t = underlyingType(m.type);
    return t instanceof Struct && t.name === name;
  });
  if (!wrapper || !data) {
    throw new NotSupportedError(
      `struct_ops "${name}"`,
      undefined,
      `the kernel's BTF has no "${STRUCT_OPS_VALUE_PREFIX}${name}" holding a "${name}"`,
    );
  }
  const kernelStruct = underlyingType(data.type) as Struct;
  const out = new Uint8Array(wrapper.size);
  const view = new DataView(out.buffer);
  const base = data.offset / 8;
  for (const [memberName, value] of Object.entries(members as Record<string, unknown>)) {
    const km = kernelStruct.members.find((m) => m.name === memberName);
    const what = `map '${ms.name}' member '${memberName}'`;
    if (!km) {
      if (isZero(value)) continue;
      throw new NotSupportedError(
        `struct_ops member "${name}.${memberName}"`,
        undefined,
        `the kernel's struct lacks it and ${what} is not zero`,
      );
    }
    if (km.bitfieldSize !== 0) {
      throw new NotSupportedError(`bitfield struct_ops member "${name}.${memberName}"`);
    }
    const at = base + km.offset / 8;
    if (isFunctionPointer(km.type)) {
      if (value === undefined || value === null || value === 0 || value === 0n) continue;
      const prog = programFor(value, programs);
      if (!prog) {
        if (partial) continue;
        throw new ReferenceError(
          `Cannot fill ${what}: program ${label(value)} is not loaded`,
        );
      }
      view.setBigUint64(at, BigInt(prog.fd), HOST_BYTE_ORDER === "little");
      continue;
    }
    writeData(what, km, value, view, at);
  }
  return out;
}

/** Writes a data member: an integer, a string into a char array, or bytes of its size. */
function writeData(what: string, km: Member, value: unknown, view: DataView, at: number): void {
  const t = underlyingType(km.type);
  const size = sizeof(t);
  const little = HOST_BYTE_ORDER === "little";
  if (value instanceof Uint8Array) {
    if (value.length !== size) {
      throw new RangeError(`Cannot fill ${what}: ${value.length} bytes for a ${size}-byte member`);
    }
    new Uint8Array(view.buffer, at, size).set(value);
    return;
  }
  if (typeof value === "string") {
    const bytes = new TextEncoder().encode(value);
    if (!isCharArray(t) || bytes.length >= size) {
      throw new RangeError(
        `Cannot fill ${what}: a string needs a char array longer than ${bytes.length} bytes`,
      );
    }
    new Uint8Array(view.buffer, at, size).set(bytes);
    return;
  }
  if (typeof value === "number" || typeof value === "bigint") {
    if (!(t instanceof Int || t instanceof Enum) || ![1, 2, 4, 8].includes(size)) {
      throw new TypeError(`Cannot fill ${what}: the kernel's member is no integer`);
    }
    const bits = BigInt(size * 8);
    const n = BigInt(value);
    if (n < -(1n << (bits - 1n)) || n >= 1n << bits) {
      throw new RangeError(`Cannot fill ${what}: ${n} does not fit in ${size} bytes`);
    }
    const u = BigInt.asUintN(size * 8, n);
    for (let i = 0; i < size; i++) {
      const byte = Number((u >> BigInt(8 * (little ? i : size - 1 - i))) & 0xffn);
      view.setUint8(at + i, byte);
    }
    return;
  }
  throw new TypeError(`Cannot fill ${what}: expected a number, bigint, string or bytes`);
}

/** A loaded program, as far as a struct_ops value needs one (`Program` without the import cycle). */
interface LoadedProgram {
  readonly fd: number;
}

function programFor(
  value: unknown,
  programs: Record<string, LoadedProgram>,
): LoadedProgram | undefined {
  if (value !== null && typeof value === "object" && "fd" in value) {
    return value as LoadedProgram;
  }
  const name = typeof value === "string"
    ? value
    : value instanceof ProgramSpec
    ? value.name
    : undefined;
  return name !== undefined && Object.hasOwn(programs, name) ? programs[name] : undefined;
}

function label(value: unknown): string {
  if (typeof value === "string") return `'${value}'`;
  if (value && typeof value === "object" && "name" in value) return `'${String(value.name)}'`;
  return String(value);
}

function isZero(value: unknown): boolean {
  if (value === undefined || value === null || value === 0 || value === 0n || value === "") {
    return true;
  }
  return value instanceof Uint8Array && value.every((b) => b === 0);
}

function isFunctionPointer(t: Type): boolean {
  const u = underlyingType(t);
  return u instanceof Pointer && underlyingType(u.target) instanceof FuncProto;
}

function isCharArray(t: Type): boolean {
  return t instanceof ArrayType && underlyingType(t.type) instanceof Int &&
    sizeof(underlyingType(t.type)) === 1;
}

/** `BPF_F_LINK`: a struct_ops map that a link, not its update, registers. */
const BPF_F_LINK = 1 << 13;

/** A struct_ops map's kernel value, made when asked (its programs' fds are read then). */
type PendingValue = () => Uint8Array;

/**
 * Values of struct_ops maps made without `BPF_F_LINK`, kept until they are registered:
 * for those maps the update itself registers the ops table with the kernel, and libbpf
 * leaves that to attach time. Held weakly, by the collection's map object.
 */
const pending = new WeakMap<object, PendingValue>();

/**
 * Fills a collection's struct_ops map once its programs are loaded. A map made with
 * `BPF_F_LINK` gets its value now (the link registers it later); for any other map the
 * value waits for `registerStructOps`, as writing it would register it at once.
 */
export function fillStructOps(
  map: { readonly flags: number; update(key: number, value: Uint8Array): void },
  ms: MapSpec,
  programs: Record<string, LoadedProgram>,
  partial: boolean,
): void {
  const value = () => structOpsValue(ms, programs, partial);
  if ((ms.flags & BPF_F_LINK) !== 0) map.update(0, value());
  else {
    value(); // checked now, so that a bad spec fails the load rather than the registration
    pending.set(map, value);
  }
}

/** The value a collection prepared for struct_ops map `map`, if it made the map. */
export function pendingStructOpsValue(map: object): PendingValue | undefined {
  return pending.get(map);
}
