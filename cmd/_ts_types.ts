/**
 * BTF types as TypeScript types: the shapes `map/codec.ts` decodes values to. Integers up to
 * 4 bytes are numbers (booleans for `_Bool`), 8 and 16-byte integers and pointers bigints,
 * enums their enumerator names (or the number for an unnamed value), char arrays strings,
 * other arrays arrays, structs and unions objects with anonymous members flattened.
 *
 * @module
 */

import {
  Array as ArrayType,
  Enum,
  Float,
  Int,
  IntEncoding,
  Pointer,
  Struct,
  type Type,
  Typedef,
  Union,
  Var,
} from "../btf/mod.ts";
import { underlyingType } from "../btf/helpers.ts";
import { codecFor, isKernelManagedStruct } from "../map/codec.ts";

const RESERVED = new Set([
  "break",
  "case",
  "catch",
  "class",
  "const",
  "continue",
  "debugger",
  "default",
  "delete",
  "do",
  "else",
  "enum",
  "export",
  "extends",
  "false",
  "finally",
  "for",
  "function",
  "if",
  "import",
  "in",
  "instanceof",
  "new",
  "null",
  "return",
  "super",
  "switch",
  "this",
  "throw",
  "true",
  "try",
  "typeof",
  "var",
  "void",
  "while",
  "with",
]);

/**
 * A name from the object as doc-comment text: `*\/` broken (so that a hostile name cannot
 * end the comment and put code into the generated module) and control characters escaped.
 */
