/**
 * How the live inspector prints: aligned tables for people, JSON for tools. JSON keeps 64-bit
 * numbers exact (a bigint prints as its digits, as bpftool prints a `__u64`), and names that
 * come from the kernel are shown, not obeyed, in tables (control characters escaped).
 *
 * @module
 */

import { printable } from "../inspect.ts";

/**
 * JSON with bigints as exact numbers (`JSON.rawJSON`, so `2**64 - 1` is not rounded), and
 * `undefined` fields left out, as `JSON.stringify` leaves them.
 */
export function toJson(value: unknown, indent?: number): string {
  return JSON.stringify(
    value,
    (_key, v) => (typeof v === "bigint" ? (JSON as unknown as RawJson).rawJSON(v.toString()) : v),
    indent,
  );
}

/** `JSON.rawJSON` (V8 has it; TypeScript's lib does not declare it yet). */
interface RawJson {
  rawJSON(text: string): unknown;
}

/** A cell of a table: anything is shown as text, `undefined` and `null` as `-`. */
export type Cell = string | number | bigint | boolean | undefined | null;

/**
 * Rows under a header, each column as wide as its widest cell; numbers are right-aligned.
 * The last column is not padded, so long text there does not widen every line; no rows
 * print as `(none)` under the header.
 */
export function table(header: string[], rows: Cell[][]): string {
  const text = rows.map((row) => row.map(cellText));
  const widths = header.map((h, i) => Math.max(h.length, ...text.map((r) => r[i]?.length ?? 0)));
  const numeric = header.map((_, i) =>
    rows.length > 0 && rows.every((r) => typeof r[i] === "number" || typeof r[i] === "bigint")
  );
  const line = (cells: string[], isHeader: boolean) =>
    cells.map((c, i) => {
      if (i === cells.length - 1) return numeric[i] && !isHeader ? c.padStart(widths[i]) : c;
      return numeric[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]);
    }).join("  ").trimEnd();
  if (rows.length === 0) return `${line(header, true)}\n(none)`;
  return [line(header, true), ...text.map((r) => line(r, false))].join("\n");
}

function cellText(c: Cell): string {
  if (c === undefined || c === null) return "-";
  return printable(String(c));
}

/** Lines of `key  value` pairs for one object, the keys aligned. */
export function fields(pairs: [string, Cell][]): string {
  const width = Math.max(0, ...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${k.padEnd(width)}  ${cellText(v)}`).join("\n");
}

/** Bytes as bpftool's JSON shows them: `["0x01", "0x00", …]`. */
export function hexList(bytes: Uint8Array): string[] {
  return Array.from(bytes, (b) => `0x${b.toString(16).padStart(2, "0")}`);
}
