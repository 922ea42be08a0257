/**
 * `formatC`: C declarations for a set of types, in an order that compiles, like
 * `bpftool btf dump format c` (libbpf's btf_dump). Struct layouts are kept: explicit
 * padding and `__attribute__((packed))` where the compiler would not place members where
 * the BTF says.
 *
 * @module
 */

import { alignof, isQualifier, sizeof, skipQualifiers } from "./helpers.ts";
import type { Spec } from "./spec.ts";
import {
  Array as ArrayType,
  Const,
  Datasec,
  Enum,
  Float,
  Func,
  FuncProto,
  Fwd,
  Int,
  IntEncoding,
  type Member,
  Pointer,
  Restrict,
  Struct,
  type Type,
  Typedef,
  TypeTag,
  Union,
  Var,
  Void,
  Volatile,
} from "./types.ts";

/** Options of {@linkcode formatC}. */
export interface FormatCOptions {
  /**
   * Wrap the output like bpftool's vmlinux.h: an include guard of this name, and
   * `preserve_access_index` on every struct and union so that field accesses relocate.
   */
  guard?: string;
}

const enum State {
  None = 0,
  Declared = 1,
  Defining = 2,
  Defined = 3,
}

/**
 * How deep definitions may nest (a struct by value in a struct in …, a typedef of a typedef
 * of …) before {@linkcode formatC} gives up with a `RangeError`. The kernel's BTF verifier
 * resolves at most 32 levels; far deeper input would overflow the stack.
 */
export const FORMAT_C_MAX_NESTING = 256;

/**
 * Prints C declarations of `types` (a spec prints all of its types) and of everything they
 * need, in an order a C compiler accepts: forward declarations for pointers, definitions
 * before by-value use. Names that clash get libbpf's `___N` suffix. Functions, variables,
 * data sections and declaration tags are not printed; the types they use are.
 *
 * Names are never copied into the output unchecked: a name that is not a C identifier (or
 * is a C keyword) is renamed, each character outside `[A-Za-z0-9_]` becoming `_`, and its
 * definition carries a comment with the BTF name escaped (`/* BTF name: "a b" *\/`). Types
 * nested deeper than {@linkcode FORMAT_C_MAX_NESTING} throw a `RangeError`.
 *
 * @example
 * ```ts
 * import { formatC, loadKernelSpec, Struct } from "@ebpf/ebpf/btf";
 * const spec = loadKernelSpec();
 * console.log(formatC([spec.typeByName("iphdr", Struct)!]));
 * ```
 */
export function formatC(types: Iterable<Type> | Spec, options: FormatCOptions = {}): string {
  const list = [...types];
  const p = new Printer(list);
  for (const t of list) p.top(t);
  const body = p.out.join("");
  if (options.guard === undefined) return body;
  const g = options.guard;
  if (!IDENTIFIER.test(g)) {
    throw new TypeError(`Include guard ${JSON.stringify(g)} is not a C identifier`);
  }
  return `#ifndef ${g}\n#define ${g}\n\n` +
    "#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n" +
    "#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)\n" +
    "#endif\n\n" + body +
    "#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n#pragma clang attribute pop\n#endif\n\n" +
    `#endif /* ${g} */\n`;
}

class Printer {
  readonly out: string[] = [];
  readonly #state = new Map<Type, State>();
  readonly #names = new Map<Type, string>();
  readonly #tagCount = new Map<string, number>();
  readonly #identCount = new Map<string, number>();
  readonly #enumValueNames = new Map<Type, string[]>();
  readonly #referenced = new Set<Type>();
  readonly #inlineGuard = new Set<Type>();
  /** How many definitions are being printed inside each other now. */
  #nesting = 0;

