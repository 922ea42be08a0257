/**
 * What a CO-RE relocation turns into (libbpf's `bpf_core_calc_relo_insn`): the value the
 * compiler put in the instruction (computed from the local type), the value the target
 * needs, whether the instruction must be poisoned instead, and for loads and stores the new
 * memory size.
 *
 * @module
 */

import { CoreCompatError } from "./core_compat.ts";
import type { CoreCandidate } from "./core_candidates.ts";
import { CoreRelocationError } from "./core_error.ts";
import {
  type CoreSpec,
  CoreSpecError,
  fieldPath,
  formatCoreSpec,
  isEnumvalBased,
  isFieldBased,
  matchCoreSpec,
  parseCoreSpec,
  resolveSize,
} from "./core_spec.ts";
import { CORE_RELO_KIND_NAMES, type CoreRelo, CoreReloKind } from "./ext.ts";
import type { Spec } from "./spec.ts";
import { Enum, Int, IntEncoding, Pointer, type Type } from "./types.ts";
import { skipMods } from "./core_compat.ts";

/** The outcome of one CO-RE relocation. */
export interface CoreFixup {
  /** The relocation's number, in instruction order. */
  index: number;
  /** The relocation record. */
  relo: CoreRelo;
  /** The value computed from the local type: what the instruction should hold now. */
  local: bigint;
  /** The value for the target: what the instruction gets (as an unsigned 64-bit value). */
  target: bigint;
  /** Whether the instruction is replaced by a call to the invalid helper instead. */
  poison: boolean;
  /** Why it is poisoned, in words; undefined when it is not. */
  reason: string | undefined;
  /** Whether the instruction's current value must equal `local` (libbpf's `validate`). */
  validate: boolean;
  /** Memory size of the field in the local type (byte offset relocations of fields), or 0. */
  localSize: number;
  /** Memory size of the field in the target type, or 0. */
  targetSize: number;
  /** A load or store of this field cannot change its size safely (libbpf poisons it). */
  failMemSizeAdjust: boolean;
  /** The local access path. */
  localSpec: CoreSpec;
  /** The target access path of the chosen candidate; undefined when none matched. */
  targetSpec: CoreSpec | undefined;
  /** Which of the target specs the chosen candidate is in. */
  targetSpecIndex: number | undefined;
  /** The target spec the chosen candidate is in. */
  targetBtf: Spec | undefined;
}

interface FieldValue {
  val: bigint;
  size: number;
  type: Type | undefined;
  validate: boolean;
}

/** libbpf's `bpf_core_calc_field_relo`; undefined when the spec is missing (poison). */
function calcField(
  kind: number,
  spec: CoreSpec | undefined,
  fail: (detail: string) => never,
): FieldValue | undefined {
  if (kind === CoreReloKind.FieldExists) {
    return { val: spec ? 1n : 0n, size: 0, type: undefined, validate: true };
  }
  if (!spec) return undefined;
  const acc = spec.accessors[spec.accessors.length - 1];
  if (acc.name === undefined) {
    // An array element (or the root itself) is being accessed.
    if (kind === CoreReloKind.FieldByteOffset) {
      return {
        val: BigInt(spec.bitOffset / 8),
        size: resolveSize(acc.type),
        type: acc.type,
        validate: true,
      };
    }
    if (kind === CoreReloKind.FieldByteSize) {
      return { val: BigInt(resolveSize(acc.type)), size: 0, type: undefined, validate: true };
    }
    fail(`${CORE_RELO_KIND_NAMES[kind]} cannot be applied to an array access`);
  }
  const m = (acc.type as { members: { type: Type; bitfieldSize: number }[] }).members[acc.idx];
  const mt = skipMods(m.type);
  const bitOff = spec.bitOffset;
  let bitSz = m.bitfieldSize;
  const bitfield = bitSz > 0;
  let byteSz: number;
  let byteOff: number;
  if (bitfield) {
    byteSz = (mt as { size: number }).size;
    byteOff = Math.floor(bitOff / 8 / byteSz) * byteSz;
    // The smallest load that covers the whole bitfield.
    while (bitOff + bitSz - byteOff * 8 > byteSz * 8) {
      if (byteSz >= 8) fail("bitfield cannot be read with a 64-bit load");
      byteSz *= 2;
      byteOff = Math.floor(bitOff / 8 / byteSz) * byteSz;
    }
  } else {
    byteSz = resolveSize(mt);
    byteOff = Math.floor(bitOff / 8);
    bitSz = byteSz * 8;
  }
  // Bitfield layouts are the compiler's choice: only signedness and the right shift are
  // checked against the instruction.
  let validate = !bitfield;
  let val: bigint;
  let size = 0;
  let type: Type | undefined;
  switch (kind) {
    case CoreReloKind.FieldByteOffset:
      val = BigInt(byteOff);
      if (!bitfield) {
        size = byteSz;
        type = mt;
      }
      break;
    case CoreReloKind.FieldByteSize:
      val = BigInt(byteSz);
      break;
    case CoreReloKind.FieldSigned:
      val = (mt instanceof Enum && mt.signed) ||
          (mt instanceof Int && (mt.encoding & IntEncoding.Signed) !== 0)
        ? 1n
        : 0n;
      validate = true;
      break;
    case CoreReloKind.FieldLShiftU64:
      // BPF objects here are read on a little-endian host, as libbpf computes it.
      val = BigInt(64 - (bitOff + bitSz - byteOff * 8));
      break;
    case CoreReloKind.FieldRShiftU64:
      val = BigInt(64 - bitSz);
      validate = true;
      break;
    default:
      fail(`unrecognized CO-RE relocation kind ${kind}`);
  }
  return { val, size, type, validate };
}

