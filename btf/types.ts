/**
 * The type classes of BTF: one class per kind, with references to other types as objects.
 *
 * Types that come from a {@linkcode Spec} are decoded lazily: a reference (a pointer's
 * target, a struct's members) is decoded the first time it is read, so looking up one type
 * in the kernel's BTF does not decode the tens of thousands it reaches. Every field can be
 * assigned; a graph built by hand behaves exactly like one decoded from bytes.
 *
 * @module
 */

/** The `BTF_KIND_*` numbers of `include/uapi/linux/btf.h`. */
export const Kind = {
  Unknown: 0,
  Int: 1,
  Pointer: 2,
  Array: 3,
  Struct: 4,
  Union: 5,
  Enum: 6,
  Fwd: 7,
  Typedef: 8,
  Volatile: 9,
  Const: 10,
  Restrict: 11,
  Func: 12,
  FuncProto: 13,
  Var: 14,
  Datasec: 15,
  Float: 16,
  DeclTag: 17,
  TypeTag: 18,
  Enum64: 19,
} as const;

/** A `BTF_KIND_*` number. */
export type Kind = typeof Kind[keyof typeof Kind];

/** The highest kind this package knows. */
export const MAX_KIND = 19;

/** The kind names bpftool prints, indexed by kind number. */
export const KIND_NAMES: readonly string[] = [
  "UNKNOWN",
  "INT",
  "PTR",
  "ARRAY",
  "STRUCT",
  "UNION",
  "ENUM",
  "FWD",
  "TYPEDEF",
  "VOLATILE",
  "CONST",
  "RESTRICT",
  "FUNC",
  "FUNC_PROTO",
  "VAR",
  "DATASEC",
  "FLOAT",
  "DECL_TAG",
  "TYPE_TAG",
  "ENUM64",
];

/** Bits of {@linkcode Int.encoding} (`BTF_INT_SIGNED`, `BTF_INT_CHAR`, `BTF_INT_BOOL`). */
export const IntEncoding = {
  Unsigned: 0,
  Signed: 1,
  Char: 2,
  Bool: 4,
} as const;

/** Linkage of a {@linkcode Func} or {@linkcode Var} (`BTF_FUNC_*`, `BTF_VAR_*`). */
export const Linkage = {
  Static: 0,
  Global: 1,
  Extern: 2,
} as const;

/** What lazily decoded types call back into: implemented by {@linkcode Spec}. */
export interface LazySource {
  /** The type with this id. */
  typeById(id: number): Type;
  /** Decodes the records of type `id` (members, enum values, parameters, secinfos). */
  decodeList(id: number): unknown[];
}

/**
 * Stands for a list of records that the type's source decodes on first read. A spec passes
 * it to a constructor in place of the list; it never escapes this package.
 */
export const LAZY_LIST: never[] = Object.freeze([]) as never[];

/**
 * Stands for a reference to type `id` that the type's source decodes on first read: the id
 * itself, stored where the type object will go, so that a lazy reference costs no object.
 * Only a spec passes these, to the type it then {@linkcode bindType}s.
 */
export function lazyRef(id: number): Type {
  return id as unknown as Type;
}

/** The spec a type was decoded from, or undefined for a type built by hand. */
export let sourceOf: (t: Type) => LazySource | undefined;
/** The id a type has in {@linkcode sourceOf}; 0 for a type built by hand. */
export let idOf: (t: Type) => number;
/** Records that `t` is type `id` of `source`, which decodes its lazy parts. */
export let bindType: (t: Type, source: LazySource, id: number) => void;

function resolve(t: TypeBase, id: number): Type {
  return sourceOf(t as Type)!.typeById(id);
}

function resolveList<T>(t: TypeBase): T[] {
  return sourceOf(t as Type)!.decodeList(idOf(t as Type)) as T[];
}

/** The lower-case kind of a type, as the `kind` property gives it. */
export type KindName =
  | "void"
  | "int"
  | "pointer"
  | "array"
  | "struct"
  | "union"
  | "enum"
  | "fwd"
  | "typedef"
  | "volatile"
  | "const"
  | "restrict"
  | "func"
  | "funcProto"
  | "var"
  | "datasec"
  | "float"
  | "declTag"
  | "typeTag";