  /** One nesting level deeper, refusing to go past FORMAT_C_MAX_NESTING. */
  #enter(t: Type): void {
    if (this.#nesting >= FORMAT_C_MAX_NESTING) {
      throw new RangeError(
        `Types nest deeper than ${FORMAT_C_MAX_NESTING} levels (the kernel accepts 32): ${t}`,
      );
    }
    this.#nesting++;
  }

  constructor(list: Type[]) {
    // Names are settled up front, in input order, so the first of a name keeps it.
    for (const t of list) {
      this.#name(t);
      if (t instanceof Enum) this.#enumValues(t);
      this.#noteRefs(t);
    }
  }

  /** Emits what a type in the input list stands for at file scope. */
  top(t: Type): void {
    if (t instanceof Struct || t instanceof Union) {
      if (t.name !== "") this.#define(t);
    } else if (t instanceof Enum) {
      // Anonymous enums nobody refers to exist for their constants.
      if (t.name !== "" || !this.#referenced.has(t)) this.#define(t);
    } else if (t instanceof Fwd) {
      this.#declare(t);
    } else if (t instanceof Typedef) {
      this.#require(t, true);
    } else if (t instanceof Func) {
      this.#require(t.type, false);
    } else if (t instanceof Var) {
      this.#require(t.type, true);
    } else if (t instanceof Datasec) {
      for (const v of t.vars) if (v.type instanceof Var) this.#require(v.type.type, true);
    } else if (
      t instanceof Pointer || t instanceof ArrayType || t instanceof FuncProto || isQualifier(t)
    ) {
      this.#require(t, false);
    }
  }

  #noteRefs(t: Type): void {
    const note = (r: Type) => this.#referenced.add(r);
    if (t instanceof Pointer) note(t.target);
    else if (t instanceof ArrayType) note(t.type);
    else if (t instanceof Struct || t instanceof Union) { for (const m of t.members) note(m.type); }
    else if (t instanceof FuncProto) {
      note(t.return);
      for (const x of t.params) note(x.type);
    } else if (
      t instanceof Typedef || isQualifier(t) || t instanceof Var || t instanceof Func
    ) note(t.type);
  }

  #unique(counts: Map<string, number>, name: string): string {
    const n = (counts.get(name) ?? 0) + 1;
    counts.set(name, n);
    return n === 1 ? name : `${name}___${n}`;
  }

  /** The C name of a named struct, union, enum, forward declaration or typedef. */
  #name(t: Type): string {
    let n = this.#names.get(t);
    if (n !== undefined) return n;
    if (t.name === "") return "";
    if (t instanceof Struct || t instanceof Union || t instanceof Enum || t instanceof Fwd) {
      n = this.#unique(this.#tagCount, cIdentifier(t.name));
    } else if (t instanceof Typedef) {
      n = this.#unique(this.#identCount, cIdentifier(t.name));
    } else {
      n = cIdentifier(t.name);
    }
    this.#names.set(t, n);
    return n;
  }

  #enumValues(t: Enum): string[] {
    let names = this.#enumValueNames.get(t);
    if (!names) {
      names = t.values.map((v) => this.#unique(this.#identCount, cIdentifier(v.name)));
      this.#enumValueNames.set(t, names);
    }
    return names;
  }

  /**
   * Makes sure everything a declaration mentioning `t` needs is out: definitions for what
   * is used by value, forward declarations for what is only pointed at.
   */
  #require(t: Type, byValue: boolean): void {
    this.#enter(t);
    try {
      this.#requireAt(t, byValue);
    } finally {
      this.#nesting--;
    }
  }

  #requireAt(t: Type, byValue: boolean): void {
    for (let depth = 0;; depth++) {
      if (depth > 64) throw new RangeError(`Type chain too deep (or cyclic): ${t}`);
      if (t instanceof Pointer) {
        t = t.target;
        byValue = false;
      } else if (t instanceof ArrayType) {
        // C wants complete element types even behind a pointer.
        t = t.type;
        byValue = true;
      } else if (isQualifier(t)) {
        t = t.type;
      } else break;
    }
    if (t instanceof Struct || t instanceof Union) {
      if (t.name === "") {
        // Printed inline: its members' needs come first.
        if (this.#inlineGuard.has(t)) return;
        this.#inlineGuard.add(t);
        for (const m of t.members) this.#require(m.type, true);
        this.#inlineGuard.delete(t);
      } else if (byValue) {
        this.#define(t);
      } else {
        this.#declare(t);
      }
    } else if (t instanceof Enum) {
      if (t.name !== "") this.#define(t);
    } else if (t instanceof Fwd) {
      this.#declare(t);
    } else if (t instanceof Typedef) {
      const s = this.#state.get(t) ?? State.None;
      if (s === State.None && t.name === "__builtin_va_list") {
        // A compiler built-in: redefining it breaks the build (libbpf skips it too).
        this.#state.set(t, State.Defined);
      } else if (s === State.None) {
        this.#state.set(t, State.Defining);
        this.#require(t.type, false);
        this.out.push(`typedef ${this.#decl(t.type, this.#name(t), 0)};${renamed(t.name)}\n\n`);
        this.#state.set(t, State.Defined);
      }
      if (byValue && s !== State.Defining) this.#require(t.type, true);
    } else if (t instanceof FuncProto) {
      this.#require(t.return, false);
      for (const x of t.params) this.#require(x.type, false);
    }
  }

  /** `struct x;` once, unless the definition is out already. */
  #declare(t: Struct | Union | Fwd): void {
    const s = this.#state.get(t) ?? State.None;
    if (s !== State.None && s !== State.Defining) return;
    if (s === State.Defining && this.#declaredWhileDefining.has(t)) return;
    const kw = t instanceof Fwd ? t.fwdKind : t.kind;
    this.out.push(`${kw} ${this.#name(t)};${renamed(t.name)}\n\n`);
    if (s === State.None) this.#state.set(t, State.Declared);
    else this.#declaredWhileDefining.add(t);
  }

  readonly #declaredWhileDefining = new Set<Type>();

  #define(t: Struct | Union | Enum): void {
    const s = this.#state.get(t) ?? State.None;
    if (s === State.Defined) return;
    if (s === State.Defining) {
      // Only a by-value cycle gets here; C cannot express it, so declare and carry on.
      if (!(t instanceof Enum)) this.#declare(t);
      return;
    }
    this.#state.set(t, State.Defining);
    if (t instanceof Enum) {
      this.out.push(`${this.#enumDef(t, 0)};\n\n`);
    } else {
      for (const m of t.members) this.#require(m.type, true);
      this.out.push(`${this.#compositeDef(t, 0)};\n\n`);
    }
    this.#state.set(t, State.Defined);
  }

  #enumDef(t: Enum, lvl: number): string {
    const head = t.name === "" ? "enum" : `enum ${this.#name(t)}${renamed(t.name)}`;
    const values = t.values;
    let body = "";
    if (values.length > 0) {
      const names = this.#enumValues(t);
      const pad = "\t".repeat(lvl + 1);
      body = " {\n";
      for (let i = 0; i < values.length; i++) {
        body += `${pad}${names[i]} = ${enumLiteral(values[i].value, t)},${
          renamed(values[i].name)
        }\n`;
      }
      body += `${"\t".repeat(lvl)}}`;
    } else {
      // An enum without enumerators is not C; an int-sized stand-in keeps it usable.
      body = ` {\n${"\t".repeat(lvl + 1)}${
        this.#unique(this.#identCount, `__${cIdentifier(t.name)}_empty`)
      } = 0,\n${"\t".repeat(lvl)}}`;
    }
    let attr = "";
    if (t.size === 1 || t.size === 2) attr = " __attribute__((packed))";
    else if (t.size === 8 && !values.some((v) => v.value > 0x7fffffffn || v.value < -0x80000000n)) {
      attr = " __attribute__((mode(word)))";
    }
    return head + body + attr;
  }

  #compositeDef(t: Struct | Union, lvl: number): string {
    this.#enter(t);
    try {
      return this.#compositeBody(t, lvl);
    } finally {
      this.#nesting--;
    }
  }

  #compositeBody(t: Struct | Union, lvl: number): string {
    const kw = t.kind;
    const head = t.name === "" ? kw : `${kw} ${this.#name(t)}${renamed(t.name)}`;
    const members = t.members;
    const packed = isPacked(t);
    const pad = "\t".repeat(lvl + 1);
    let body = " {\n";
    let cur = 0;
    const isStruct = t instanceof Struct;
    for (const m of members) {
      if (isStruct && m.offset >= cur) {
        const natural = naturalOffset(m, cur, packed);
        if (natural !== m.offset) body += padding(cur, m.offset, pad);
      }
      const plain = m.name === "" || isIdentifier(m.name);
      let line = this.#decl(m.type, plain ? m.name : cIdentifier(m.name), lvl + 1);
      if (m.bitfieldSize) line += `: ${m.bitfieldSize}`;
      body += `${pad}${line};${plain ? "" : renamed(m.name)}\n`;
      if (isStruct) {
        const end = m.offset + (m.bitfieldSize || safeSize(m.type) * 8);
        if (end > cur) cur = end;
      }
    }
    if (isStruct && t.size * 8 > cur) {
      const a = packed ? 8 : maxAlign(t) * 8;
      if (Math.ceil(cur / a) * a !== t.size * 8) body += padding(cur, t.size * 8, pad);
    }
    body += `${"\t".repeat(lvl)}}`;
    return head + body + (packed ? " __attribute__((packed))" : "");
  }

  /** A declaration of `name` with type `t`, such as `int (*name)[4]`. */
  #decl(t: Type, inner: string, lvl: number): string {
    // Qualifiers wait for the type they apply to: after a pointer's star, before a base.
    // A set, because BTF may repeat one (a const array of const char).
    const quals = new Set<string>();
    for (let depth = 0;; depth++) {
      if (depth > 256) throw new RangeError(`Declarator too deep (or cyclic): ${t}`);
      if (t instanceof Const || t instanceof Volatile || t instanceof Restrict) {
        quals.add(t instanceof Const ? "const" : t instanceof Volatile ? "volatile" : "restrict");
        t = t.type;
      } else if (t instanceof Pointer) {
        if (quals.size > 0) {
          inner = `${[...quals].join(" ")} ${inner}`;
          quals.clear();
        }
        const target = safeSkip(t.target);
        inner = target instanceof ArrayType || target instanceof FuncProto
          ? `(*${inner})`
          : `*${inner}`;
        t = t.target;
      } else if (t instanceof ArrayType) {
        inner = `${inner}[${t.nelems}]`;
        t = t.type;
      } else if (t instanceof FuncProto) {
        // A qualified function type means nothing in C.
        quals.clear();
        inner = `${inner}(${this.#params(t, lvl)})`;
        t = t.return;
      } else if (t instanceof TypeTag) {
        inner = `__attribute__((btf_type_tag("${escape(t.name)}"))) ${inner}`;
        t = t.type;
      } else {
        let base = this.#base(t, lvl);
        if (quals.size > 0) base = `${[...quals].join(" ")} ${base}`;
        return inner === "" ? base : `${base} ${inner}`;
      }
    }
  }

  #params(t: FuncProto, lvl: number): string {
    const ps = t.params;
    if (ps.length === 0) return "void";
    const out: string[] = [];
    for (let i = 0; i < ps.length; i++) {
      if (i === ps.length - 1 && ps[i].type instanceof Void && ps[i].name === "") {
        out.push("...");
      } else {
        out.push(this.#decl(ps[i].type, "", lvl));
      }
    }
    return out.join(", ");
  }

  #base(t: Type, lvl: number): string {
    if (t instanceof Void) return "void";
    if (t instanceof Int || t instanceof Float) return baseTypeName(t);
    if (t instanceof Typedef) return this.#name(t);
    if (t instanceof Fwd) return `${t.fwdKind} ${this.#name(t)}`;
    if (t instanceof Struct || t instanceof Union) {
      if (t.name !== "") return `${t.kind} ${this.#name(t)}`;
      if (this.#inlineGuard.has(t)) return "void"; // an anonymous struct inside itself
      this.#inlineGuard.add(t);
      const def = this.#compositeDef(t, lvl);
      this.#inlineGuard.delete(t);
      return def;
    }
    if (t instanceof Enum) {
      if (t.name !== "") return `enum ${this.#name(t)}`;
      return this.#enumDef(t, lvl);
    }
    // Functions, variables and tags have no C type of their own; name what they wrap.
    if (t instanceof Func || t instanceof Var) return this.#decl(t.type, "", lvl);
    return "void";
  }
}

