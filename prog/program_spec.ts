/**
 * ProgramSpec: the description of a program to load. Plain data; no syscalls.
 *
 * What the ELF reader attaches to instructions, and what the loader reads back (the contract
 * between `elf/` and `prog/`):
 * - `symbol` on the first instruction of the program and of each subprogram linked after it;
 * - `reference` on bpf-to-bpf calls and function-pointer loads (the callee's symbol), on map
 *   loads (`LoadMapPtr`/`LoadMapValue`: the map's name in `CollectionSpec.maps`, with the
 *   value offset in the immediate), on kfunc calls and on ksym/kconfig loads (the extern's name);
 * - `line` (a `SourceLine`) from `.BTF.ext` line info;
 * - `meta[FUNC_INFO]` (the `btf.Func`) on the first instruction of each function;
 * - `meta[CORE_RELO]` (a `btf.CoreRelo`) on each instruction a CO-RE relocation patches;
 * - `meta[EXTERN]` (an {@linkcode ExternRef}) on each instruction that refers to an extern;
 * - `meta[HIDDEN_FUNC]` (`true`) on the first instruction of a subprogram whose symbol is
 *   global or weak but hidden (`__hidden`), which the loader makes static in BTF.
 *
 * @module
 */

import type { ByteOrder, Instructions } from "../asm/mod.ts";
import { CORE_RELO_META, FUNC_INFO_META, type Spec } from "../btf/mod.ts";
import { AttachType } from "./attach_type.ts";
import { ProgramType } from "./program_type.ts";
import { enumOption } from "../_internal/enum_option.ts";

/** Metadata key of the `btf.Func` that starts at an instruction (func_info). */
export const FUNC_INFO: "btf.func" = FUNC_INFO_META;
/** Metadata key of the `btf.CoreRelo` that patches an instruction. */
export const CORE_RELO: "btf.coreRelo" = CORE_RELO_META;
/** Metadata key of the {@linkcode ExternRef} an instruction refers to. */
export const EXTERN = "elf.extern";
/**
 * Metadata key that marks the first instruction of a subprogram with a hidden (or internal)
 * global symbol. libbpf loads such a function's `BTF_KIND_FUNC` as static, so that the
 * verifier checks it in each caller's context rather than once on its own; `usdt.bpf.h`'s
 * `bpf_usdt_arg` only verifies that way.
 */
export const HIDDEN_FUNC = "elf.hidden";

/** What kind of extern symbol an instruction refers to. */
export type ExternKind = "kconfig" | "ksym" | "kfunc";

/** An extern symbol an instruction refers to, resolved by the loader. */
export interface ExternRef {
  /** The symbol's name, such as `"LINUX_KERNEL_VERSION"` or `"bpf_task_acquire"`. */
  name: string;
  /** Where its value comes from. */
  kind: ExternKind;
  /** `__weak`: a missing symbol is zero rather than an error. */
  weak: boolean;
  /** For kconfig: the byte offset of the value in the `.kconfig` map. */
  offset?: number;
  /** The extern's BTF type (a `btf.Var` or `btf.Func`), when the object has BTF. */
  type?: unknown;
}

/** `BPF_F_*` program flags (`prog_flags` in `bpf_attr`). */
export const ProgramFlags = {
  StrictAlignment: 1 << 0,
  AnyAlignment: 1 << 1,
  TestRnd_hi32: 1 << 2,
  TestStateFreq: 1 << 3,
  Sleepable: 1 << 4,
  XdpHasFrags: 1 << 5,
  XdpDevBoundOnly: 1 << 6,
  TestRegInvariants: 1 << 7,
  Token: 1 << 16,
} as const;

/** The fields of a {@linkcode ProgramSpec} a caller must or may give. */
export interface ProgramSpecInit {
  /** See {@linkcode ProgramSpec.name}. */
  name?: string;
  /** The program type. */
  type: ProgramType;
  /** Expected attach type. */
  attachType?: AttachType;
  /** The attach target's name (function, tracepoint, BTF type). */
  attachTo?: string;
  /** ELF section the program came from. */
  sectionName?: string;
  /** The instructions, subprograms included. */
  instructions: Instructions;
  /** License string; GPL-only helpers need a GPL-compatible one. */
  license?: string;
  /** `kern_version` (only old kprobe programs need it). */
  kernelVersion?: number;
  /** {@linkcode ProgramFlags}. */
  flags?: number;
  /** Byte order of the instructions' origin. */
  byteOrder?: ByteOrder;
  /** The object's BTF, for func_info, line_info and CO-RE. */
  btf?: Spec;
  /** See {@linkcode ProgramSpec.autoload}; default true. */
  autoload?: boolean;
}

