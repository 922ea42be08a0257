/**
 * CollectionSpec: everything a BPF object describes — programs, maps, global variables and
 * BTF — before anything is created. Plain data; no syscalls.
 *
 * @module
 */

import type { ByteOrder } from "../asm/mod.ts";
import type { Spec } from "../btf/mod.ts";
import type { MapSpec } from "../map/map_spec.ts";
import type { ProgramSpec } from "./program_spec.ts";
import type { VariableSpec } from "./variable_spec.ts";

/** The fields of a {@linkcode CollectionSpec}. */
export interface CollectionSpecInit {
  /** Programs by name. */
  programs?: Record<string, ProgramSpec>;
  /** Maps by name. */
  maps?: Record<string, MapSpec>;
  /** Global variables by name. */
  variables?: Record<string, VariableSpec>;
  /** The object's BTF. */
  types?: Spec;
  /** The object's byte order. */
  byteOrder?: ByteOrder;
}

/**
 * The programs, maps and variables of a BPF object, by name. Parse one with
 * `parseCollectionSpec`/`loadCollectionSpec`, change it, then create it with `newCollection`.
 */
export class CollectionSpec {
  /** Programs by name. */
  programs: Record<string, ProgramSpec>;
  /** Maps by name (global data sections are maps named like the section, `".rodata"`). */
  maps: Record<string, MapSpec>;
  /** Global variables by name. */
  variables: Record<string, VariableSpec>;
  /** The object's BTF, if it has any. */
  types: Spec | undefined;
  /** The object's byte order. */
  byteOrder: ByteOrder;

  /** Builds a spec from its parts. */
  constructor(init: CollectionSpecInit = {}) {
    this.programs = init.programs ?? {};
    this.maps = init.maps ?? {};
    this.variables = init.variables ?? {};
    this.types = init.types;
    this.byteOrder = init.byteOrder ?? "little";
  }

  /**
   * An independent deep copy: programs and maps are copied, and each variable refers to
   * the copy of its map. BTF types are shared (treat them as read-only).
   */
  copy(): CollectionSpec {
    const maps: Record<string, MapSpec> = {};
    for (const [name, map] of Object.entries(this.maps)) maps[name] = map.copy();
    const programs: Record<string, ProgramSpec> = {};
    for (const [name, prog] of Object.entries(this.programs)) programs[name] = prog.copy();
    const variables: Record<string, VariableSpec> = {};
    for (const [name, v] of Object.entries(this.variables)) {
      const key = Object.keys(this.maps).find((k) => this.maps[k] === v.map);
      variables[name] = v.withMap(key !== undefined ? maps[key] : v.map.copy());
    }
    return new CollectionSpec({
      programs,
      maps,
      variables,
      types: this.types,
      byteOrder: this.byteOrder,
    });
  }
}