/**
 * `s` as the inside of the string literal of an attribute: quotes, backslashes and `?`
 * escaped, controls as their simple escapes. Attribute strings are unevaluated, which
 * allows no numeric escapes: controls without a simple escape become `_`.
 */
function escape(s: string): string {
  // deno-lint-ignore no-control-regex -- matching control characters is the point
  return s.replace(/[\\"?\x00-\x1f\x7f]/g, (c) => {
    if (c === "\\" || c === '"' || c === "?") return `\\${c}`;
    return SIMPLE_ESCAPES[c] ?? "_";
  });
}

const SIMPLE_ESCAPES: Record<string, string> = {
  "\x07": "\\a",
  "\b": "\\b",
  "\f": "\\f",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
  "\v": "\\v",
};

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** C11's keywords: a type or member named so would not compile (and may be a trick). */
const C_KEYWORDS = new Set(
  ("auto break case char const continue default do double else enum extern float for goto if " +
    "inline int long register restrict return short signed sizeof static struct switch typedef " +
    "union unsigned void volatile while _Alignas _Alignof _Atomic _Bool _Complex _Generic " +
    "_Imaginary _Noreturn _Static_assert _Thread_local").split(" "),
);

/** Whether `name` can be printed as it is: a C identifier that is not a keyword. */
function isIdentifier(name: string): boolean {
  return IDENTIFIER.test(name) && !C_KEYWORDS.has(name);
}

