/**
 * BTF types and programs shared by the map tests: a value struct with padding, a nested
 * struct, arrays, an enum, a char array and bitfields, and the bytes of one instance as a
 * BPF program writes them.
 *
 * @module
 */

import { asm, type BpfMap, btf, Program, ProgramSpec, ProgramType } from "../../mod.ts";

const { Int, Member, Struct, Enum, EnumValue, Array: ArrayType, IntEncoding, Typedef } = btf;

export const u8 = new Int("u8", 1);
export const u16 = new Int("u16", 2);
export const u32 = new Int("u32", 4);
export const s32 = new Int("int", 4, IntEncoding.Signed);
export const u64 = new Int("u64", 8);
// As clang writes it: a signed 1-byte int named "char" (the kernel takes one encoding only).
export const char = new Int("char", 1, IntEncoding.Signed);
export const color = new Enum("color", 4, [
  new EnumValue("RED", 1n),
  new EnumValue("GREEN", 2n),
  new EnumValue("BLUE", 0x10n),
]);
/** struct inner { u16 a; u8 b; u32 c; } — one byte of padding after b. */
export const inner = new Struct("inner", 8, [
  new Member("a", u16, 0),
  new Member("b", u8, 16),
  new Member("c", u32, 32),
]);
/**
 * struct val {
 *   u8 flag; u64 big; struct inner in; u32 arr[3]; enum color col; char name[8];
 *   u32 bf1:3, bf2:5, bf3:24; int neg;
 * } — 7 bytes of padding after flag.
 */
export const val = new Struct("val", 56, [
  new Member("flag", u8, 0),
  new Member("big", u64, 64),
  new Member("in", inner, 128),
  new Member("arr", new ArrayType(u32, u32, 3), 192),
  new Member("col", color, 288),
  new Member("name", new ArrayType(char, u32, 8), 320),
  new Member("bf1", u32, 384, 3),
  new Member("bf2", u32, 387, 5),
  new Member("bf3", u32, 392, 24),
  new Member("neg", s32, 416),
]);
export const key = new Typedef("key_t", u32);

/** The value the program below writes, as JavaScript. */
export const written = {
  flag: 1,
  big: 0x1122334455667788n,
  in: { a: 0xbeef, b: 7, c: 123456 },
  arr: [1, 2, 3],
  col: "BLUE",
  name: "hi",
  bf1: 5,
  bf2: 17,
  bf3: 0xabcdef,
  neg: -42,
};

/** A map as asm's LoadMapPtr wants it. */
export const mapRef = (m: BpfMap) => ({ fd: () => m.fd, name: m.name });

/**
 * A socket filter that looks up key `k` of `map` and stores {@linkcode written} into the
 * value field by field, with the layout the C compiler gives `struct val`.
 */
export function valueWriter(map: BpfMap, k: number): Program {
  const { R0, R1, R2, R10, Byte, Half, Word, DWord } = asm;
  const bitfields = (5 | (17 << 3) | (0xabcdef << 8)) | 0;
  return Program.load(
    new ProgramSpec({
      name: "write_val",
      type: ProgramType.SocketFilter,
      license: "GPL",
      instructions: new asm.Instructions([
        asm.StoreImm(R10, -4, k, Word),
        asm.Mov.Reg(R2, R10),
        asm.Add.Imm(R2, -4),
        asm.LoadMapPtr(R1, mapRef(map)),
        asm.FnMapLookupElem.Call(),
        asm.JEq.Imm(R0, 0, "out"),
        asm.StoreImm(R0, 0, 1, Byte),
        asm.LoadImm(R1, 0x1122334455667788n),
        asm.StoreMem(R0, 8, R1, DWord),
        asm.StoreImm(R0, 16, 0xbeef - 0x10000, Half),
        asm.StoreImm(R0, 18, 7, Byte),
        asm.StoreImm(R0, 20, 123456, Word),
        asm.StoreImm(R0, 24, 1, Word),
        asm.StoreImm(R0, 28, 2, Word),
        asm.StoreImm(R0, 32, 3, Word),
        asm.StoreImm(R0, 36, 0x10, Word),
        asm.StoreImm(R0, 40, 0x6968, Half), // "hi"
        asm.StoreImm(R0, 48, bitfields, Word),
        asm.StoreImm(R0, 52, -42, Word),
        asm.Label("out"),
        asm.Mov.Imm(R0, 0),
        asm.Return(),
      ]),
    }),
  );
}
