/**
 * USDT probes (statically defined user-space tracepoints, `sys/sdt.h`): the
 * `.note.stapsdt` notes of an ELF file, their argument specs, and attaching a kprobe
 * program to a probe as a uprobe that also bumps the probe's semaphore.
 *
 * A program reads argument `i` of the probe it fires on as its spec says: from a register
 * of `pt_regs` (the program's context), from memory at a register plus an offset, or a
 * constant. {@linkcode UsdtArg.ptRegsOffset} gives the register's offset in `pt_regs`;
 * {@linkcode usdtArgInstructions} emits the loads.
 *
 * @module
 */

import * as asm from "../asm/mod.ts";
import { FormatError } from "../errors.ts";
import type { Program } from "../prog/program.ts";
import { openTarget, type TargetElf } from "./_uprobe_elf.ts";
import type { PerfEventIoctlLink, PerfEventLink } from "./perf_event.ts";
import { attachUprobeAt, type UprobeOptions } from "./uprobe.ts";

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
// under every name a sub-register can have in an argument spec.
const X86_REGS: Record<string, number> = {};
for (
  const [offset, names] of [
    [0, "r15 r15d r15w r15b"],
    [8, "r14 r14d r14w r14b"],
    [16, "r13 r13d r13w r13b"],
    [24, "r12 r12d r12w r12b"],
    [32, "rbp ebp bp bpl"],
    [40, "rbx ebx bx bl bh"],
    [48, "r11 r11d r11w r11b"],
    [56, "r10 r10d r10w r10b"],
    [64, "r9 r9d r9w r9b"],
    [72, "r8 r8d r8w r8b"],
    [80, "rax eax ax al ah"],
    [88, "rcx ecx cx cl ch"],
    [96, "rdx edx dx dl dh"],
    [104, "rsi esi si sil"],
    [112, "rdi edi di dil"],
    [128, "rip eip ip"],
    [152, "rsp esp sp spl"],
  ] as const
) for (const n of names.split(" ")) X86_REGS[n] = offset;

/** Parses one argument spec such as `-4@%edi`, `8@$5` or `-4@-12(%rbp)` (x86-64). */
export function parseUsdtArg(spec: string): UsdtArg {
  const m = /^(-?)(1|2|4|8)@(.+)$/.exec(spec);
  if (!m) throw new SyntaxError(`Invalid USDT argument spec: "${spec}"`);
  const signed = m[1] === "-";
  const size = Number(m[2]);
  const op = m[3];
  let r: RegExpExecArray | null;
  if ((r = /^\$(-?(?:0x[0-9a-fA-F]+|\d+))$/.exec(op))) {
    return { spec, kind: "const", size, signed, value: BigInt.asUintN(64, BigInt(r[1])) };
  }
  const reg = (name: string): number => {
    const off = X86_REGS[name];
    if (off === undefined) throw new SyntaxError(`Unknown register "${name}" in "${spec}"`);
    return off;
  };
  if ((r = /^%([a-z0-9]+)$/.exec(op))) {
    return { spec, kind: "reg", size, signed, register: r[1], ptRegsOffset: reg(r[1]), value: 0n };
  }
  if ((r = /^(-?(?:0x[0-9a-fA-F]+|\d+))?\(%([a-z0-9]+)\)$/.exec(op))) {
    return {
      spec,
      kind: "reg_deref",
      size,
      signed,
      register: r[2],
      ptRegsOffset: reg(r[2]),
      value: BigInt(r[1] ?? 0),
    };
  }
  throw new SyntaxError(`Unsupported USDT argument operand "${op}" in "${spec}"`);
}

/** Parses the space-separated argument string of a probe. */
export function parseUsdtArgs(args: string): UsdtArg[] {
  const parts = args.trim() === "" ? [] : args.trim().split(/\s+/);
  if (parts.length > 12) throw new SyntaxError(`USDT probe has ${parts.length} arguments (max 12)`);
  return parts.map(parseUsdtArg);
}

/** The USDT probes of an ELF file already parsed. */
export function usdtProbesOf(elf: TargetElf): UsdtProbe[] {
  const base = elf.section(".stapsdt.base");
  return elf.stapsdtNotes().map((n) => {
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
    return {
      provider: n.provider,
      name: n.name,
      offset,
      semaphoreOffset,
      args: parseUsdtArgs(n.args),
    };
  });
}

/** The USDT probes of the ELF file at `path` (`.note.stapsdt`). */
export function usdtProbes(path: string): UsdtProbe[] {
  return usdtProbesOf(openTarget(path).elf);
}

/** Options of {@linkcode attachUsdt}. */
export type UsdtOptions = Omit<UprobeOptions, "address" | "offset" | "refCtrOffset">;

/** What {@linkcode attachUsdt} returns: the links, one per site of the probe, and its args. */
export interface UsdtLink extends Disposable {
  /** One uprobe link per site of the probe (a probe may be inlined at several sites). */
  readonly links: (PerfEventLink | PerfEventIoctlLink)[];
  /** The probe's sites, with their argument specs. */
  readonly probes: UsdtProbe[];
  /** Closes every link. */
  close(): void;
}

/**
 * Attaches a kprobe program to every site of USDT probe `provider:name` in `path`, with
 * the probe's semaphore incremented while attached.
 *
 * @example
 * ```ts ignore
 * using l = attachUsdt(prog, "./server", "myapp", "request");
 * console.log(l.probes[0].args); // how the program should read each argument
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
  const probes = usdtProbesOf(target.elf).filter((p) => p.provider === provider && p.name === name);
  if (probes.length === 0) {
    throw new Deno.errors.NotFound(`No USDT probe "${provider}:${name}" in "${target.path}"`);
  }
  const links: (PerfEventLink | PerfEventIoctlLink)[] = [];
  const close = () => {
    for (const l of links) l.close();
  };
  try {
    for (const p of probes) {
      links.push(attachUprobeAt(program, { path: target.path, offset: p.offset }, false, {
        ...options,
        refCtrOffset: p.semaphoreOffset,
      }));
    }
  } catch (e) {
    close();
    throw e;
  }
  return { links, probes, close, [Symbol.dispose]: close };
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