/**
 * `name` as a C identifier: itself when it is one, else every character outside
 * `[A-Za-z0-9_]` replaced by `_` (and `_` before a leading digit, after a keyword), so that
 * a hostile name can put nothing but an identifier into a header.
 */
function cIdentifier(name: string): string {
  if (isIdentifier(name)) return name;
  let id = name.replace(/[^A-Za-z0-9_]/g, "_");
  if (id === "" || /^[0-9]/.test(id)) id = `_${id}`;
  return C_KEYWORDS.has(id) ? `${id}_` : id;
}

/** The keywords a base type's name is made of, besides identifiers such as `__int128`. */
const BASE_TYPE_WORDS = new Set(
  ["signed", "unsigned", "char", "short", "int", "long", "_Bool", "float", "double", "_Complex"],
);

/**
 * The name of a base type as C spells it (`long unsigned int`): words that are identifiers
 * or the keywords of base types, separated by spaces. Any other name is no C type: the C
 * type of the same size and signedness stands in for it.
 */
function baseTypeName(t: Int | Float): string {
  const words = t.name.split(" ");
  const ok = t.name !== "" &&
    words.every((w) => IDENTIFIER.test(w) && (!C_KEYWORDS.has(w) || BASE_TYPE_WORDS.has(w)));
  if (ok) return t.name;
  if (t instanceof Float) return t.size === 4 ? "float" : t.size === 8 ? "double" : "long double";
  if (t.encoding & IntEncoding.Bool) return "_Bool";
  const base = INT_BY_SIZE[t.size] ?? "int";
  return t.signed ? (t.size === 1 ? "signed char" : base) : `unsigned ${base}`;
}

