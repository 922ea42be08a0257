// inspect's text report shows names from the object with control characters escaped: a
// newline or a terminal escape in a program, map or variable name cannot forge a line.
import { assert, assertStringIncludes } from "@std/assert";
import { formatReport, type InspectReport } from "../../cmd/inspect.ts";

Deno.test("inspect: control characters in names are escaped in the text report", () => {
  const evil = "x\nMaps (0):\x1b[31m";
  const r: InspectReport = {
    file: "f.o",
    byteOrder: "little",
    programs: [{
      name: evil,
      section: "socket\n",
      type: "SocketFilter",
      attachType: null,
      attachTo: "",
      license: "GPL\r",
      instructions: 1,
      slots: 1,
      bytes: 8,
      disassembly: ["0: exit"],
    }],
    maps: [{
      name: evil,
      type: "Array",
      keySize: 4,
      valueSize: 4,
      maxEntries: 1,
      flags: "0",
      pinning: 0,
      key: null,
      value: "struct a\nb",
      innerMap: null,
      entries: 0,
    }],
    variables: [{
      name: evil,
      section: ".data",
      offset: 0,
      size: 4,
      type: null,
      constant: false,
      value: "\n",
    }],
    btfTypes: null,
  };
  const text = formatReport(r);
  assert(!text.includes("\x1b") && !text.includes("\r"), "a control got through");
  // One "Maps (…):" header: the forged one is escaped inside its line.
  assert(text.split("\n").filter((l) => l.startsWith("Maps (")).length === 1, text);
  assertStringIncludes(text, "x\\x0aMaps (0):\\x1b[31m");
  assertStringIncludes(text, "struct a\\x0ab");
});
