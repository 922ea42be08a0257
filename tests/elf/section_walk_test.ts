// Every SEC() pattern of the convention table through the whole reader: clang compiles one
// program per pattern (with and without a target where the pattern allows), and each
// ProgramSpec carries the type, attach type, target and flags the table gives.
import { assertEquals } from "@std/assert";
import { parseCollectionSpec, sectionConvention, sectionDefinitions } from "../../elf/mod.ts";
import { run } from "../_harness.ts";

/** Section names that match `pattern`: the exact name, and/or the name with a target. */
function sectionNames(pattern: string): string[] {
  if (pattern.endsWith("+")) {
    const base = pattern.slice(0, -1);
    return [base, `${base}/target_fn`];
  }
  if (pattern.endsWith("/")) return [`${pattern}target_fn`];
  return [pattern];
}

Deno.test("elf: every SEC() pattern gives its program type, attach type, target and flags", () => {
  const sections: string[] = [];
  for (const def of sectionDefinitions) {
    for (const name of sectionNames(def.pattern)) {
      // The first matching row wins: keep only names that this row is the match for.
      if (sectionConvention(name).pattern === def.pattern) sections.push(name);
    }
  }
  // A leading "?" only says the program is not loaded by default.
  sections.push("not_a_convention/at_all", "?xdp", "?tc", "?kprobe/target_fn", "?nothing");
  // Legacy names: exact patterns read as prefixes, as libbpf 0.x and cilium/ebpf read them.
  sections.push("socket/1", "xdp_prog", "classifier/ingress", "sk_lookup/x", "?action/1");
  const src =
    sections.map((s, i) =>
      `__attribute__((section(${
        JSON.stringify(s)
      }), used)) int prog_${i}(void *ctx) { return ${i}; }`
    ).join("\n") + '\nchar _license[] __attribute__((section("license"), used)) = "GPL";\n';
  const dir = Deno.makeTempDirSync();
  try {
    Deno.writeTextFileSync(`${dir}/sections.c`, src);
    run("clang-19", [
      "-O2",
      "-g",
      "-target",
      "bpfel",
      "-c",
      `${dir}/sections.c`,
      "-o",
      `${dir}/s.o`,
    ]);
    const spec = parseCollectionSpec(Deno.readFileSync(`${dir}/s.o`));
    assertEquals(Object.keys(spec.programs).length, sections.length);
    assertEquals(
      ["socket/1", "xdp_prog", "classifier/ingress", "sk_lookup/x", "?action/1"].map((n) =>
        spec.programs[`prog_${sections.indexOf(n)}`].type
      ),
      [1, 6, 3, 30, 4], // SOCKET_FILTER, XDP, SCHED_CLS, SK_LOOKUP, SCHED_ACT
    );
    const patterns = new Set<string>();
    sections.forEach((name, i) => {
      const p = spec.programs[`prog_${i}`];
      const c = sectionConvention(name);
      if (c.pattern) patterns.add(c.pattern);
      assertEquals(
        [p.sectionName, p.type, p.attachType, p.attachTo, p.flags, p.autoload],
        [name, c.programType, c.attachType, c.attachTo, c.programFlags, !name.startsWith("?")],
        name,
      );
      assertEquals(p.instructions.length, 2);
    });
    // Every row of the table was reached by at least one section.
    assertEquals(patterns.size, sectionDefinitions.length);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
