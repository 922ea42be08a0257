// The glob matching of kprobe_multi patterns, against hand-made available_filter_functions
// text and against the running kernel's.
import { assert, assertEquals, assertThrows } from "@std/assert";
import { globMatch, matchFilterFunctions } from "../../link/_kernel_functions.ts";
import { attachKprobeMulti } from "../../link/mod.ts";
import { AttachType, type Program, ProgramType } from "../../prog/mod.ts";
import { load } from "./_progs.ts";
import * as asm from "../../asm/mod.ts";
import { ensureTracefs, kernelTest } from "../_harness.ts";
import { PermissionError } from "../../errors.ts";

Deno.test("globMatch: * any run, ? one character, the rest literal", () => {
  const cases: [string, string, boolean][] = [
    ["vfs_*", "vfs_read", true],
    ["vfs_*", "vfs_", true],
    ["vfs_*", "vf_read", false],
    ["*read", "vfs_read", true],
    ["*read", "vfs_readv", false],
    ["vfs_?ead", "vfs_read", true],
    ["vfs_?ead", "vfs_ead", false],
    ["*_sys_*id", "__x64_sys_getppid", true],
    ["*_sys_*id", "__x64_sys_getppid_x", false],
    ["a*b*c", "aXbYbZc", true],
    ["a*b*c", "aXcYb", false],
    ["", "", true],
    ["", "x", false],
    ["*", "", true],
    ["x.y", "xzy", false],
  ];
  for (const [p, n, want] of cases) assertEquals(globMatch(p, n), want, `${p} ~ ${n}`);
});

Deno.test("matchFilterFunctions: module suffixes, invalid addresses, duplicates", () => {
  const text = [
    "__x64_sys_getpid",
    "__ftrace_invalid_address___84",
    "__x64_sys_getppid",
    "veth_xmit [veth]",
    "__x64_sys_getpid",
    "",
  ].join("\n");
  assertEquals(matchFilterFunctions(text, "__x64_sys_getp*"), [
    "__x64_sys_getpid",
    "__x64_sys_getppid",
  ]);
  assertEquals(matchFilterFunctions(text, "veth_*"), ["veth_xmit"]);
  assertEquals(matchFilterFunctions(text, "__ftrace*"), []);
});

/** Why available_filter_functions cannot be read here, or undefined when it can. */
function unreadable(): string | undefined {
  try {
    Deno.readTextFileSync(`${ensureTracefs()}/available_filter_functions`);
    return undefined;
  } catch (e) {
    return `tracefs available_filter_functions is not readable here: ${e}`;
  }
}

/** A kprobe_multi program that does nothing. */
function kmulti(): Program {
  const instructions = new asm.Instructions([asm.Mov.Imm(asm.R0, 0), asm.Return()]);
  return load(ProgramType.Kprobe, instructions, AttachType.TraceKprobeMulti, "kmulti");
}

kernelTest("kprobe_multi: a pattern no kernel function matches is a RangeError", () => {
  using prog = kmulti();
  const e = assertThrows(
    () => attachKprobeMulti(prog, { pattern: "no_such_function_*_ever" }),
    RangeError,
  );
  assert(e.message.includes("no_such_function_*_ever"), e.message);
  assertThrows(() => attachKprobeMulti(prog, { pattern: "" }), TypeError);
  assertThrows(() => attachKprobeMulti(prog, { pattern: "x*", symbols: ["y"] }), TypeError);
}, { skipIf: unreadable });

kernelTest("kprobe_multi: an unreadable function list is a PermissionError", () => {
  using prog = kmulti();
  const e = assertThrows(() => attachKprobeMulti(prog, { pattern: "vfs_*" }), PermissionError);
  assert(e.message.includes("available_filter_functions"), e.message);
}, {
  skipIf: () =>
    unreadable()
      ? undefined
      : "available_filter_functions is readable here, as root can on Linux 2.6.27 and later " +
        "with dynamic ftrace: the PermissionError shows only where tracefs refuses it",
});
