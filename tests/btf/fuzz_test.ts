// 100,000 mutated BTF blobs: parsing throws FormatError or succeeds, and whatever parses
// can be printed, walked and written without hanging or throwing untyped errors.
import { assert } from "@std/assert";
import {
  Builder,
  Const,
  Enum,
  formatC,
  formatRaw,
  Int,
  marshalTypes,
  Member,
  parseExtInfos,
  parseSpec,
  Pointer,
  type Spec,
  Struct,
  Typedef,
  Union,
} from "../../btf/mod.ts";
import { elfSections } from "../../btf/_elf.ts";
import { FormatError } from "../../errors.ts";
import { testdata } from "../_harness.ts";
import { btfObjects } from "./_util.ts";
import { mutateBtf, rng } from "../_fuzz.ts";

const ITERATIONS = 100_000;

function seeds(): { btf: Uint8Array; ext?: Uint8Array }[] {
  const out: { btf: Uint8Array; ext?: Uint8Array }[] = [];
  for (const obj of btfObjects()) {
    const { sections } = elfSections(Deno.readFileSync(testdata(obj)));
    out.push({ btf: sections.get(".BTF")!.slice(), ext: sections.get(".BTF.ext")?.slice() });
  }
  // A small graph with a struct cycle, so that mutations can close cycles elsewhere.
  const node = new Struct("node", 16);
  node.members = [new Member("next", new Pointer(node), 0), new Member("v", new Int("int", 4), 64)];
  const b = new Builder();
  b.add(node);
  b.add(new Typedef("t", new Const(node)));
  b.add(new Enum("e", 8, [], true, true));
  out.push({ btf: b.marshal() });
  return out;
}

function exercise(spec: Spec, deep: boolean): void {
  formatRaw(spec);
  for (let id = spec.firstTypeId; id < spec.nextTypeId; id++) {
    const t = spec.typeById(id);
    if (t instanceof Struct || t instanceof Union) { for (const m of t.members) void m.type.kind; }
    if (t instanceof Enum) void t.values.length;
  }
  if (!deep) return;
  const types = [...spec.types()];
  try {
    parseSpec(marshalTypes(types));
    formatC(types);
  } catch (e) {
    // Values the writer cannot express come back as argument errors, never anything else.
    if (!(e instanceof RangeError || e instanceof TypeError)) throw e;
  }
}

Deno.test(`fuzz: ${ITERATIONS} mutated inputs give FormatError or a usable spec`, () => {
  const inputs = seeds();
  const next = rng(0x5eed);
  let parsed = 0, rejected = 0;
  const start = performance.now();
  for (let i = 0; i < ITERATIONS; i++) {
    const seed = inputs[next() % inputs.length];
    const mutateExt = seed.ext !== undefined && i % 5 === 0;
    const btf = mutateExt ? seed.btf : mutateBtf(seed.btf, next);
    let spec: Spec;
    try {
      // Parsing checks structure; validate() (which every decoder runs first) the rest.
      spec = parseSpec(btf);
      if (i % 2 === 0) spec.validate();
      else formatRaw(spec);
    } catch (e) {
      if (!(e instanceof FormatError)) throw new Error(`input ${i}: ${e}`, { cause: e });
      rejected++;
      continue;
    }
    parsed++;
    try {
      exercise(spec, i % 10 === 0);
      if (mutateExt) {
        try {
          parseExtInfos(mutateBtf(seed.ext!, next), spec);
        } catch (e) {
          if (!(e instanceof FormatError)) throw e;
        }
      }
    } catch (e) {
      throw new Error(`input ${i}: ${e}`, { cause: e });
    }
  }
  const ms = performance.now() - start;
  console.log(`fuzz: ${parsed} parsed, ${rejected} rejected, ${ms.toFixed(0)} ms`);
  assert(parsed > 1000 && rejected > 1000);
});