export function docText(name: string): string {
  return name.replace(/\*\//g, "*\\/").replace(
    // deno-lint-ignore no-control-regex -- matching control characters is the point
    /[\x00-\x1f\x7f\u2028\u2029]/g,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`,
  );
}

/** `name` as an object key: bare when it is an identifier, quoted otherwise. */
export function propertyKey(name: string): string {
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name) ? name : JSON.stringify(name);
}

/** A C name as a TypeScript type name: `task_info` → `TaskInfo`. */
export function pascalCase(name: string): string {
  const parts = name.split(/[^A-Za-z0-9]+/).filter((p) => p !== "");
  let out = parts.map((p) => p[0].toUpperCase() + p.slice(1)).join("");
  if (out === "" || /^[0-9]/.test(out)) out = `T${out}`;
  return RESERVED.has(out) ? `${out}_` : out;
}

/** A C name as a TypeScript identifier: `calls_by_pid` → `callsByPid`. */
export function camelCase(name: string): string {
  const p = pascalCase(name);
  const out = p[0].toLowerCase() + p.slice(1);
  return RESERVED.has(out) ? `${out}_` : out;
}

/** Whether the codec can represent `type` (void, functions and the like it cannot). */
export function hasCodec(type: unknown): boolean {
  if (type === undefined || type === null) return false;
  try {
    codecFor(type);
    return true;
  } catch {
    return false;
  }
}

/** Deno fmt's default line width: generated lines stay within it where fmt could break them. */
export const LINE_WIDTH = 80;

/**
 * Collects TypeScript declarations for BTF types: every named struct, union and enum reached
 * gets an exported declaration (only those: a program's BTF may hold a whole vmlinux.h);
 * other types are written inline, formatted as `deno fmt` formats them.
 */
export class TsTypes {
  /** Declarations in dependency order. */
  readonly declarations: string[] = [];
  readonly #names = new Map<Type, string>();
  readonly #taken = new Set<string>();
  readonly #prefix: string;

  /** `prefix` is put before generated names that would clash with the module's own names. */
  constructor(reserved: Iterable<string> = [], prefix = "") {
    for (const r of reserved) this.#taken.add(r);
    this.#prefix = prefix;
  }

  /**
   * The TypeScript type of decoded values of `type`; `Uint8Array` without a codec. An
   * anonymous struct, union or enum is declared under `nameForAnonymous`, when given.
   */
  of(type: unknown, nameForAnonymous?: string): string {
    if (!hasCodec(type)) return "Uint8Array";
    const t = underlyingType(type as Type);
    if (
      nameForAnonymous !== undefined && !(type instanceof Typedef) &&
      (t instanceof Struct || t instanceof Union || t instanceof Enum) && t.name === ""
    ) {
      return this.#named(t, nameForAnonymous, 0, `An anonymous ${kindName(t)}`);
    }
    return this.#of(type as Type, 0, "");
  }

  /**
   * Declares `type` (a named struct, union, enum or typedef) under its own name, as
   * bpf2go's `-type` does; returns the TypeScript name.
   */
  declare(type: Struct | Union | Enum | Typedef): string {
    const have = this.#names.get(type);
    if (have) return have;
    const ts = this.of(type);
    const u = underlyingType(type);
    const anonymous = (u instanceof Struct || u instanceof Union || u instanceof Enum) &&
      u.name === "";
    if (type instanceof Typedef && !anonymous) {
      // A typedef of a scalar or of another named type: an alias under the typedef's name.
      const name = this.#unique(pascalCase(type.name));
      this.declarations.push(
        `/** \`${type.name}\`. */\n` + union(`export type ${name} =`, [ts], ";", ""),
      );
      this.#names.set(type, name);
      return name;
    }
    return ts;
  }

  #unique(base: string): string {
    let name = base;
    if (this.#taken.has(name)) name = `${this.#prefix}${base}`;
    for (let i = 2; this.#taken.has(name); i++) name = `${base}${i}`;
    this.#taken.add(name);
    return name;
  }

  /** The type of `type` where it is written at indentation `indent`. */
  #of(type: Type, depth: number, indent: string): string {
    if (depth > 32) return "unknown";
    const aliased = this.#names.get(type);
    if (aliased) return aliased;
    // A typedef of an anonymous struct, union or enum names it.
    if (type instanceof Typedef) {
      const u = underlyingType(type);
      if ((u instanceof Struct || u instanceof Union || u instanceof Enum) && u.name === "") {
        return this.#named(
          u,
          type.name,
          depth,
          `\`typedef ${kindName(u)} { … } ${docText(type.name)}\``,
        );
      }
      return this.#of(underlyingType(type), depth, indent);
    }
    const t = underlyingType(type);
    if (t !== type) return this.#of(t, depth, indent);
    if (t instanceof Int) {
      const bool = (t.encoding & IntEncoding.Bool) !== 0;
      if (bool && (t.size === 1 || t.size === 4)) return "boolean";
      return t.size <= 4 ? "number" : "bigint";
    }
    if (t instanceof Float) return "number";
    if (t instanceof Pointer) return "bigint";
    if (t instanceof Enum) {
      return t.name ? this.#named(t, t.name, depth) : enumMembers(t).join(" | ");
    }
    if (t instanceof ArrayType) {
      if (isChar(t.type)) return "string";
      const inner = this.#of(t.type, depth + 1, indent);
      return /^[A-Za-z0-9_]+$/.test(inner) || inner.endsWith("}") ? `${inner}[]` : `(${inner})[]`;
    }
    if (t instanceof Struct || t instanceof Union) {
      return t.name ? this.#named(t, t.name, depth) : this.#object(t, depth, indent);
    }
    return "unknown";
  }

  /** Declares `t` under `cName`; `what` says what it is in C (by default `kind cName`). */
  #named(
    t: Struct | Union | Enum,
    cName: string,
    depth: number,
    what = `\`${kindName(t)} ${docText(cName)}\``,
  ): string {
    const have = this.#names.get(t);
    if (have) return have;
    const name = this.#unique(pascalCase(cName));
    this.#names.set(t, name);
    if (t instanceof Enum) {
      this.declarations.push(
        `/** ${what}: an enumerator's name, or the number of a value it does not name. */\n` +
          union(`export type ${name} =`, enumMembers(t), ";", ""),
      );
    } else {
      const body = this.#object(t, depth + 1, "");
      this.declarations.push(`/** ${what} (${t.size} bytes). */\nexport interface ${name} ${body}`);
    }
    return name;
  }

  /** The members of a struct or union as an object type, anonymous members flattened. */
  #object(t: Struct | Union, depth: number, indent: string): string {
    const fields: string[] = [];
    const inner = indent + "  ";
    const walk = (c: Struct | Union, inUnion: boolean) => {
      const isUnion = inUnion || c instanceof Union;
      for (const m of c.members) {
        const u = underlyingType(m.type);
        if (m.name === "" && (u instanceof Struct || u instanceof Union)) {
          walk(u, isUnion);
          continue;
        }
        if (m.name === "") continue;
        if (u instanceof Struct && isKernelManagedStruct(u.name)) continue;
        // One member of a union is given when encoding; decoding gives all of them.
        const key = `${inner}${propertyKey(m.name)}${isUnion ? "?" : ""}:`;
        if (m.bitfieldSize !== 0 && !(m.offset % 8 === 0 && isWhole(m.bitfieldSize, u))) {
          const parts = u instanceof Enum
            ? enumMembers(u)
            : [(u as Int).size === 8 ? "bigint" : "number"];
          fields.push(union(key, parts, ";", inner));
        } else if (u instanceof Enum && u.name === "") {
          fields.push(union(key, enumMembers(u), ";", inner));
        } else {
          fields.push(`${key} ${this.#of(m.type, depth + 1, inner)};`);
        }
      }
    };
    walk(t, false);
    return fields.length === 0 ? "{\n" + indent + "}" : `{\n${fields.join("\n")}\n${indent}}`;
  }
}

function kindName(t: Struct | Union | Enum): string {
  return t instanceof Struct ? "struct" : t instanceof Union ? "union" : "enum";
}

/** An enum's members as TypeScript: its enumerators' names, then the number type. */
function enumMembers(t: Enum): string[] {
  const names = [...new Set(t.values.map((v) => JSON.stringify(v.name)))];
  names.push(t.size === 8 ? "bigint" : "number");
  return names;
}

/**
 * `head parts suffix` on one line when it fits, else as deno fmt writes a long union: one
 * `| member` a line, indented below `head`.
 */
function union(head: string, parts: string[], suffix: string, indent: string): string {
  const line = `${head} ${parts.join(" | ")}${suffix}`;
  if (line.length <= LINE_WIDTH || parts.length === 1) return line;
  return `${head}\n${parts.map((p) => `${indent}  | ${p}`).join("\n")}${suffix}`;
}

function isWhole(bits: number, u: Type): boolean {
  return (u instanceof Int || u instanceof Enum) && bits === u.size * 8;
}

function isChar(t: Type): boolean {
  const u = underlyingType(t);
  return u instanceof Int && u.size === 1 &&
    ((u.encoding & IntEncoding.Char) !== 0 || /^((un)?signed )?char$/.test(u.name));
}

/** The type a `btf.Var` holds, or undefined. */
export function varType(v: unknown): Type | undefined {
  return v instanceof Var ? v.type : undefined;
}
