/**
 * USDT probes (statically defined user-space tracepoints, `sys/sdt.h`): the
 * `.note.stapsdt` notes of an ELF file, their argument specs, and attaching a kprobe
 * program to a probe as a uprobe that also bumps the probe's semaphore.
 *
 * Programs written the libbpf way (`SEC("usdt")`, `BPF_USDT`, `bpf_usdt_arg` from
 * `<bpf/usdt.bpf.h>`) read their arguments at run time from the spec
 * {@linkcode attachUsdt} writes into the program's `__bpf_usdt_specs` map under a spec id,
 * which it sets as the uprobe's BPF cookie: as libbpf's `bpf_program__attach_usdt` does.
 *
 * Programs built with `asm` read argument `i` as its spec says: from a register of
 * `pt_regs` (the program's context), from memory at a register plus an offset, or a
 * constant. {@linkcode UsdtArg.ptRegsOffset} gives the register's offset in `pt_regs`;
 * {@linkcode usdtArgInstructions} emits the loads.
 *
 * @module
 */

import * as asm from "../asm/mod.ts";
import { FormatError } from "../errors.ts";
import { BpfMap } from "../map/bpf_map.ts";
import type { Program } from "../prog/program.ts";
import { openTarget, type TargetElf } from "./_uprobe_elf.ts";
import {
  allocateSpecId,
  checkSpecsMap,
  encodeUsdtSpec,
  freeSpecIds,
  USDT_MAX_ARG_CNT,
  USDT_SPECS_MAP_NAME,
} from "./_usdt_spec.ts";
import type { PerfEventIoctlLink, PerfEventLink } from "./perf_event.ts";
import { attachUprobeAt, type UprobeOptions } from "./uprobe.ts";

/**
 * A USDT argument string this library (like libbpf) cannot read: a malformed spec, an
 * unknown register, or an operand form such as `8@-8(%rbp,%rax,8)` or `4@sym(%rip)`.
 */
export class UsdtArgError extends SyntaxError {
  /** The argument string, such as `"-4@-12(%rbp)"`. */
  readonly spec: string;

  /** Builds the error; `spec` is quoted in the message. */
  constructor(message: string, spec: string, options?: ErrorOptions) {
    super(`${message}: "${spec}"`, options);
    this.name = "UsdtArgError";
    this.spec = spec;
  }
}

/** One argument of a USDT probe, as its spec string describes it. */
export interface UsdtArg {
  /** The spec as written, such as `"-4@-12(%rbp)"`. */
  spec: string;
  /** Where the value is. */
  kind: "const" | "reg" | "reg_deref";
  /** Size in bytes (1, 2, 4 or 8). */
  size: number;
  /** Whether the value is signed. */
  signed: boolean;
  /** The register's name, for `reg` and `reg_deref`. */
  register?: string;
  /** The register's byte offset in x86-64 `struct pt_regs`. */
  ptRegsOffset?: number;
  /** The constant (`const`) or the offset from the register (`reg_deref`). */
  value: bigint;
}

/** A USDT probe of an ELF file. */
export interface UsdtProbe {
  /** The provider, the first argument of `STAP_PROBEn`. */
  provider: string;
  /** The probe's name. */
  name: string;
  /** The probe's file offset: where the uprobe goes. */
  offset: bigint;
  /** The semaphore's file offset, or 0 when the probe has none. */
  semaphoreOffset: bigint;
  /** The argument specs, in order. */
  args: UsdtArg[];
}

