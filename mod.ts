/**
 * eBPF for Deno: read clang-compiled BPF objects, read and write BTF, assemble programs,
 * create maps, load programs and attach them, all through the bpf(2) system call.
 *
 * Importing this module needs no permission. Parsing objects and BTF from bytes needs none
 * either; talking to the kernel needs `--allow-ffi` and CAP_BPF (or root).
 *
 * @module
 */

export * from "./errors.ts";
export * as asm from "./asm/mod.ts";
export * as btf from "./btf/mod.ts";
export * from "./elf/mod.ts";
export * from "./map/mod.ts";
export * from "./prog/mod.ts";
export * from "./link/mod.ts";
export * as features from "./features.ts";

// Types that the flat exports mention, re-exported under names deno doc can resolve (it does
// not look into `export * as` namespaces). In code, use them as `asm.…` and `btf.…`.
export type {
  BuiltinFunc as AsmBuiltinFunc,
  ByteOrder,
  FormatOptions as AsmFormatOptions,
  FormatStyle as AsmFormatStyle,
  Instruction as AsmInstruction,
  InstructionAt as AsmInstructionAt,
  Instructions as AsmInstructions,
  MapLike as AsmMapLike,
  Register as AsmRegister,
  SourceLine as AsmSourceLine,
} from "./asm/mod.ts";
export type {
  Array as BtfArray,
  Composite as BtfComposite,
  Const as BtfConst,
  Datasec as BtfDatasec,
  DeclTag as BtfDeclTag,
  Enum as BtfEnum,
  EnumValue as BtfEnumValue,
  Float as BtfFloat,
  Func as BtfFunc,
  FuncParam as BtfFuncParam,
  FuncProto as BtfFuncProto,
  Fwd as BtfFwd,
  Int as BtfInt,
  KindName as BtfKindName,
  Member as BtfMember,
  Pointer as BtfPointer,
  RawBtf,
  Ref as BtfRef,
  Restrict as BtfRestrict,
  Spec as BtfSpec,
  Struct as BtfStruct,
  Type as BtfType,
  TypeBase as BtfTypeBase,
  TypeClass as BtfTypeClass,
  Typedef as BtfTypedef,
  TypeTag as BtfTypeTag,
  Union as BtfUnion,
  Var as BtfVar,
  VarSecinfo as BtfVarSecinfo,
  Void as BtfVoid,
  Volatile as BtfVolatile,
} from "./btf/mod.ts";
