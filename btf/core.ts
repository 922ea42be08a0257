/**
 * CO-RE relocation: patches the instructions that carry a {@linkcode CoreRelo} (metadata key
 * {@linkcode CORE_RELO_META}) for target BTF — the kernel's, and its modules' — exactly as
 * libbpf 1.1 does, poisoning what cannot be satisfied so that the verifier points at it.
 *
 * @module
 */

import {
  Class,
  copy,
  getMeta,
  Instruction,
  Instructions,
  LoadImm64Op,
  setMeta,
  Size,
} from "../asm/mod.ts";
import {
  type CoreCandidate,
  type CoreTargets,
  findCandidates,
  findCandidatesOfAll,
  toCoreTargets,
} from "./core_candidates.ts";
import { CoreRelocationError } from "./core_error.ts";
import { calcCoreFixup, type CoreFixup, describeCoreRelo } from "./core_fixup.ts";
import { CORE_RELO_KIND_NAMES, CORE_RELO_META, type CoreRelo, CoreReloKind } from "./ext.ts";
import { Spec } from "./spec.ts";
import type { Type } from "./types.ts";

/**
 * The helper id a poisoned instruction calls (libbpf's `0xbad2310`, "bad relo"). The
 * verifier rejects a reachable one with `invalid func unknown#195896080`.
 */
export const POISON_HELPER_ID = 0xbad2310;

/**
 * Instruction metadata key of the {@linkcode CoreFixup} applied to an instruction. It
 * replaces {@linkcode CORE_RELO_META} on the patched copy, so that patching twice is
 * impossible.
 */
export const CORE_FIXUP_META = "btf.coreFixup";

/**
 * Instruction metadata key of the {@linkcode CorePoison} on each poisoned instruction
 * (both halves of a poisoned 64-bit immediate load).
 */
export const CORE_POISON_META = "btf.corePoison";

/**
 * Instruction metadata key of the {@linkcode CoreTarget} on the instruction of a
 * `bpf_core_type_id_kernel()` relocation that found its type: the id is only meaningful
 * together with the BTF it belongs to (vmlinux, or a module's split BTF).
 */
export const CORE_TARGET_META = "btf.coreTarget";

/** Why an instruction was poisoned. */
export interface CorePoison {
  /** The relocation's number, in instruction order. */
  index: number;
  /** The relocation. */
  relo: CoreRelo;
  /** What is missing, such as `field 'task_struct___mine.nope' not found in target 'task_struct'`. */
  reason: string;
  /** The whole message: `CO-RE relocation #N: <reason> (<libbpf's spec>)`. */
  message: string;
}

/** Where the type of a target type id relocation was found. */
export interface CoreTarget {
  /** The BTF the id belongs to. */
  spec: Spec;
  /** Its index in the `targets` given to {@linkcode applyCoreRelocations}: 0 is vmlinux. */
  specIndex: number;
  /** The type id written into the instruction. */
  typeId: number;
}

/**
 * Candidates per local type, shared by several {@linkcode applyCoreRelocations} calls (the
 * programs of one object), as libbpf shares them across an object's programs. Create one
 * per object and set of targets; do not share it between different targets.
 */
export class CoreCandidateCache {
  readonly #map = new Map<Type, CoreCandidate[]>();
  #given: Spec | readonly Spec[] | CoreTargets | undefined;
  #targets: CoreTargets | undefined;

  /** The candidate list for `local`, searched on first use and narrowed by later matches. */
  get(local: Type, targets: Spec | readonly Spec[] | CoreTargets): CoreCandidate[] {
    const specs = this.#use(targets);
    let c = this.#map.get(local);
    if (!c) {
      c = findCandidates(local, specs);
      this.#map.set(local, c);
    }
    return c;
  }