const INT_BY_SIZE: Record<number, string> = {
  1: "char",
  2: "short",
  4: "int",
  8: "long long",
  16: "__int128",
};

/** A comment naming the BTF name a definition was renamed from; "" when it was not. */
function renamed(name: string): string {
  if (name === "" || isIdentifier(name)) return "";
  // JSON escapes quotes, backslashes and controls; no "*" means no "*/" and no "/*".
  return ` /* BTF name: ${JSON.stringify(name).replace(/\*/g, "\\u002a")} */`;
}

function enumLiteral(v: bigint, t: Enum): string {
  if (t.size === 8 || v > 0x7fffffffn || v < -0x80000000n) {
    if (v < 0n) {
      return v === -(1n << 63n) ? "(-9223372036854775807LL - 1)" : `${v}LL`;
    }
    return v > 0x7fffffffffffffffn ? `${v}ULL` : `${v}LL`;
  }
  if (v === -0x80000000n) return "(-2147483647 - 1)";
  return `${v}`;
}

function safeSkip(t: Type): Type {
  try {
    return skipQualifiers(t);
  } catch {
    return t;
  }
}

function safeSize(t: Type): number {
  try {
    return sizeof(t);
  } catch {
    return 0;
  }
}

function safeAlign(t: Type): number {
  try {
    return alignof(t);
  } catch {
    return 1;
  }
}