/** Any BTF type. Tell the kinds apart with `instanceof` or the `kind` property. */
export type Type =
  | Void
  | Int
  | Pointer
  | Array
  | Struct
  | Union
  | Enum
  | Fwd
  | Typedef
  | Volatile
  | Const
  | Restrict
  | Func
  | FuncProto
  | Var
  | Datasec
  | Float
  | DeclTag
  | TypeTag;

/** A type class, as passed to lookups that filter by kind (`spec.typeByName("x", Struct)`). */
// deno-lint-ignore no-explicit-any
export type TypeClass<T extends Type = Type> = abstract new (...args: any[]) => T;

/** The common base of every type class. */
export abstract class TypeBase {
  /** The name; `""` for an anonymous type. */
  name: string;
  // Where a decoded type came from: one slot per type instead of a WeakMap entry per type
  // and a wrapper object per lazy reference, which dominated decoding vmlinux.
  #source: LazySource | undefined = undefined;
  #id = 0;

  static {
    sourceOf = (t) => (t as TypeBase).#source;
    idOf = (t) => (t as TypeBase).#id;
    bindType = (t, source, id) => {
      (t as TypeBase).#source = source;
      (t as TypeBase).#id = id;
    };
  }

  /** Sets the name. */
  constructor(name: string) {
    this.name = name;
  }

  /** The kind as a lower-case name, such as `"struct"`. */
  abstract get kind(): KindName;

  /** A short description such as `struct task_struct` or `pointer`. */
  toString(): string {
    return this.name === "" ? `${this.kind} (anon)` : `${this.kind} ${this.name}`;
  }
}

/** The void type, type id 0: what a `void *` points at and a `void` function returns. */
export class Void extends TypeBase {
  /** Makes the void type. Every instance means the same type. */
  constructor() {
    super("");
  }
  /** Always `"void"`. */
  get kind(): "void" {
    return "void";
  }
}

/** The one void instance that decoded specs use. */
export const VOID: Void = new Void();

/** An integer type (`BTF_KIND_INT`). */
export class Int extends TypeBase {
  /** Size in bytes. */
  size: number;
  /** {@linkcode IntEncoding} bits: signed, char, bool. */
  encoding: number;
  /** The number of value bits (`BTF_INT_BITS`), usually `size * 8`. */
  bits: number;
  /** The bit offset of the value (`BTF_INT_OFFSET`), 0 in practice. */
  bitOffset: number;

  /** Makes an integer type; `bits` defaults to `size * 8`. */
  constructor(name: string, size: number, encoding: number = 0, bits = size * 8, bitOffset = 0) {
    super(name);
    this.size = size;
    this.encoding = encoding;
    this.bits = bits;
    this.bitOffset = bitOffset;
  }
  /** Always `"int"`. */
  get kind(): "int" {
    return "int";
  }
  /** Whether the integer is signed. */
  get signed(): boolean {
    return (this.encoding & IntEncoding.Signed) !== 0;
  }
}

/** A pointer (`BTF_KIND_PTR`). */
export class Pointer extends TypeBase {
  #target: Type | number;

  /** Makes a pointer to `target`. */
  constructor(target: Type, name = "") {
    super(name);
    this.#target = target;
  }
  /** Always `"pointer"`. */
  get kind(): "pointer" {
    return "pointer";
  }
  /** The pointed-to type. */
  get target(): Type {
    const t = this.#target;
    return typeof t === "number" ? (this.#target = resolve(this, t)) : t;
  }
  set target(t: Type) {
    this.#target = t;
  }
}

/** An array (`BTF_KIND_ARRAY`). */
export class Array extends TypeBase {
  #type: Type | number;
  #index: Type | number;
  /** The number of elements. */
  nelems: number;