// Byte offsets of the registers in x86-64 `struct pt_regs` (arch/x86/include/asm/ptrace.h),
// under every name a sub-register can have in an argument spec. The high-byte registers
// (%ah, %bh, %ch, %dh) are left out, as libbpf leaves them out: they are not the low bits of
// the word at their register's offset, so reading them that way would give a wrong value.
const X86_REGS: Record<string, number> = {};
for (
  const [offset, names] of [
    [0, "r15 r15d r15w r15b"],
    [8, "r14 r14d r14w r14b"],
    [16, "r13 r13d r13w r13b"],
    [24, "r12 r12d r12w r12b"],
    [32, "rbp ebp bp bpl"],
    [40, "rbx ebx bx bl"],
    [48, "r11 r11d r11w r11b"],
    [56, "r10 r10d r10w r10b"],
    [64, "r9 r9d r9w r9b"],
    [72, "r8 r8d r8w r8b"],
    [80, "rax eax ax al"],
    [88, "rcx ecx cx cl"],
    [96, "rdx edx dx dl"],
    [104, "rsi esi si sil"],
    [112, "rdi edi di dil"],
    [128, "rip eip ip"],
    [152, "rsp esp sp spl"],
  ] as const
) for (const n of names.split(" ")) X86_REGS[n] = offset;

/**
 * Parses one argument spec such as `-4@%edi`, `8@$5` or `-4@-12(%rbp)` (x86-64): the
 * forms libbpf 1.1 reads. Anything else is a {@linkcode UsdtArgError} naming the spec.
 */
export function parseUsdtArg(spec: string): UsdtArg {
  const m = /^(-?)(\d+)@(.+)$/.exec(spec);
  if (!m) throw new UsdtArgError("Invalid USDT argument spec", spec);
  const signed = m[1] === "-";
  const size = Number(m[2]);
  if (size !== 1 && size !== 2 && size !== 4 && size !== 8) {
    throw new UsdtArgError(`USDT argument of ${size} bytes: want 1, 2, 4 or 8`, spec);
  }
  const op = m[3];
  let r: RegExpExecArray | null;
  if ((r = /^\$(-?(?:0x[0-9a-fA-F]+|\d+))$/.exec(op))) {
    const value = signedBigInt(r[1]);
    if (value < -(1n << 63n) || value >= 1n << 64n) {
      throw new UsdtArgError("USDT constant does not fit 64 bits", spec);
    }
    return { spec, kind: "const", size, signed, value: BigInt.asUintN(64, value) };
  }
  const reg = (name: string): number => {
    const off = X86_REGS[name];
    if (off === undefined) throw new UsdtArgError(`Unknown x86-64 register "%${name}"`, spec);
    return off;
  };
  if ((r = /^%([a-z0-9]+)$/.exec(op))) {
    return { spec, kind: "reg", size, signed, register: r[1], ptRegsOffset: reg(r[1]), value: 0n };
  }
  if ((r = /^(-?(?:0x[0-9a-fA-F]+|\d+))?\(%([a-z0-9]+)\)$/.exec(op))) {
    const value = signedBigInt(r[1] ?? "0");
    if (value < -(1n << 63n) || value >= 1n << 63n) {
      throw new UsdtArgError("USDT memory offset does not fit 64 bits", spec);
    }
    return {
      spec,
      kind: "reg_deref",
      size,
      signed,
      register: r[2],
      ptRegsOffset: reg(r[2]),
      value,
    };
  }
  throw new UsdtArgError(`Unsupported USDT argument operand "${op}"`, spec);
}

/** A decimal or `0x` number with an optional `-` (which `BigInt()` refuses before `0x`). */
function signedBigInt(text: string): bigint {
  const n = BigInt(text.replace(/^-/, ""));
  return text.startsWith("-") ? -n : n;
}

/** Parses the space-separated argument string of a probe. */
export function parseUsdtArgs(args: string): UsdtArg[] {
  const parts = args.trim() === "" ? [] : args.trim().split(/\s+/);
  if (parts.length > USDT_MAX_ARG_CNT) {
    throw new UsdtArgError(
      `USDT probe has ${parts.length} arguments, more than ${USDT_MAX_ARG_CNT}`,
      args,
    );
  }
  return parts.map(parseUsdtArg);
}

/**
 * The USDT probes of an ELF file already parsed; with `only`, just the sites of that probe,
 * so that an argument this library cannot read in another probe does not get in the way.
 */
