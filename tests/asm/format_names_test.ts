// Disassembly prints names that come from the object (symbols, references, source lines)
// with control characters escaped: a newline in a symbol cannot forge a line of the listing.
import { assert, assertStringIncludes } from "@std/assert";
import { asm } from "../../mod.ts";

Deno.test("asm format: control characters in symbols and references are escaped", () => {
  const entry = asm.Mov.Imm(asm.R0, 0);
  entry.symbol = "main\n   99: exit\x1b[2J";
  const call = asm.Call.Label("sub\r\nforged");
  const sub = asm.Return();
  sub.symbol = "sub\r\nforged";
  const insns = new asm.Instructions([entry, call, asm.Return(), sub]);
  for (const style of ["text", "llvm"] as const) {
    const out = insns.format(style);
    assert(!out.includes("\x1b") && !out.includes("\r"), `${style}: a control got through`);
    assert(!out.split("\n").some((l) => /^\s*99: exit/.test(l)), `${style}: a forged line`);
    assertStringIncludes(out, "main\\x0a   99: exit\\x1b[2J");
  }
  assertStringIncludes(insns.format("text"), "call sub\\x0d\\x0aforged");
});