/** libbpf's `bpf_core_calc_type_relo`. */
function calcType(kind: number, spec: CoreSpec | undefined): { val: bigint; validate: boolean } {
  if (!spec) return { val: 0n, validate: true };
  switch (kind) {
    case CoreReloKind.TypeIdTarget:
      // Type ids change when objects are linked: the compiler's value is not checked.
      return { val: BigInt(spec.rootId), validate: false };
    case CoreReloKind.TypeExists:
    case CoreReloKind.TypeMatches:
      return { val: 1n, validate: true };
    case CoreReloKind.TypeSize:
      return { val: BigInt(resolveSize(spec.root)), validate: true };
    default:
      throw new CoreSpecError(`Unrecognized type relocation kind ${kind}`);
  }
}

/** libbpf's `bpf_core_calc_enumval_relo`; undefined asks for poisoning. */
function calcEnumval(kind: number, spec: CoreSpec | undefined): bigint | undefined {
  if (kind === CoreReloKind.EnumvalExists) return spec ? 1n : 0n;
  if (!spec) return undefined;
  const acc = spec.accessors[0];
  const e = acc.type as Enum;
  const v = e.values[acc.idx].value;
  // libbpf reads a 32-bit enumerator as a signed int into a u64: it sign-extends.
  return e.is64 ? BigInt.asUintN(64, v) : BigInt.asUintN(64, BigInt.asIntN(32, v));
}

interface Result {
  local: bigint;
  target: bigint;
  poison: boolean;
  validate: boolean;
  failMemSizeAdjust: boolean;
  localSize: number;
  targetSize: number;
}

/** libbpf's `bpf_core_calc_relo`: local and target values for one candidate (or none). */
function calcRelo(
  relo: CoreRelo,
  local: CoreSpec,
  targ: CoreSpec | undefined,
  fail: (detail: string) => never,
): Result {
  const res: Result = {
    local: 0n,
    target: 0n,
    poison: false,
    validate: true,
    failMemSizeAdjust: false,
    localSize: 0,
    targetSize: 0,
  };
  const kind = relo.kind;
  if (isFieldBased(kind)) {
    const l = calcField(kind, local, fail)!;
    res.local = l.val;
    res.localSize = l.size;
    res.validate = l.validate;
    const t = calcField(kind, targ, fail);
    if (!t) {
      res.poison = true;
      return res;
    }
    res.target = t.val;
    res.targetSize = t.size;
    if (res.localSize !== res.targetSize) {
      // Changing the size of a load is only safe for pointers (a 32-bit kernel's) and for
      // unsigned integers, which zero-extend.
      const lt = l.type;
      const tt = t.type;
      const unsigned = (x: Type | undefined) =>
        x instanceof Int && x.encoding !== IntEncoding.Signed;
      if (!((lt instanceof Pointer && tt instanceof Pointer) || (unsigned(lt) && unsigned(tt)))) {
        res.failMemSizeAdjust = true;
      }
    }
  } else if (isEnumvalBased(kind)) {
    const l = calcEnumval(kind, local);
    const t = calcEnumval(kind, targ);
    if (l === undefined || t === undefined) {
      res.poison = true;
      if (l !== undefined) res.local = l;
      return res;
    }
    res.local = l;
    res.target = t;
  } else {
    const l = calcType(kind, local);
    res.local = l.val;
    res.validate = l.validate;
    res.target = calcType(kind, targ).val;
  }
  return res;
}

/** Why a relocation without a matching candidate is poisoned, in words. */
function poisonReason(relo: CoreRelo, local: CoreSpec, targetName: string): string {
  const where = targetName === "" ? "in target" : `in target '${targetName}'`;
  if (isEnumvalBased(relo.kind)) {
    return `enum value '${local.root.name}::${local.accessors[0].name}' not found ${where}`;
  }
  return `field '${fieldPath(local)}' not found ${where}`;
}

