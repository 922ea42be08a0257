/**
 * The operator symbols of ALU and jump instructions, by the opcode's operation bits (`0xf0`),
 * which the kernel's disassembler (kernel/bpf/disasm.c) and llvm-objdump print alike. The
 * signed forms of `/=` and `%=` (offset 1) print with an `s` before them: `s/=`, `s%=`.
 * Operations printed as words, not symbols (mov, neg, endian, ja, call, exit), are not here.
 *
 * @module
 */

/** `r1 += r2`: ALU operations by `code & 0xf0`. */
export const ALU_SYMBOLS: Readonly<Record<number, string>> = {
  0x00: "+=",
  0x10: "-=",
  0x20: "*=",
  0x30: "/=",
  0x40: "|=",
  0x50: "&=",
  0x60: "<<=",
  0x70: ">>=",
  0x90: "%=",
  0xa0: "^=",
  0xc0: "s>>=",
};

/** `if r1 > r2 goto`: conditional jumps by `code & 0xf0`. */
export const JUMP_SYMBOLS: Readonly<Record<number, string>> = {
  0x10: "==",
  0x20: ">",
  0x30: ">=",
  0x40: "&",
  0x50: "!=",
  0x60: "s>",
  0x70: "s>=",
  0xa0: "<",
  0xb0: "<=",
  0xc0: "s<",
  0xd0: "s<=",
};
