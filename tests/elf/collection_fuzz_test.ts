// 100,000 mutated testdata objects through parseCollectionSpec: each parses or throws a
// FormatError; nothing hangs, crashes or throws anything else.
import { assert } from "@std/assert";
import { parseCollectionSpec } from "../../elf/mod.ts";
import { FormatError } from "../../errors.ts";
import { testdata } from "../_harness.ts";
import { mutateFile, rng } from "../_fuzz.ts";

const ITERATIONS = 100_000;

Deno.test("elf: 100,000 mutated objects give a spec or a FormatError", () => {
  // Small objects of every kind, so that mutations reach maps, data, externs and code.
  const seeds = [
    "socket_filter-nobtf-el.o",
    "legacy_maps-nobtf-eb.o",
    "elf_iproute2-el.o",
    "elf_subprogs-eb.o",
    "elf_maps-el.o",
    "elf_externs-el.o",
    "elf_globals-eb.o",
  ].map((n) => Deno.readFileSync(testdata(n)));
  const next = rng(0x5eed);
  let parsed = 0;
  const failures: string[] = [];
  for (let i = 0; i < ITERATIONS; i++) {
    const input = mutateFile(seeds[i % seeds.length], next);
    try {
      parseCollectionSpec(input);
      parsed++;
    } catch (e) {
      if (!(e instanceof FormatError) && failures.length < 5) {
        failures.push(`#${i}: ${(e as Error)?.stack ?? e}`);
      }
    }
  }
  assert(failures.length === 0, failures.join("\n\n"));
  // Most mutations hit bytes no reader looks at (debug info): many must still parse.
  assert(parsed > ITERATIONS / 10, `only ${parsed} parsed`);
});