/**
 * Computes one relocation against its candidates, as libbpf does: every matching candidate
 * must give the same bit offset and the same value, or the relocation is ambiguous. The
 * candidate list is narrowed in place to the matching ones (when there are any), so that
 * later relocations of the same local type see only those — libbpf's cache behaves so.
 *
 * Throws {@linkcode CoreRelocationError} where libbpf fails the load.
 */
export function calcCoreFixup(
  index: number,
  relo: CoreRelo,
  cands: CoreCandidate[] | undefined,
): CoreFixup {
  const fail = (detail: string): never => {
    throw new CoreRelocationError(index, relo, detail);
  };
  try {
    return calc(index, relo, cands, fail);
  } catch (e) {
    if (e instanceof CoreSpecError || e instanceof CoreCompatError) {
      fail(`${describeCoreRelo(relo)}: ${e.message}`);
    }
    throw e;
  }
}

function calc(
  index: number,
  relo: CoreRelo,
  cands: CoreCandidate[] | undefined,
  fail: (detail: string) => never,
): CoreFixup {
  const localSpec = parseCoreSpec(relo);
  const fixup: CoreFixup = {
    index,
    relo,
    local: 0n,
    target: 0n,
    poison: false,
    reason: undefined,
    validate: true,
    localSize: 0,
    targetSize: 0,
    failMemSizeAdjust: false,
    localSpec,
    targetSpec: undefined,
    targetSpecIndex: undefined,
    targetBtf: undefined,
  };
  if (relo.kind === CoreReloKind.TypeIdLocal) {
    fixup.local = fixup.target = BigInt(relo.typeId);
    fixup.validate = false;
    return fixup;
  }
  if (relo.type.name === "") {
    fail(`${CORE_RELO_KIND_NAMES[relo.kind]} relocation does not support anonymous types`);
  }
  cands ??= [];
  let chosen: Result | undefined;
  let kept = 0;
  for (let i = 0; i < cands.length; i++) {
    const c = cands[i];
    const spec = matchCoreSpec(localSpec, c.type, c.id);
    if (!spec) continue;
    const res = calcRelo(relo, localSpec, spec, fail);
    if (chosen === undefined) {
      chosen = res;
      fixup.targetSpec = spec;
      fixup.targetSpecIndex = c.specIndex;
      fixup.targetBtf = c.spec;
    } else if (spec.bitOffset !== fixup.targetSpec!.bitOffset) {
      fail(
        `field offset ambiguity: ${spec.bitOffset} != ${fixup.targetSpec!.bitOffset} (${
          formatCoreSpec(spec)
        } vs ${formatCoreSpec(fixup.targetSpec!)})`,
      );
    } else if (res.poison !== chosen.poison || res.target !== chosen.target) {
      fail(
        `relocation decision ambiguity: ${res.poison ? "failure" : "success"} ${res.target} != ${
          chosen.poison ? "failure" : "success"
        } ${chosen.target} (${formatCoreSpec(spec)} vs ${formatCoreSpec(fixup.targetSpec!)})`,
      );
    }
    cands[kept++] = c;
  }
  if (kept > 0) cands.length = kept;
  if (chosen === undefined) {
    chosen = calcRelo(relo, localSpec, undefined, fail);
    if (chosen.poison) {
      const names = [...new Set(cands.map((c) => c.type.name))].join("', '");
      fixup.reason = poisonReason(relo, localSpec, names);
    }
  }
  fixup.local = chosen.local;
  fixup.target = chosen.target;
  fixup.poison = chosen.poison;
  fixup.validate = chosen.validate;
  fixup.localSize = chosen.localSize;
  fixup.targetSize = chosen.targetSize;
  fixup.failMemSizeAdjust = chosen.failMemSizeAdjust;
  return fixup;
}

/**
 * Describes a relocation for messages and debugging, in libbpf's words:
 * `<byte_off> [7] struct core_flags.inner.y (0:3:1 @ offset 16)`. An access string that
 * does not fit its type is shown raw.
 *
 * @example
 * ```ts
 * import { describeCoreRelo, loadSpecAndExtInfos } from "@ebpf/ebpf/btf";
 * const { extInfos } = loadSpecAndExtInfos("testdata/core_relos-el.o");
 * for (const relo of extInfos!.coreRelos.get("raw_tp/field_offset")!) {
 *   console.log(describeCoreRelo(relo));
 * }
 * ```
 */
export function describeCoreRelo(relo: CoreRelo): string {
  try {
    return formatCoreSpec(parseCoreSpec(relo));
  } catch {
    const kind = CORE_RELO_KIND_NAMES[relo.kind] ?? `kind ${relo.kind}`;
    return `<${kind}> [${relo.typeId}] ${relo.type.kind} ${
      relo.type.name || "<anon>"
    } + ${relo.accessor}`;
  }
}