function maxAlign(t: Struct | Union): number {
  let max = 1;
  for (const m of t.members) max = Math.max(max, safeAlign(m.type));
  return max;
}

/** Whether the BTF layout needs `__attribute__((packed))` to come out of a compiler. */
function isPacked(t: Struct | Union): boolean {
  const max = maxAlign(t);
  if (t.size % max !== 0) return true;
  for (const m of t.members) {
    const a = safeAlign(m.type) * 8;
    if (m.bitfieldSize === 0) {
      if (m.offset % a !== 0) return true;
    } else {
      const unit = safeSize(m.type) * 8;
      if (unit > 0 && (m.offset % unit) + m.bitfieldSize > unit) return true;
    }
  }
  return false;
}

/** Where a compiler would put member `m` after `cur` bits. */
function naturalOffset(m: Member, cur: number, packed: boolean): number {
  if (m.bitfieldSize) {
    if (packed) return cur;
    const unit = safeSize(m.type) * 8;
    if (unit === 0) return cur;
    return (cur % unit) + m.bitfieldSize <= unit ? cur : Math.ceil(cur / unit) * unit;
  }
  const a = packed ? 8 : safeAlign(m.type) * 8;
  return Math.ceil(cur / a) * a;
}

/** Bytes of padding above which one array replaces a run of anonymous bitfields. */
const PAD_ARRAY_BYTES = 256;

/**
 * Anonymous bitfields that fill bits `[from, to)` exactly; a long byte-aligned gap becomes
 * one `char` array instead, so that absurd sizes cannot blow the output up.
 */
function padding(from: number, to: number, pad: string): string {
  let out = "";
  let cur = from;
  while (cur < to && cur % 8 !== 0) {
    const w = Math.min(8 - (cur % 8), to - cur);
    out += `${pad}char: ${w};\n`;
    cur += w;
  }
  if (to - cur >= PAD_ARRAY_BYTES * 8) {
    const bytes = Math.floor((to - cur) / 8);
    out += `${pad}char ___btf_pad_${cur / 8}[${bytes}];\n`;
    cur += bytes * 8;
  }
  const units: [string, number][] = [["long", 64], ["int", 32], ["short", 16], ["char", 8]];
  while (to - cur >= 8) {
    for (const [name, bits] of units) {
      if (cur % bits === 0 && cur + bits <= to) {
        out += `${pad}${name}: ${bits};\n`;
        cur += bits;
        break;
      }
    }
  }
  if (cur < to) out += `${pad}char: ${to - cur};\n`;
  return out;
}
