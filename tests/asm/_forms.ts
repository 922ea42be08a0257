// Every instruction form the model knows, with fields that exercise their encodings:
// each valid opcode byte, each operation selected by another field (atomics in imm, byte
// swap widths, pseudo sources, call kinds, signed and sign-extending variants), extreme
// offsets and immediates, and every register. Reserved fields are zero, so that
// llvm-objdump decodes each form.
import { asm } from "../../mod.ts";

const { Class, Mode, ALUOp, JumpOp, AtomicOp, OPCODE_TABLE } = asm;
type Register = asm.Register;

const OFFSETS = [0, 1, -1, 8, -4, 0x7fff, -0x8000];
const IMMS = [0, 1, -1, 23, 0x7fffffff, -0x80000000, 0x12345678];
const ATOMICS = Object.values(AtomicOp) as number[];

let rot = 0;
function reg(): Register {
  return (rot++ % 11) as Register;
}

function ins(op: number, dst: number, src: number, off: number, imm: number, hi = 0) {
  return asm.Instruction(op, dst as Register, src as Register, off, imm, hi);
}

/** Every form, each a fresh Instruction. */
export function allForms(): asm.Instruction[] {
  rot = 0;
  const out: asm.Instruction[] = [];
  for (let op = 0; op < 256; op++) {
    if (OPCODE_TABLE[op] === 0) continue;
    const cls = op & 0x07;
    const size = op & 0x18;
    const mode = op & 0xe0;
    switch (cls) {
      case Class.LD:
        if (op === asm.LoadImm64Op) {
          for (let src = 0; src <= 6; src++) {
            for (const [lo, hi] of [[0, 0], [-1, -1], [0x12345678, -0x10000000], [5, 7]]) {
              out.push(ins(op, reg(), src, 0, lo, hi));
            }
          }
        } else {
          for (const imm of [0, 23, -1, 0x7fffffff]) {
            out.push(ins(op, 0, mode === Mode.IND ? reg() : 0, 0, imm));
          }
        }
        break;
      case Class.LDX:
      case Class.STX:
        if (mode === Mode.ATOMIC) {
          for (const a of ATOMICS) {
            if (!asm.isValidAtomic(a, size as asm.Size)) continue;
            for (const off of [0, -8, 0x7ff8]) out.push(ins(op, reg(), reg(), off, a));
          }
          break;
        }
        for (const off of OFFSETS) out.push(ins(op, reg(), reg(), off, 0));
        break;
      case Class.ST:
        for (const off of OFFSETS) out.push(ins(op, reg(), 0, off, IMMS[(rot++) % IMMS.length]));
        break;
      case Class.ALU:
      case Class.ALU64: {
        const aop = op & 0xf0;
        const x = (op & 0x08) !== 0;
        if (aop === ALUOp.End) {
          for (const imm of [16, 32, 64]) out.push(ins(op, reg(), 0, 0, imm));
          break;
        }
        if (aop === ALUOp.Neg) {
          out.push(ins(op, reg(), 0, 0, 0));
          break;
        }
        const variants = [0];
        if (aop === ALUOp.Div || aop === ALUOp.Mod) variants.push(1);
        if (aop === ALUOp.Mov && x) {
          variants.push(8, 16);
          if (cls === Class.ALU64) variants.push(32);
        }
        for (const off of variants) {
          if (x) out.push(ins(op, reg(), reg(), off, 0));
          else for (const imm of IMMS) out.push(ins(op, reg(), 0, off, imm));
        }
        if (aop === ALUOp.Mov && x && cls === Class.ALU64) {
          // addr_space_cast: offset 1, address spaces in imm.
          for (const imm of [1, 0x10000, 0x20003]) out.push(ins(op, reg(), reg(), 1, imm));
        }
        break;
      }
      default: {
        const jop = op & 0xf0;
        const x = (op & 0x08) !== 0;
        if (jop === JumpOp.Ja) {
          if (cls === Class.JMP32) { for (const imm of IMMS) out.push(ins(op, 0, 0, 0, imm)); }
          else if (x) out.push(ins(op, reg(), 0, 0, 0));
          else for (const off of OFFSETS) out.push(ins(op, 0, 0, off, 0));
        } else if (jop === JumpOp.Call) {
          if (x) out.push(ins(op, reg(), 0, 0, 0));
          else {
            for (const imm of [1, 211, -1, 0x7fffffff]) out.push(ins(op, 0, 0, 0, imm));
            for (const imm of [-1, 5, -0x8000]) out.push(ins(op, 0, 1, 0, imm));
            for (const [imm, off] of [[12345, 0], [77, 3]]) out.push(ins(op, 0, 2, off, imm));
          }
        } else if (jop === JumpOp.Exit) {
          out.push(ins(op, 0, 0, 0, 0));
        } else if (jop === JumpOp.JCond) {
          for (const off of OFFSETS) out.push(ins(op, 0, 0, off, 0));
        } else {
          for (const off of OFFSETS) {
            if (x) out.push(ins(op, reg(), reg(), off, 0));
            else out.push(ins(op, reg(), 0, off, IMMS[(rot++) % IMMS.length]));
          }
        }
      }
    }
  }
  return out;
}

/** Whether llvm-objdump 19 predates the form (load-acquire, store-release, gotox). */
export function newerThanLLVM19(i: asm.Instruction): boolean {
  if ((i.opcode & 0xe7) === (Class.STX | Mode.ATOMIC)) {
    return i.imm === AtomicOp.LoadAcquire || i.imm === AtomicOp.StoreRelease;
  }
  return i.opcode === (Class.JMP | JumpOp.Ja | 0x08);
}
