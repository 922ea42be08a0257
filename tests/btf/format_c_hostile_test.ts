// formatC on hostile types: deep by-value nesting is a RangeError, not a stack overflow, and
// names that are not C identifiers are renamed (with the BTF name in an escaped comment), so
// that a crafted object can put nothing but identifiers into a generated header.
import { assert, assertEquals, assertStringIncludes, assertThrows } from "@std/assert";
import {
  Builder,
  Enum,
  EnumValue,
  FORMAT_C_MAX_NESTING,
  formatC,
  formatRaw,
  Int,
  Member,
  parseSpec,
  Pointer,
  Struct,
  Typedef,
  TypeTag,
} from "../../btf/mod.ts";

const int = new Int("int", 4, 1);

/** `levels` structs, each holding the next by value. */
function nested(levels: number): Struct {
  let inner = new Struct("s0", 4, [new Member("v", int, 0)]);
  for (let i = 1; i < levels; i++) inner = new Struct(`s${i}`, 4, [new Member("m", inner, 0)]);
  return inner;
}

const haveClang = (() => {
  try {
    return new Deno.Command("clang-19", { args: ["--version"], stdout: "null" }).outputSync()
      .success;
  } catch {
    return false;
  }
})();

/** Compiles `header` for the BPF target; returns clang's errors, "" when it compiled. */
function compileErrors(header: string, extra = ""): string {
  const dir = Deno.makeTempDirSync();
  try {
    Deno.writeTextFileSync(`${dir}/h.h`, header);
    Deno.writeTextFileSync(`${dir}/m.c`, `#include "h.h"\n${extra}\nint ok;\n`);
    const out = new Deno.Command("clang-19", {
      args: ["-target", "bpf", "-Werror", "-c", `${dir}/m.c`, "-o", `${dir}/m.o`],
      stdout: "piped",
      stderr: "piped",
    }).outputSync();
    return out.success ? "" : new TextDecoder().decode(out.stderr);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

Deno.test("formatC: 10,000 nested by-value structs are a RangeError, not a stack overflow", () => {
  // Was: "Maximum call stack size exceeded" at about 8,000 levels; validation accepts them.
  const spec = parseSpec(marshalled(nested(10_000)));
  assertThrows(() => formatC(spec), RangeError, `deeper than ${FORMAT_C_MAX_NESTING} levels`);
  // Within the bound the same shape prints every level.
  const c = formatC([nested(100)]);
  assertEquals(c.match(/^struct s\d+ \{/gm)?.length, 100);
});

function marshalled(t: Struct): Uint8Array {
  const b = new Builder();
  b.add(t);
  return b.marshal();
}

Deno.test("formatC: names that are not C identifiers are renamed, with the BTF name in a comment", () => {
  const evil = 'x { int a; };\n#include "/etc/passwd"\nstruct y';
  const s = new Struct(evil, 8, [
    new Member("a;\n#define int long\nint b", int, 0),
    new Member("int", int, 32),
  ]);
  const e = new Enum("e */ int z; /*", 4, [new EnumValue("V\nint q", 1n)]);
  const td = new Typedef("t\tt", new Pointer(s));
  const tag = new TypeTag('user"\n#error hi\\', int);
  const holder = new Struct("holder", 16, [
    new Member("p", new Pointer(tag), 0),
    new Member("k", e, 64),
  ]);
  const odd = new Int("int main(void) { return 0; } int", 4, 1);
  const c = formatC([s, e, td, holder, new Typedef("odd_t", odd)]);
  // No line but what formatC writes itself: no directive, no stray definition.
  for (const line of c.split("\n")) {
    assert(!/^\s*#/.test(line), `a directive got through: ${line}`);
  }
  assertStringIncludes(c, "struct x___int_a______include___etc_passwd__struct_y");
  assertStringIncludes(
    c,
    String.raw`/* BTF name: "x { int a; };\n#include \"/etc/passwd\"\nstruct y" */`,
  );
  assertStringIncludes(c, "\tint int_;");
  assertStringIncludes(
    c,
    String.raw`enum e____int_z____ /* BTF name: "e \u002a/ int z; /\u002a" */`,
  );
  assertStringIncludes(c, "\tV_int_q = 1,");
  assertStringIncludes(c, String.raw`btf_type_tag("user\"\n#error hi\\")`);
  // An integer whose name is no C type prints as the C type of its size and sign.
  assertStringIncludes(c, "typedef int odd_t;");
  if (haveClang) {
    // What comes out compiles, and `int` still means int (no #define got in).
    const errors = compileErrors(c, `_Static_assert(sizeof(int) == 4, "int");`);
    assertEquals(errors, "");
  }
});

Deno.test("formatC: an include guard that is not an identifier is a TypeError", () => {
  assertThrows(() => formatC([int], { guard: "X\n#include <y>" }), TypeError, "not a C identifier");
  assertStringIncludes(formatC([int], { guard: "__OK_H__" }), "#ifndef __OK_H__");
});

Deno.test("formatRaw: control characters in names are escaped, one line per type and member", () => {
  const s = new Struct("a\nb", 4, [new Member("m\r\n[9] INT 'x'", int, 0)]);
  const raw = formatRaw(parseSpec(marshalled(s)));
  assertStringIncludes(raw, "STRUCT 'a\\x0ab' size=4 vlen=1");
  assertStringIncludes(raw, "'m\\x0d\\x0a[9] INT 'x'' type_id=");
  // The struct, its member and the int: three lines, none forged.
  assertEquals(raw.trimEnd().split("\n").length, 3);
});