export function usdtProbesOf(
  elf: TargetElf,
  only?: { provider: string; name: string },
): UsdtProbe[] {
  const base = elf.section(".stapsdt.base");
  const notes = elf.stapsdtNotes().filter((n) =>
    !only || (n.provider === only.provider && n.name === only.name)
  );
  return notes.map((n) => {
    // Prelinking moves sections: the note records where .stapsdt.base was at link time.
    const pc = base ? n.pc + base.addr - n.base : n.pc;
    const offset = elf.fileOffset(pc);
    if (offset === undefined) {
      throw new FormatError(`USDT probe "${n.provider}:${n.name}" is in no segment`, 0);
    }
    let semaphoreOffset = 0n;
    if (n.semaphore !== 0n) {
      const s = elf.fileOffset(n.semaphore);
      if (s === undefined) {
        throw new FormatError(`USDT semaphore of "${n.provider}:${n.name}" is in no segment`, 0);
      }
      semaphoreOffset = s;
    }
    let args: UsdtArg[];
    try {
      args = parseUsdtArgs(n.args);
    } catch (e) {
      if (!(e instanceof UsdtArgError)) throw e;
      throw new UsdtArgError(
        `USDT probe "${n.provider}:${n.name}" at 0x${pc.toString(16)}: ${e.message}; arguments`,
        n.args,
        { cause: e },
      );
    }
    return { provider: n.provider, name: n.name, offset, semaphoreOffset, args };
  });
}

/** The USDT probes of the ELF file at `path` (`.note.stapsdt`). */
export function usdtProbes(path: string): UsdtProbe[] {
  return usdtProbesOf(openTarget(path).elf);
}

/** Options of {@linkcode attachUsdt}. */
export interface UsdtOptions extends Omit<UprobeOptions, "address" | "offset" | "refCtrOffset"> {
  /**
   * For programs that use `<bpf/usdt.bpf.h>`: the value `bpf_usdt_cookie()` returns (the
   * BPF cookie itself carries the spec id, as in libbpf). For other programs: the BPF
   * cookie, read with `bpf_get_attach_cookie()`.
   */
  cookie?: bigint;
  /**
   * The program's `__bpf_usdt_specs` map, where the argument specs go. By default it is
   * found among the maps the program uses, by its kernel name (`__bpf_usdt_spec`, cut to 15
   * characters); a program without one is attached with no specs written. `null` skips the
   * search and writes no specs.
   */
  specs?: BpfMap | null;
}

/** What {@linkcode attachUsdt} returns: the links, one per site of the probe, and its args. */
export interface UsdtLink extends Disposable {
  /** One uprobe link per site of the probe (a probe may be inlined at several sites). */
  readonly links: (PerfEventLink | PerfEventIoctlLink)[];
  /** The probe's sites, with their argument specs. */
  readonly probes: UsdtProbe[];
  /**
   * The spec id of each site (its BPF cookie, and its key in `__bpf_usdt_specs`); sites with
   * the same arguments share one. Empty when no specs were written.
   */
  readonly specIds: number[];
  /** Closes every link and frees the spec ids for later attachments. */
  close(): void;
}

/** Finds usdt.bpf.h's spec map among the maps `program` uses, or undefined. */
function findSpecsMap(program: Program): BpfMap | undefined {
  for (const id of program.info().mapIds) {
    const map = BpfMap.fromId(id);
    if (map.name === USDT_SPECS_MAP_NAME) return map;
    map.close();
  }
  return undefined;
}

/**
 * Attaches a kprobe program to every site of USDT probe `provider:name` in `path`, with
 * the probe's semaphore incremented while attached. When the program uses
 * `<bpf/usdt.bpf.h>`, the argument specs of each site are written into its
 * `__bpf_usdt_specs` map (see {@linkcode UsdtOptions.specs}) and the spec id is set as the
 * site's BPF cookie, so that `bpf_usdt_arg`, `bpf_usdt_arg_cnt` and `bpf_usdt_cookie` work
 * as with libbpf; the ids are freed when the link closes.
 *
 * @example
 * ```ts ignore
 * const coll = newCollection(await loadCollectionSpec("usdt.bpf.o"));
 * using l = attachUsdt(coll.programs.tick, "./server", "myapp", "request", { cookie: 7n });
 * ```
 */
