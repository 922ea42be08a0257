// rawTypes against `bpftool -j btf dump file F format raw`: the same records, field for field.
import { assertEquals } from "@std/assert";
import { loadSpec, rawTypes } from "../../btf/mod.ts";
import { run, testdata } from "../_harness.ts";
import { btfObjects, haveBpftool } from "./_util.ts";

const bpftool = haveBpftool();

/** Numbers as their digits, so 64-bit enum values compare exactly. */
function digits(value: unknown): unknown {
  if (typeof value === "number" || typeof value === "bigint") return String(value);
  if (Array.isArray(value)) return value.map(digits);
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, digits(v)]));
  }
  return value;
}

/** bpftool's JSON with each number kept as its source text (a __u64 is not rounded). */
function bpftoolJson(path: string): unknown {
  const text = run("bpftool", ["-j", "btf", "dump", "file", path, "format", "raw"]);
  type Reviver = (key: string, value: unknown, context: { source?: string }) => unknown;
  const exact: Reviver = (_k, v, ctx) => (typeof v === "number" ? ctx.source : v);
  const json = (JSON.parse as (text: string, reviver: Reviver) => unknown)(text, exact);
  return unsignEnums(json);
}

/**
 * bpftool 7.1's JSON widens a 32-bit enumerator (`__s32` in struct btf_enum) to 64 bits with
 * its sign even when the enum is unsigned: SKB_DROP_REASON_SUBSYS_MASK (0xffff0000) comes out
 * as 18446744073709486080, where its text dump says 4294901760. Taken back to 32 bits.
 */
function unsignEnums(json: unknown): unknown {
  const types = (json as { types: Record<string, unknown>[] }).types;
  for (const t of types) {
    if (t.kind !== "ENUM" || t.encoding !== "UNSIGNED") continue;
    for (const v of t.values as { val: string }[]) {
      v.val = String(BigInt(v.val) & 0xffffffffn);
    }
  }
  return json;
}

for (const obj of btfObjects().filter((o) => o.endsWith("-el.o"))) {
  Deno.test({
    name: `rawTypes equals bpftool -j for testdata/${obj}`,
    ignore: !bpftool,
    fn() {
      const path = testdata(obj);
      assertEquals(digits({ types: [...rawTypes(loadSpec(path))] }), bpftoolJson(path));
    },
  });
}
