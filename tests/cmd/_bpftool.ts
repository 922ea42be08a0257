/**
 * bpftool as the oracle of the live inspector's tests: its JSON output, and a field-by-field
 * comparison that checks every field bpftool prints against ours.
 *
 * @module
 */

import { assert, assertEquals } from "@std/assert";
import { run } from "../_harness.ts";
import { toJson } from "../../cmd/_live/output.ts";

/**
 * JSON parsed with integers beyond 2^53 as exact bigints (from their source text), so that
 * a u64 printed one off does not compare equal after rounding.
 */
// deno-lint-ignore no-explicit-any
export function parseExact(text: string): any {
  const reviver = (_key: string, value: unknown, context?: { source?: string }) =>
    typeof value === "number" && Number.isInteger(value) && !Number.isSafeInteger(value) &&
      context?.source !== undefined
      ? BigInt(context.source)
      : value;
  return JSON.parse(text, reviver as (key: string, value: unknown) => unknown);
}

/** `bpftool -j ARGS…`, parsed. */
// deno-lint-ignore no-explicit-any
export function bpftool(...args: string[]): any {
  return parseExact(run("bpftool", ["-j", ...args]));
}

/** Our JSON as a tool reads it: printed, then parsed. */
// deno-lint-ignore no-explicit-any
export function asRead(json: unknown): any {
  return parseExact(toJson(json));
}

/** How a field may differ from bpftool's and still agree. */
export interface Agreement {
  /** Fields whose numbers may differ by this much (times bpftool derives from the clock). */
  tolerance?: Record<string, number>;
  /**
   * Fields bpftool prints as a number when its libbpf predates the name (bpftool 7.1 prints
   * a tcx link's type as 11): the name our table gives that number must be ours.
   */
  names?: Record<string, (value: number) => string | number>;
}

/**
 * Every field of bpftool's `theirs` is in `ours` with the same value (`ours` may hold more);
 * nested objects and arrays are compared whole. Fails naming the object and the field.
 */
export function assertAgrees(
  ours: Record<string, unknown>,
  theirs: Record<string, unknown>,
  what: string,
  agreement: Agreement = {},
): void {
  for (const [key, value] of Object.entries(theirs)) {
    assert(key in ours, `${what}: bpftool prints '${key}' (${toJson(value)}), we do not`);
    const mine = ours[key];
    const tolerance = agreement.tolerance?.[key];
    const name = agreement.names?.[key];
    if (tolerance !== undefined && typeof value === "number" && typeof mine === "number") {
      assert(
        Math.abs(mine - value) <= tolerance,
        `${what}: '${key}' is ${mine}, bpftool says ${value} (±${tolerance})`,
      );
    } else if (name !== undefined && typeof value === "number" && typeof mine === "string") {
      assertEquals(mine, name(value), `${what}: '${key}' names bpftool's ${value}`);
    } else {
      assertEquals(mine, value, `${what}: '${key}'`);
    }
  }
}

/** The records of `list` whose `key` is one of `ids`, by id. */
export function byId<T extends Record<string, unknown>>(
  list: T[],
  ids: number[],
  key = "id",
): Map<number, T> {
  return new Map(
    list.filter((r) => ids.includes(r[key] as number)).map((r) => [r[key] as number, r]),
  );
}