export function attachUsdt(
  program: Program,
  path: string,
  provider: string,
  name: string,
  options: UsdtOptions = {},
): UsdtLink {
  const target = openTarget(path);
  const probes = usdtProbesOf(target.elf, { provider, name });
  if (probes.length === 0) {
    throw new Deno.errors.NotFound(`No USDT probe "${provider}:${name}" in "${target.path}"`);
  }
  const { specs: given, cookie, ...uprobeOptions } = options;
  const links: (PerfEventLink | PerfEventIoctlLink)[] = [];
  const specIds: number[] = [];
  const allocated: number[] = [];
  let mapId = -1;
  const close = () => {
    for (const l of links) l.close();
    if (mapId >= 0) freeSpecIds(mapId, allocated);
    allocated.length = 0;
  };
  const found = given === undefined ? findSpecsMap(program) : undefined;
  const specs = given ?? found;
  try {
    if (specs) {
      checkSpecsMap(specs);
      mapId = specs.info().id;
      // One spec per distinct argument string, as libbpf shares specs between sites.
      const byArgs = new Map<string, number>();
      for (const p of probes) {
        const key = p.args.map((a) => a.spec).join(" ");
        let id = byArgs.get(key);
        if (id === undefined) {
          id = allocateSpecId(mapId, specs.maxEntries);
          allocated.push(id);
          byArgs.set(key, id);
          specs.update(id, encodeUsdtSpec(p.args, cookie ?? 0n));
        }
        specIds.push(id);
      }
    }
    probes.forEach((p, i) => {
      links.push(attachUprobeAt(program, { path: target.path, offset: p.offset }, false, {
        ...uprobeOptions,
        cookie: specs ? BigInt(specIds[i]) : cookie,
        refCtrOffset: p.semaphoreOffset,
      }));
    });
  } catch (e) {
    close();
    throw e;
  } finally {
    found?.close();
  }
  return { links, probes, specIds, close, [Symbol.dispose]: close };
}

/**
 * Instructions that load argument `arg` into `dst` from a uprobe context in `ctx` (x86-64
 * `pt_regs`), extended to 64 bits by its sign; memory operands are read with
 * `bpf_probe_read_user` through the 8 bytes at `stackOffset` from r10. Clobbers r1–r5 when
 * the argument is in memory.
 */
export function usdtArgInstructions(
  arg: UsdtArg,
  dst: asm.Register,
  ctx: asm.Register,
  stackOffset = -8,
): asm.Instruction[] {
  const out: asm.Instruction[] = [];
  if (arg.kind === "const") {
    out.push(asm.LoadImm(dst, arg.value));
  } else if (arg.kind === "reg") {
    out.push(asm.LoadMem(dst, ctx, arg.ptRegsOffset!, asm.DWord));
  } else {
    out.push(
      asm.LoadMem(asm.R3, ctx, arg.ptRegsOffset!, asm.DWord),
      asm.Add.Imm(asm.R3, Number(BigInt.asIntN(32, arg.value))),
      asm.StoreImm(asm.R10, stackOffset, 0, asm.DWord),
      asm.Mov.Reg(asm.R1, asm.R10),
      asm.Add.Imm(asm.R1, stackOffset),
      asm.Mov.Imm(asm.R2, arg.size),
      asm.FnProbeReadUser.Call(),
      asm.LoadMem(dst, asm.R10, stackOffset, asm.DWord),
    );
  }
  if (arg.size < 8) {
    const shift = 64 - arg.size * 8;
    out.push(asm.LSh.Imm(dst, shift), (arg.signed ? asm.ArSh : asm.RSh).Imm(dst, shift));
  }
  return out;
}
