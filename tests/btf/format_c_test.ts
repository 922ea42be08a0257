// formatC: vmlinux and the testdata objects print as C that clang-19 compiles, with the
// layouts the BTF describes.
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import {
  Array as ArrayType,
  Enum,
  EnumValue,
  formatC,
  FuncParam,
  FuncProto,
  Int,
  isQualifier,
  loadKernelSpec,
  loadSpec,
  Member,
  Pointer,
  type Spec,
  Struct,
  type Type,
  Typedef,
  Union,
  VOID,
} from "../../btf/mod.ts";
import { testdata } from "../_harness.ts";

const CLANG = "clang-19";
const haveClang = (() => {
  try {
    return new Deno.Command(CLANG, { args: ["--version"], stdout: "null" }).outputSync().success;
  } catch {
    return false;
  }
})();
const hasVmlinux = (() => {
  try {
    Deno.statSync("/sys/kernel/btf/vmlinux");
    return true;
  } catch {
    return false;
  }
})();

/** Compiles `header` plus `extra` for the BPF target; throws with clang's errors. */
function compile(header: string, extra = "", flags: string[] = []): void {
  const dir = Deno.makeTempDirSync();
  try {
    Deno.writeTextFileSync(`${dir}/types.h`, header);
    Deno.writeTextFileSync(`${dir}/main.c`, `#include "types.h"\n${extra}\nint btf_formatc_ok;\n`);
    const out = new Deno.Command(CLANG, {
      args: ["-target", "bpf", "-Werror", "-c", `${dir}/main.c`, "-o", `${dir}/main.o`, ...flags],
      stdout: "piped",
      stderr: "piped",
    }).outputSync();
    if (!out.success) {
      const err = new TextDecoder().decode(out.stderr).split("\n").slice(0, 20).join("\n");
      throw new Error(`clang failed:\n${err}`);
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

/**
 * Static assertions of the size of every uniquely named struct and union and the offset of
 * its named non-bitfield members. Structs that hold a va_list by value are skipped: the
 * BPF target's va_list is not the kernel's.
 */
function layoutAsserts(spec: Spec): string {
  const tagCount = new Map<string, number>();
  const tagged = (t: Type) => t instanceof Struct || t instanceof Union || t instanceof Enum;
  for (const t of spec.types()) {
    if ((tagged(t) || t.kind === "fwd") && t.name) {
      tagCount.set(t.name, (tagCount.get(t.name) ?? 0) + 1);
    }
  }
  const foreign = new Map<Type, boolean>();
  const hasForeign = (t: Type): boolean => {
    for (;;) {
      if (t instanceof Typedef) {
        if (t.name === "__builtin_va_list") return true;
        t = t.type;
      } else if (isQualifier(t)) t = t.type;
      else if (t instanceof ArrayType) t = t.type;
      else break;
    }
    if (!(t instanceof Struct || t instanceof Union)) return false;
    const have = foreign.get(t);
    if (have !== undefined) return have;
    foreign.set(t, false);
    const r = t.members.some((m) => hasForeign(m.type));
    foreign.set(t, r);
    return r;
  };
  let out = "";
  for (const t of spec.types()) {
    if (!(t instanceof Struct || t instanceof Union) || t.name === "") continue;
    if (tagCount.get(t.name) !== 1 || hasForeign(t)) continue;
    const c = `${t.kind} ${t.name}`;
    out += `_Static_assert(sizeof(${c}) == ${t.size}, "${c}");\n`;
    for (const m of t.members) {
      if (m.name === "" || m.bitfieldSize !== 0) continue;
      out +=
        `_Static_assert(__builtin_offsetof(${c}, ${m.name}) * 8 == ${m.offset}, "${c}.${m.name}");\n`;
    }
  }
  return out;
}

Deno.test({
  name: "formatC of vmlinux compiles with clang-19 -target bpf, layouts intact",
  ignore: !haveClang || !hasVmlinux,
  fn() {
    const spec = loadKernelSpec();
    const header = formatC(spec, { guard: "__VMLINUX_H__" });
    assertStringIncludes(header, "struct task_struct {");
    compile(header, layoutAsserts(spec));
  },
});

for (const obj of ["btf_kinds-el.o", "btf_kinds-eb.o", "core_relos-el.o", "maps_globals-el.o"]) {
  Deno.test({
    name: `formatC of testdata/${obj} compiles with its layouts`,
    ignore: !haveClang,
    fn() {
      const spec = loadSpec(testdata(obj));
      compile(formatC(spec), layoutAsserts(spec));
    },
  });
}

Deno.test("formatC prints declarators, bitfields, packing and enums", () => {
  const spec = loadSpec(testdata("btf_kinds-el.o"));
  const c = formatC(spec);
  assertStringIncludes(c, "struct bits {\n\tunsigned int a: 1;\n\tunsigned int b: 7;\n");
  assertStringIncludes(c, "\tvoid (*cb)(int, struct bits *);\n");
  assertStringIncludes(c, "\tint (*vfn)(const char *, ...);\n");
  assertStringIncludes(c, "\tint arr[3][4];\n");
  assertStringIncludes(c, "\tconst char *restrict s;\n");
  assertStringIncludes(c, '\tint __attribute__((btf_type_tag("user"))) *p;\n');
  assertStringIncludes(c, "} __attribute__((packed));");
  assertStringIncludes(c, "\tSS_NEG = -3,\n");
  assertStringIncludes(c, "\tBU_HIGH = 18446744069414584320ULL,\n");
  assertStringIncludes(c, "\tBS_NEG = -4294967296LL,\n");
  assertStringIncludes(c, "typedef const volatile u32_t cv_u32_t;\n");
  assertStringIncludes(c, "struct fwd_only;\n");
  assertStringIncludes(c, "union fwd_union;\n");
  assertStringIncludes(c, "\tstruct {\n\t\tint x;\n\t\tshort y;\n\t} anon;\n");
});

Deno.test("formatC orders definitions, forward-declares pointers and renames clashes", () => {
  const int = new Int("int", 4, 1);
  const a = new Struct("a", 16);
  const b = new Struct("b", 16);
  a.members = [new Member("b", new Pointer(b), 0), new Member("x", int, 64)];
  b.members = [new Member("a", new Pointer(a), 0), new Member("y", int, 64)];
  const holder = new Struct("holder", 32, [new Member("a", a, 0), new Member("b", b, 128)]);
  const dup = new Struct("a", 4, [new Member("z", int, 0)]);
  const e1 = new Enum("e1", 4, [new EnumValue("SAME", 1n)]);
  const e2 = new Enum("e2", 4, [new EnumValue("SAME", 2n)]);
  const fnTd = new Typedef(
    "handler_t",
    new Pointer(new FuncProto(VOID, [new FuncParam("h", new Pointer(holder))])),
  );
  const c = formatC([holder, dup, e1, e2, fnTd]);
  // Names go to the listed types first: the listed "a" keeps it, the other is renamed.
  assertStringIncludes(c, "struct a {\n\tint z;\n};");
  assert(c.indexOf("struct a___2 {") < c.indexOf("struct holder {"));
  assert(c.indexOf("struct b;") < c.indexOf("struct a___2 {"));
  assert(c.indexOf("struct b {") < c.indexOf("struct holder {"));
  assertStringIncludes(c, "SAME___2 = 2,");
  assertStringIncludes(c, "typedef void (*handler_t)(struct holder *);");
  if (haveClang) compile(c);
  assertEquals(formatC([]), "");
});