/**
 * A description of a program: what `Program.load` loads. Change it freely before loading;
 * `copy()` gives an independent copy (instructions copied, BTF shared).
 *
 * @example
 * ```ts
 * import { asm, ProgramSpec, ProgramType } from "@ebpf/ebpf";
 * const spec = new ProgramSpec({
 *   name: "ret_one",
 *   type: ProgramType.SocketFilter,
 *   instructions: new asm.Instructions([asm.Mov.Imm(asm.R0, 1), asm.Return()]),
 * });
 * ```
 */
export class ProgramSpec {
  // Declared, not defined: the constructor makes every field, in this order.
  /** The program's name (its function symbol); the kernel keeps 15 characters. */
  declare name: string;
  /** The program type. */
  declare type: ProgramType;
  /** Expected attach type (`AttachType.None` when the type needs none). */
  declare attachType: AttachType;
  /** The attach target's name, such as `"sys_enter"` for `tp_btf/sys_enter`. */
  declare attachTo: string;
  /** ELF section the program came from (empty for assembled programs). */
  declare sectionName: string;
  /**
   * The instructions, with subprograms appended after the entry function. The ELF reader
   * gives {@linkcode Instructions.lazy} ones, made when their `list` is first read.
   */
  declare instructions: Instructions;
  /** License string. */
  declare license: string;
  /** `kern_version` passed to BPF_PROG_LOAD. */
  declare kernelVersion: number;
  /** {@linkcode ProgramFlags}. */
  declare flags: number;
  /** Byte order of the instructions' origin. */
  declare byteOrder: ByteOrder;
  /** The object's BTF: the types func_info, line_info and CO-RE records refer to. */
  declare btf: Spec | undefined;
  /**
   * Whether `newCollection` loads the program when not told which to load: false for
   * libbpf's `SEC("?…")` sections (libbpf's `bpf_program__set_autoload`); a collection
   * loads such a program only when its `only` option names it.
   */
  declare autoload: boolean;

  /** Builds a spec; unset fields take the values of an assembled program. */
  constructor(init: ProgramSpecInit) {
    this.name = init.name ?? "";
    this.type = init.type ?? ProgramType.Unspecified;
    this.attachType = init.attachType ?? AttachType.None;
    this.attachTo = init.attachTo ?? "";
    this.sectionName = init.sectionName ?? "";
    this.instructions = init.instructions;
    this.license = init.license ?? "";
    this.kernelVersion = init.kernelVersion ?? 0;
    this.flags = init.flags ?? 0;
    this.byteOrder = init.byteOrder ?? "little";
    this.btf = init.btf;
    this.autoload = init.autoload ?? true;
  }

  /** An independent copy: the instructions are copied, the BTF spec is shared. */
  copy(): ProgramSpec {
    return new ProgramSpec({ ...this, instructions: this.instructions.copy() });
  }
}

/**
 * Throws a TypeError, before any syscall, when `spec` has no program type: its section is
 * one no SEC() convention knows (a typo such as `tracepiont/…`, or a name of the project's
 * own), or it was made in code without one. The kernel would answer EINVAL, which says
 * nothing; libbpf refuses such a program when loading ("missing BPF prog type, check ELF
 * section name"). Parsing keeps it, so that inspectors can read the object and callers can
 * set the type by hand.
 */
export function requireProgramType(spec: ProgramSpec): void {
  enumOption(spec.type, `type of program '${spec.name}'`, ProgramType, "ProgramType");
  enumOption(spec.attachType, `attachType of program '${spec.name}'`, AttachType, "AttachType");
  if (spec.type !== ProgramType.Unspecified) return;
  const detail = spec.sectionName
    ? `its section '${spec.sectionName}' matches no SEC() convention; ` +
      "fix the section name or set the spec's type"
    : "set the spec's type";
  throw new TypeError(`Cannot load program '${spec.name}': no program type: ${detail}`);
}
