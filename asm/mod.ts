/**
 * The eBPF instruction set: an instruction model, builders, an assembler that resolves jumps
 * and calls by symbol name, an encoder and decoder for both byte orders, and two
 * disassemblers (this library's own text, and the text of `llvm-objdump -d`).
 *
 * It covers every instruction the kernel accepts, ISA v1 to v4: ALU and ALU64 (with signed
 * division and modulo, sign-extending moves, byte swaps), JMP and JMP32 (with `gotol`,
 * `may_goto`, `gotox`), 64-bit immediate loads with every pseudo source, loads and stores of
 * every size (sign-extending loads included), every atomic operation (load-acquire and
 * store-release included) and the legacy packet loads.
 *
 * This module imports nothing but the error classes and runs in any JavaScript runtime.
 *
 * @example
 * ```ts
 * import { asm } from "@ebpf/ebpf";
 * const { R0, R1, R2, R10, Word } = asm;
 *
 * // r0 = counters[0] + 1, or 0 if the lookup fails.
 * const prog = new asm.Instructions([
 *   asm.StoreImm(R10, -4, 0, Word),
 *   asm.Mov.Reg(R2, R10),
 *   asm.Add.Imm(R2, -4),
 *   asm.LoadMapPtr(R1, "counters"),
 *   asm.FnMapLookupElem.Call(),
 *   asm.JEq.Imm(R0, 0, "out"),
 *   asm.LoadMem(R0, R0, 0, Word),
 *   asm.Add.Imm(R0, 1),
 *   asm.Label("out"),
 *   asm.Return(),
 * ]);
 * console.log(prog.toString());
 * ```
 *
 * Instructions are plain objects (see {@linkcode Instruction}) with functions to ask about
 * them (`isJump`, `isLoadFromMap`, …), to copy them (`copy`) and to print them
 * (`formatInstruction`); `Instructions` is the class that holds a program.
 *
 * @module
 */

export * from "./opcode.ts";
export * from "./register.ts";
export {
  type ByteOrder,
  constant,
  copy,
  getMeta,
  HOST_BYTE_ORDER,
  Instruction,
  isBuiltinCall,
  isCall,
  isConstantLoad,
  isDWordLoad,
  isExit,
  isFunctionCall,
  isInstruction,
  isJump,
  isKfuncCall,
  isLoad,
  isLoadFromMap,
  isLoadOfFunctionPointer,
  isRelative,
  isSigned,
  type MapLike,
  sameEncoding,
  setConstant,
  setMeta,
  slots,
  type SourceLine,
  targetInImm,
  withSymbol,
} from "./instruction.ts";
export { type InstructionAt, Instructions, Label, MAX_INSTRUCTIONS } from "./instructions.ts";
export * from "./builders.ts";
export * from "./func.ts";
export { formatInstruction, type FormatOptions, type FormatStyle, helperName } from "./format.ts";
