// 100,000 mutated testdata objects through parseCollectionSpec: each parses or throws a
// FormatError; nothing hangs, crashes or throws anything else.
import { assert } from "@std/assert";
import { parseCollectionSpec } from "../../elf/mod.ts";
import { FormatError } from "../../errors.ts";
import { testdata } from "../_harness.ts";

const ITERATIONS = 100_000;

/** xorshift32: the same inputs on every run. */
function rng(seed: number) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

const INTERESTING = [0, 1, 2, 4, 8, 0x7f, 0x80, 0xff, 0xffff, 0x7fffffff, 0xffffffff];

function mutate(src: Uint8Array, next: () => number): Uint8Array {
  const out = src.slice();
  const n = 1 + (next() % 4);
  for (let k = 0; k < n; k++) {
    const at = next() % out.length;
    switch (next() % 4) {
      case 0:
        out[at] ^= 1 << (next() % 8);
        break;
      case 1:
        out[at] = next() & 0xff;
        break;
      case 2: {
        const v = INTERESTING[next() % INTERESTING.length];
        const view = new DataView(out.buffer);
        if (at + 4 <= out.length) view.setUint32(at, v, (next() & 1) === 0);
        break;
      }
      default:
        // Truncate now and then: every offset must be checked against the end.
        if ((next() & 7) === 0) return out.subarray(0, at);
    }
  }
  return out;
}

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
    const input = mutate(seeds[i % seeds.length], next);
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