  /**
   * Searches the candidates of every CO-RE relocation of `programs` at once (those not
   * cached yet): each target's types are walked once for all of them, where searching
   * type by type walks them once per name. {@linkcode applyCoreRelocations} does so for
   * its program; an object's loader can do so for all its programs first. Throws what
   * searching throws (a `FormatError` for corrupt target BTF).
   */
  prefetch(programs: Iterable<Instructions>, targets: Spec | readonly Spec[] | CoreTargets): void {
    const specs = this.#use(targets);
    const todo = new Set<Type>();
    for (const insns of programs) {
      for (const ins of insns.list) {
        const relo = getMeta(ins, CORE_RELO_META) as CoreRelo | undefined;
        if (relo !== undefined && needsCandidates(relo) && !this.#map.has(relo.type)) {
          todo.add(relo.type);
        }
      }
    }
    if (todo.size === 0) return;
    const locals = [...todo];
    const found = findCandidatesOfAll(locals, specs);
    locals.forEach((t, i) => this.#map.set(t, found[i]));
  }

  /** The targets of the first call; later calls must name the same ones. */
  #use(targets: Spec | readonly Spec[] | CoreTargets): CoreTargets {
    if (this.#targets === undefined) {
      this.#targets = toCoreTargets(targets);
      this.#given = targets;
    } else if (!sameTargets(this.#given!, targets)) {
      throw new RangeError("Candidate cache used with different target specs");
    }
    return this.#targets;
  }
}

function sameTargets(
  a: Spec | readonly Spec[] | CoreTargets,
  b: Spec | readonly Spec[] | CoreTargets,
): boolean {
  const x = a instanceof Spec ? [a] : a;
  const y = b instanceof Spec ? [b] : b;
  if (x === y) return true;
  return Array.isArray(x) && Array.isArray(y) && x.length === y.length &&
    x.every((s, i) => s === y[i]);
}

/** The local id relocation needs no candidates (libbpf does not search for them). */
function needsCandidates(relo: CoreRelo): boolean {
  return relo.kind !== CoreReloKind.TypeIdLocal && relo.type.name !== "";
}

/** Options of {@linkcode applyCoreRelocations}. */
export interface CoreOptions {
  /** Candidates shared with other calls for the same object and targets. */
  cache?: CoreCandidateCache;
}

/**
 * Computes every CO-RE relocation of `insns` without patching anything: for each
 * instruction with a {@linkcode CoreRelo} (in order), the local and target values and
 * whether it must be poisoned. `targets` is the kernel's BTF (vmlinux), `[vmlinux,
 * ...modules]`, or {@linkcode CoreTargets}; modules are searched only for types vmlinux
 * lacks (libbpf's rule).
 *
 * Throws {@linkcode CoreRelocationError} where libbpf fails the load.
 */
export function calcCoreRelocations(
  insns: Instructions,
  targets: Spec | readonly Spec[] | CoreTargets,
  options: CoreOptions = {},
): { insnIndex: number; fixup: CoreFixup }[] {
  toCoreTargets(targets); // a TypeError for what is not a target, before any work
  const cache = options.cache ?? new CoreCandidateCache();
  const out: { insnIndex: number; fixup: CoreFixup }[] = [];
  const list = insns.list;
  try {
    cache.prefetch([insns], targets);
  } catch {
    // A target that cannot be searched (corrupt BTF): the first relocation that needs
    // candidates throws the same error below, after those before it, as without prefetch.
  }
  for (let i = 0; i < list.length; i++) {
    const relo = getMeta(list[i], CORE_RELO_META) as CoreRelo | undefined;
    if (relo === undefined) continue;
    const index = out.length;
    const cands = needsCandidates(relo) ? cache.get(relo.type, targets) : undefined;
    out.push({ insnIndex: i, fixup: calcCoreFixup(index, relo, cands) });
  }
  return out;
}

/**
 * Applies the CO-RE relocations of a program for target BTF and returns a patched copy
 * (`insns` is left unchanged). Each instruction whose metadata holds a {@linkcode CoreRelo}
 * under {@linkcode CORE_RELO_META} is patched as libbpf 1.1's `bpf_core_patch_insn` does:
 * the immediate of an ALU instruction, the offset (and, for a field whose size changed,
 * the access size) of a load or store, or the value of a 64-bit immediate load.
 *
 * `targets` is the kernel's BTF, `[vmlinux, ...modules]` (module specs split on vmlinux),
 * or {@linkcode CoreTargets} (modules read only when needed); candidates come from vmlinux,
 * and from the modules only when vmlinux has none.
 *
 * A relocation that cannot be satisfied (a field or enumerator the target lacks, a field
 * whose load cannot change size) is poisoned: its instruction becomes a call to helper
 * {@linkcode POISON_HELPER_ID} (both halves of a 64-bit load), carrying a
 * {@linkcode CorePoison} under {@linkcode CORE_POISON_META} — dead code is removed by the
 * verifier; reachable code fails, and {@linkcode explainCorePoison} turns the verifier's
 * log into the relocation's description. Relocations libbpf refuses outright (candidates
 * that disagree, an access string that does not fit its type, an instruction that does
 * not hold the expected value) throw {@linkcode CoreRelocationError}.
 *
 * Patched instructions carry their {@linkcode CoreFixup} under {@linkcode CORE_FIXUP_META}
 * instead of the relocation; a found target type id carries a {@linkcode CoreTarget} under
 * {@linkcode CORE_TARGET_META} naming the BTF (vmlinux or module) the id belongs to.
 *
 * @example
 * ```ts
 * import { applyCoreRelocations, loadKernelSpec } from "@ebpf/ebpf/btf";
 * import type { asm } from "@ebpf/ebpf";
 * declare const insns: asm.Instructions; // with CoreRelo metadata from the ELF reader
 * const patched = applyCoreRelocations(insns, loadKernelSpec());
 * ```
 */
export function applyCoreRelocations(
  insns: Instructions,
  targets: Spec | readonly Spec[] | CoreTargets,
  options: CoreOptions = {},
): Instructions {
  const fixups = calcCoreRelocations(insns, targets, options);
  const src = insns.list;
  const out: Instruction[] = [];
  let next = 0;
  for (const { insnIndex, fixup } of fixups) {
    for (; next < insnIndex; next++) out.push(copy(src[next]));
    next = insnIndex + 1;
    patch(src[insnIndex], fixup, out);
  }
  for (; next < src.length; next++) out.push(copy(src[next]));
  return Instructions.of(out);
}

const u64 = (v: number) => BigInt.asUintN(64, BigInt(v));

function sizeBytes(opcode: number): number {
  switch (opcode & 0x18) {
    case Size.DWord:
      return 8;
    case Size.Word:
      return 4;
    case Size.Half:
      return 2;
    default:
      return 1;
  }
}

function sizeCode(bytes: number): number {
  switch (bytes) {
    case 8:
      return Size.DWord;
    case 4:
      return Size.Word;
    case 2:
      return Size.Half;
    case 1:
      return Size.Byte;
    default:
      return -1;
  }
}

/** libbpf's `bpf_core_patch_insn`, appending the result (two slots poisoned for ld_imm64). */
function patch(orig: Instruction, fixup: CoreFixup, out: Instruction[]): void {
  const ins = copy(orig);
  // One new metadata object: the relocation replaced by its outcome.
  const meta: Record<string, unknown> = {};
  for (const k in orig.meta) if (k !== CORE_RELO_META) meta[k] = orig.meta[k];
  meta[CORE_FIXUP_META] = fixup;
  ins.meta = meta;
  const fail = (detail: string): never => {
    throw new CoreRelocationError(
      fixup.index,
      fixup.relo,
      `${detail} (${describeCoreRelo(fixup.relo)})`,
    );
  };
  const poison = (reason: string) => {
    const p: CorePoison = {
      index: fixup.index,
      relo: fixup.relo,
      reason,
      message: `CO-RE relocation #${fixup.index}: ${reason} (${describeCoreRelo(fixup.relo)})`,
    };
    fixup.poison = true;
    fixup.reason = reason;
    const wide = ins.opcode === LoadImm64Op;
    poisonInsn(ins, p);
    out.push(ins);
    // The second slot of an imm64 load becomes a call too, so that offsets stay put and
    // the verifier does not trip over an opcode 0 first.
    if (wide) {
      const second = poisonInsn(Instruction(0), p);
      second.line = ins.line;
      out.push(second);
    }
  };
  if (fixup.poison) return poison(fixup.reason ?? "relocation cannot be satisfied");
  const cls = ins.opcode & 0x07;
  const { local, target } = fixup;
  switch (cls) {
    case Class.ALU:
    case Class.ALU64: {
      if ((ins.opcode & 0x08) !== 0) fail("instruction is not an ALU operation with an immediate");
      if (fixup.validate && u64(ins.imm) !== local) {
        fail(`unexpected value in ALU instruction: got ${ins.imm >>> 0}, expected ${local}`);
      }
      ins.imm = Number(BigInt.asIntN(32, target));
      break;
    }
    case Class.LDX:
    case Class.ST:
    case Class.STX: {
      if (fixup.validate && u64(ins.offset) !== local) {
        fail(`unexpected offset in load/store: got ${ins.offset & 0xffff}, expected ${local}`);
      }
      if (target > 0x7fffn) fail(`offset ${target} too big for a load/store`);
      if (fixup.failMemSizeAdjust) {
        return poison(
          `field '${
            fieldName(fixup)
          }' has size ${fixup.targetSize} in the target instead of ${fixup.localSize}, ` +
            "and a load of it cannot change size safely (only pointers and unsigned integers can)",
        );
      }
      ins.offset = Number(target);
      if (fixup.localSize !== fixup.targetSize) {
        const have = sizeBytes(ins.opcode);
        if (have !== fixup.localSize) {
          fail(`unexpected access size: got ${have}, expected ${fixup.localSize}`);
        }
        const code = sizeCode(fixup.targetSize);
        if (code < 0) fail(`invalid new access size ${fixup.targetSize}`);
        ins.opcode = (ins.opcode & 0xe0) | code | cls;
      }
      break;
    }
    case Class.LD: {
      if (ins.opcode !== LoadImm64Op || ins.src !== 0 || ins.offset !== 0) {
        fail("64-bit immediate load has an unexpected form");
      }
      const have = BigInt.asUintN(64, (BigInt(ins.immHi) << 32n) | BigInt(ins.imm >>> 0));
      if (fixup.validate && have !== local) {
        fail(`unexpected value in 64-bit immediate load: got ${have}, expected ${local}`);
      }
      ins.imm = Number(BigInt.asIntN(32, target));
      ins.immHi = Number(BigInt.asIntN(32, target >> 32n));
      break;
    }
    default:
      fail(`cannot relocate instruction with opcode 0x${ins.opcode.toString(16)}`);
  }
  if (
    fixup.relo.kind === CoreReloKind.TypeIdTarget && fixup.targetBtf !== undefined &&
    fixup.targetSpec !== undefined
  ) {
    const t: CoreTarget = {
      spec: fixup.targetBtf,
      specIndex: fixup.targetSpecIndex!,
      typeId: fixup.targetSpec.rootId,
    };
    setMeta(ins, CORE_TARGET_META, t);
  }
  out.push(ins);
}

function fieldName(fixup: CoreFixup): string {
  const s = fixup.localSpec;
  let name = s.root.name;
  for (const a of s.accessors) if (a.name !== undefined) name += `.${a.name}`;
  return name;
}

function poisonInsn(ins: Instruction, p: CorePoison): Instruction {
  ins.opcode = Class.JMP | 0x80; // call
  ins.dst = 0;
  ins.src = 0;
  ins.offset = 0;
  ins.imm = POISON_HELPER_ID;
  ins.immHi = 0;
  ins.reference = undefined;
  ins.map = undefined;
  setMeta(ins, CORE_POISON_META, p);
  return ins;
}

/** The {@linkcode CorePoison} of a poisoned instruction, or undefined. */
export function corePoisonOf(ins: Instruction): CorePoison | undefined {
  return getMeta(ins, CORE_POISON_META) as CorePoison | undefined;
}

const POISON_CALL_LINE = new RegExp(`^(\\d+): \\(85\\) call unknown#${POISON_HELPER_ID}\\b`);

/**
 * Explains a verifier log that rejected poisoned CO-RE code (`invalid func
 * unknown#195896080`): the messages of the relocations whose instructions the log shows
 * being reached, such as `CO-RE relocation #2: field 'task_struct___mine.nope' not found in
 * target 'task_struct' (...)`. `insns` are the instructions as loaded (after linking), so
 * that the log's instruction numbers (8-byte slots) find them. Returns an empty array when
 * the log does not mention the poison helper.
 */
export function explainCorePoison(
  insns: Instructions,
  log: string | readonly string[],
): string[] {
  const lines = typeof log === "string" ? log.split("\n") : log;
  if (!lines.some((l) => l.includes(`unknown#${POISON_HELPER_ID}`))) return [];
  const bySlot = new Map<number, Instruction>();
  let slot = 0;
  for (const ins of insns.list) {
    bySlot.set(slot, ins);
    slot += ins.opcode === LoadImm64Op ? 2 : 1;
  }
  const out = new Set<string>();
  for (const l of lines) {
    const m = POISON_CALL_LINE.exec(l.trim());
    if (!m) continue;
    // The second half of a poisoned imm64 load is its own slot: either finds the poison.
    const p = corePoisonOf(bySlot.get(Number(m[1])) ?? Instruction(0));
    if (p) out.add(p.message);
  }
  if (out.size === 0) {
    // A log without instruction dumps (log level 0 or truncated): name every poison.
    for (const ins of insns.list) {
      const p = corePoisonOf(ins);
      if (p) out.add(p.message);
    }
  }
  return [...out];
}

/** libbpf's name of a relocation kind, such as `"byte_off"`. */
export function coreReloKindName(kind: number): string {
  return CORE_RELO_KIND_NAMES[kind] ?? `unknown kind ${kind}`;
}

export { type CoreFixup, describeCoreRelo };