  /** Makes an array of `nelems` elements of `type`, indexed by `index`. */
  constructor(type: Type, index: Type, nelems: number, name = "") {
    super(name);
    this.#type = type;
    this.#index = index;
    this.nelems = nelems;
  }
  /** Always `"array"`. */
  get kind(): "array" {
    return "array";
  }
  /** The element type. */
  get type(): Type {
    const t = this.#type;
    return typeof t === "number" ? (this.#type = resolve(this, t)) : t;
  }
  set type(t: Type) {
    this.#type = t;
  }
  /** The index type (clang's `__ARRAY_SIZE_TYPE__`, an int). */
  get index(): Type {
    const t = this.#index;
    return typeof t === "number" ? (this.#index = resolve(this, t)) : t;
  }
  set index(t: Type) {
    this.#index = t;
  }
}

/** A member of a {@linkcode Struct} or {@linkcode Union}. */
export class Member {
  /** The name; `""` for an anonymous embedded struct or union. */
  name: string;
  /** The member's type. */
  type: Type;
  /** Offset from the start of the struct, in bits. */
  offset: number;
  /** The width of a bitfield in bits; 0 when the member is not a bitfield. */
  bitfieldSize: number;

  /** Makes a member. */
  constructor(name: string, type: Type, offset: number, bitfieldSize = 0) {
    this.name = name;
    this.type = type;
    this.offset = offset;
    this.bitfieldSize = bitfieldSize;
  }
}

/** The common base of {@linkcode Struct} and {@linkcode Union}: a size and members. */
export abstract class Composite extends TypeBase {
  /** Size in bytes. */
  size: number;
  #members: Member[];

  /** Sets the name, size in bytes and members. */
  constructor(name: string, size: number, members: Member[]) {
    super(name);
    this.size = size;
    this.#members = members;
  }
  /** The members in declaration order. */
  get members(): Member[] {
    const m = this.#members;
    return m === LAZY_LIST ? (this.#members = resolveList<Member>(this)) : m;
  }
  set members(m: Member[]) {
    this.#members = m;
  }
}

/** A struct (`BTF_KIND_STRUCT`). */
export class Struct extends Composite {
  /** Makes a struct of `size` bytes. */
  constructor(name: string, size: number, members: Member[] = []) {
    super(name, size, members);
  }
  /** Always `"struct"`. */
  get kind(): "struct" {
    return "struct";
  }
}

/** A union (`BTF_KIND_UNION`). */
export class Union extends Composite {
  /** Makes a union of `size` bytes. */
  constructor(name: string, size: number, members: Member[] = []) {
    super(name, size, members);
  }
  /** Always `"union"`. */
  get kind(): "union" {
    return "union";
  }
}

/** One value of an {@linkcode Enum}. */
export class EnumValue {
  /** The enumerator's name. */
  name: string;
  /** The value; negative for a signed enum's negative values. */
  value: bigint;

  /** Makes an enumerator. */
  constructor(name: string, value: bigint) {
    this.name = name;
    this.value = value;
  }
}

/** An enum (`BTF_KIND_ENUM`, and `BTF_KIND_ENUM64` when {@linkcode Enum.is64} is set). */
export class Enum extends TypeBase {
  /** Size in bytes: 1, 2, 4 or 8. */
  size: number;
  /** Whether the values are signed (the kind flag). */
  signed: boolean;
  /** Whether this is a `BTF_KIND_ENUM64`, whose values are 64 bits wide. */
  is64: boolean;
  #values: EnumValue[];

  /** Makes an enum; `is64` defaults to true when `size` is 8. */
  constructor(
    name: string,
    size: number,
    values: EnumValue[] = [],
    signed = false,
    is64: boolean = size === 8,
  ) {
    super(name);
    this.size = size;
    this.signed = signed;
    this.is64 = is64;
    this.#values = values;
  }
  /** Always `"enum"`. */
  get kind(): "enum" {
    return "enum";
  }
  /** The enumerators in declaration order. */
  get values(): EnumValue[] {
    const v = this.#values;
    return v === LAZY_LIST ? (this.#values = resolveList<EnumValue>(this)) : v;
  }
  set values(v: EnumValue[]) {
    this.#values = v;
  }
}

/** A forward declaration (`BTF_KIND_FWD`) of a struct or union. */
export class Fwd extends TypeBase {
  /** What is declared: `"struct"` or `"union"` (the kind flag). */
  fwdKind: "struct" | "union";

  /** Makes a forward declaration. */
  constructor(name: string, fwdKind: "struct" | "union" = "struct") {
    super(name);
    this.fwdKind = fwdKind;
  }
  /** Always `"fwd"`. */
  get kind(): "fwd" {
    return "fwd";
  }
}

/** The common base of the types that only refer to another type (qualifiers, typedefs, pointers, tags). */
export abstract class Ref extends TypeBase {
  #type: Type | number;

  /** Sets the name and the referred type. */
  constructor(name: string, type: Type) {
    super(name);
    this.#type = type;
  }
  /** The referenced type. */
  get type(): Type {
    const t = this.#type;
    return typeof t === "number" ? (this.#type = resolve(this, t)) : t;
  }
  set type(t: Type) {
    this.#type = t;
  }
}

/** A typedef (`BTF_KIND_TYPEDEF`). */
export class Typedef extends Ref {
  /** Makes `typedef type name`. */
  constructor(name: string, type: Type) {
    super(name, type);
  }
  /** Always `"typedef"`. */
  get kind(): "typedef" {
    return "typedef";
  }
}

/** The `volatile` qualifier (`BTF_KIND_VOLATILE`). */
export class Volatile extends Ref {
  /** Makes `volatile type`. */
  constructor(type: Type, name = "") {
    super(name, type);
  }
  /** Always `"volatile"`. */
  get kind(): "volatile" {
    return "volatile";
  }
}

/** The `const` qualifier (`BTF_KIND_CONST`). */
export class Const extends Ref {
  /** Makes `const type`. */
  constructor(type: Type, name = "") {
    super(name, type);
  }
  /** Always `"const"`. */
  get kind(): "const" {
    return "const";
  }
}

/** The `restrict` qualifier (`BTF_KIND_RESTRICT`). */
export class Restrict extends Ref {
  /** Makes `restrict type`. */
  constructor(type: Type, name = "") {
    super(name, type);
  }
  /** Always `"restrict"`. */
  get kind(): "restrict" {
    return "restrict";
  }
}

/** A type tag (`BTF_KIND_TYPE_TAG`): `__attribute__((btf_type_tag("value")))` on a type. */
export class TypeTag extends Ref {
  /** Makes a tag `value` on `type`. The value is stored as the BTF name. */
  constructor(value: string, type: Type) {
    super(value, type);
  }
  /** Always `"typeTag"`. */
  get kind(): "typeTag" {
    return "typeTag";
  }
  /** The tag's text (the same as `name`). */
  get value(): string {
    return this.name;
  }
  set value(v: string) {
    this.name = v;
  }
}

/** A parameter of a {@linkcode FuncProto}. */
export class FuncParam {
  /** The name; `""` when the prototype does not name it. */
  name: string;
  /** The parameter's type; {@linkcode Void} for the `...` of a variadic function. */
  type: Type;

  /** Makes a parameter. */
  constructor(name: string, type: Type) {
    this.name = name;
    this.type = type;
  }
}

/** A function prototype (`BTF_KIND_FUNC_PROTO`). */
export class FuncProto extends TypeBase {
  #return: Type | number;
  #params: FuncParam[];

  /** Makes a prototype returning `returnType` (Void for `void`). */
  constructor(returnType: Type, params: FuncParam[] = [], name = "") {
    super(name);
    this.#return = returnType;
    this.#params = params;
  }
  /** Always `"funcProto"`. */
  get kind(): "funcProto" {
    return "funcProto";
  }
  /** The return type. */
  get return(): Type {
    const t = this.#return;
    return typeof t === "number" ? (this.#return = resolve(this, t)) : t;
  }
  set return(t: Type) {
    this.#return = t;
  }
  /** The parameters; a last one of type {@linkcode Void} with no name means `...`. */
  get params(): FuncParam[] {
    const p = this.#params;
    return p === LAZY_LIST ? (this.#params = resolveList<FuncParam>(this)) : p;
  }
  set params(p: FuncParam[]) {
    this.#params = p;
  }
  /** Whether the function takes `...`. */
  get variadic(): boolean {
    const p = this.params;
    return p.length > 0 && p[p.length - 1].type instanceof Void && p[p.length - 1].name === "";
  }
}

/** A function (`BTF_KIND_FUNC`): a name, a prototype and a linkage. */
export class Func extends TypeBase {
  #type: Type | number;
  /** {@linkcode Linkage}: static, global or extern (stored in vlen). */
  linkage: number;

  /** Makes a function. */
  constructor(name: string, type: FuncProto, linkage: number = Linkage.Static) {
    super(name);
    this.#type = type;
    this.linkage = linkage;
  }
  /** Always `"func"`. */
  get kind(): "func" {
    return "func";
  }
  /** The prototype (a {@linkcode FuncProto} in any valid BTF). */
  get type(): Type {
    const t = this.#type;
    return typeof t === "number" ? (this.#type = resolve(this, t)) : t;
  }
  set type(t: Type) {
    this.#type = t;
  }
}

/** A variable (`BTF_KIND_VAR`). */
export class Var extends TypeBase {
  #type: Type | number;
  /** {@linkcode Linkage}: static, global or extern. */
  linkage: number;

  /** Makes a variable. */
  constructor(name: string, type: Type, linkage: number = Linkage.Global) {
    super(name);
    this.#type = type;
    this.linkage = linkage;
  }
  /** Always `"var"`. */
  get kind(): "var" {
    return "var";
  }
  /** The variable's type. */
  get type(): Type {
    const t = this.#type;
    return typeof t === "number" ? (this.#type = resolve(this, t)) : t;
  }
  set type(t: Type) {
    this.#type = t;
  }
}

/** A variable's place in a {@linkcode Datasec}. */
export class VarSecinfo {
  /** The variable (a {@linkcode Var}, or a {@linkcode Func} in `.ksyms`). */
  type: Type;
  /** Offset in the section, in bytes. */
  offset: number;
  /** Size in bytes. */
  size: number;

  /** Makes a section entry. */
  constructor(type: Type, offset: number, size: number) {
    this.type = type;
    this.offset = offset;
    this.size = size;
  }
}

/** A data section (`BTF_KIND_DATASEC`) such as `.data`, `.bss` or `.maps`. */
export class Datasec extends TypeBase {
  /** Size in bytes (0 in objects straight from clang; the loader fills it in). */
  size: number;
  #vars: VarSecinfo[];

  /** Makes a data section. */
  constructor(name: string, size: number, vars: VarSecinfo[] = []) {
    super(name);
    this.size = size;
    this.#vars = vars;
  }
  /** Always `"datasec"`. */
  get kind(): "datasec" {
    return "datasec";
  }
  /** The variables in the section. */
  get vars(): VarSecinfo[] {
    const v = this.#vars;
    return v === LAZY_LIST ? (this.#vars = resolveList<VarSecinfo>(this)) : v;
  }
  set vars(v: VarSecinfo[]) {
    this.#vars = v;
  }
}

/** A floating-point type (`BTF_KIND_FLOAT`). */
export class Float extends TypeBase {
  /** Size in bytes. */
  size: number;

  /** Makes a floating-point type. */
  constructor(name: string, size: number) {
    super(name);
    this.size = size;
  }
  /** Always `"float"`. */
  get kind(): "float" {
    return "float";
  }
}

/**
 * A declaration tag (`BTF_KIND_DECL_TAG`): `__attribute__((btf_decl_tag("value")))` on a
 * struct, union, typedef, variable or function, or on one of its members or parameters.
 */
export class DeclTag extends TypeBase {
  #type: Type | number;
  /** The member or parameter index the tag applies to; -1 for the type itself. */
  index: number;

  /** Makes a tag `value` on `type` (or on its member or parameter `index`). */
  constructor(value: string, type: Type, index = -1) {
    super(value);
    this.#type = type;
    this.index = index;
  }
  /** Always `"declTag"`. */
  get kind(): "declTag" {
    return "declTag";
  }
  /** The tag's text (the same as `name`). */
  get value(): string {
    return this.name;
  }
  set value(v: string) {
    this.name = v;
  }
  /** The tagged type. */
  get type(): Type {
    const t = this.#type;
    return typeof t === "number" ? (this.#type = resolve(this, t)) : t;
  }
  set type(t: Type) {
    this.#type = t;
  }
}

// The kind number of each class, on its prototype under a symbol no caller sees: kindOf
// reads one property instead of calling the `kind` getter and comparing strings, which
// cost an object walk of vmlinux (a call per type and per member) a tenth of its time.
const KIND_NUMBER: unique symbol = Symbol("BTF kind number");
for (
  const [cls, kind] of [
    [Void, Kind.Unknown],
    [Int, Kind.Int],
    [Pointer, Kind.Pointer],
    [Array, Kind.Array],
    [Struct, Kind.Struct],
    [Union, Kind.Union],
    [Enum, Kind.Enum],
    [Fwd, Kind.Fwd],
    [Typedef, Kind.Typedef],
    [Volatile, Kind.Volatile],
    [Const, Kind.Const],
    [Restrict, Kind.Restrict],
    [Func, Kind.Func],
    [FuncProto, Kind.FuncProto],
    [Var, Kind.Var],
    [Datasec, Kind.Datasec],
    [Float, Kind.Float],
    [DeclTag, Kind.DeclTag],
    [TypeTag, Kind.TypeTag],
  ] as const
) Object.defineProperty(cls.prototype, KIND_NUMBER, { value: kind });

/** The `BTF_KIND_*` number a type is written as. */
export function kindOf(t: Type): Kind {
  const k = (t as { [KIND_NUMBER]?: Kind })[KIND_NUMBER];
  if (k !== undefined) return k === Kind.Enum && (t as Enum).is64 ? Kind.Enum64 : k;
  // An object of none of the classes above that still says what it is.
  switch ((t as Type).kind) {
    case "void":
      return Kind.Unknown;
    case "int":
      return Kind.Int;
    case "pointer":
      return Kind.Pointer;
    case "array":
      return Kind.Array;
    case "struct":
      return Kind.Struct;
    case "union":
      return Kind.Union;
    case "enum":
      return (t as Enum).is64 ? Kind.Enum64 : Kind.Enum;
    case "fwd":
      return Kind.Fwd;
    case "typedef":
      return Kind.Typedef;
    case "volatile":
      return Kind.Volatile;
    case "const":
      return Kind.Const;
    case "restrict":
      return Kind.Restrict;
    case "func":
      return Kind.Func;
    case "funcProto":
      return Kind.FuncProto;
    case "var":
      return Kind.Var;
    case "datasec":
      return Kind.Datasec;
    case "float":
      return Kind.Float;
    case "declTag":
      return Kind.DeclTag;
    case "typeTag":
      return Kind.TypeTag;
  }
}

/**
 * Bytes that follow the 12-byte common part of a type of `kind` with `vlen` records; -1 for
 * a kind the parser does not know. Shared by the parser and the writer.
 */
export function recordBytes(kind: number, vlen: number): number {
  switch (kind) {
    case Kind.Int:
    case Kind.Var:
    case Kind.DeclTag:
      return 4;
    case Kind.Pointer:
    case Kind.Fwd:
    case Kind.Typedef:
    case Kind.Volatile:
    case Kind.Const:
    case Kind.Restrict:
    case Kind.Func:
    case Kind.Float:
    case Kind.TypeTag:
      return 0;
    case Kind.Array:
      return 12;
    case Kind.Struct:
    case Kind.Union:
    case Kind.Enum64:
    case Kind.Datasec:
      return 12 * vlen;
    case Kind.Enum:
    case Kind.FuncProto:
      return 8 * vlen;
    default:
      return -1;
  }
}
