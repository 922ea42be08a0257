// The second line of fuzzing: not the parsers alone but what consumes their output. Mutated
// objects and hand-made hostile BTF go through parse → a codec for every map key and value
// (and every BTF type with a value representation), encoding and decoding → formatC and
// formatRaw → inspect's report (with --llvm and --btf) and its raw-BTF report. Every input
// ends in success or a typed error (a class of errors.ts, InconsistentLayoutError, or a
// TypeError/RangeError of the library's own making); none in an engine error (DataView
// bounds, BigInt conversion, undefined property, stack overflow), none over 5 s, and the
// process never over 1 GiB.
//
// FUZZ_INPUTS sets the count: CI runs the default below, `deno task fuzz` runs 100,000.
import { assert, assertEquals } from "@std/assert";
import {
  Array as ArrayType,
  Builder,
  Const,
  Enum,
  EnumValue,
  Float,
  formatC,
  formatRaw,
  Int,
  IntEncoding,
  Member,
  parseSpec,
  Pointer,
  type Spec,
  Struct,
  type Type,
  Typedef,
  TypeTag,
  Union,
  Volatile,
} from "../btf/mod.ts";
import { elfSections } from "../btf/_elf.ts";
import { parseCollectionSpec } from "../elf/mod.ts";
import { codecFor, decodeValue, encodeValue, hasValueRepresentation } from "../map/codec.ts";
import { btfReport, formatBtfReport, formatReport, report } from "../cmd/inspect.ts";
import { testdata } from "./_harness.ts";
import { mutateBtf, mutateFile, rng } from "./_fuzz.ts";

const CI_INPUTS = 10_000;
const INPUTS = Number(Deno.env.get("FUZZ_INPUTS") ?? CI_INPUTS);
if (!Number.isSafeInteger(INPUTS) || INPUTS < 1) {
  throw new TypeError(`FUZZ_INPUTS must be a positive integer, got ${Deno.env.get("FUZZ_INPUTS")}`);
}
const MAX_INPUT_MS = 5_000;
const MAX_RSS = 1 << 30;
/**
 * Codecs of larger values are built but not run: a run checks code paths, not throughput,
 * and a million-element array decoded twice per input would dominate the time.
 */
const MAX_EXERCISED_SIZE = 1 << 16;

/**
 * What V8 says when the library itself failed to check something: these are bugs, whatever
 * the class (a TypeError from BigInt(undefined) is no answer to bad input).
 */
const ENGINE_MESSAGES = new RegExp(
  [
    "Cannot (read|set) propert",
    "Cannot convert",
    "Cannot mix BigInt",
    "cannot be converted to a BigInt",
    "is not a function",
    "is not iterable",
    "is not a constructor",
    "is not defined",
    "Offset is outside the bounds",
    "outside the bounds of the buffer",
    "Maximum call stack",
    "Invalid (array|typed array|string) length",
    "Array buffer allocation failed",
    "Maximum BigInt size",
    "Division by zero",
    "Invalid array buffer length",
    "Start offset .* is outside",
  ].join("|"),
);

/**
 * The class an error counts under, or undefined for an untyped error: an engine error, or a
 * plain Error or SyntaxError that gives a caller nothing to tell it apart by.
 */
function typedClass(e: unknown): string | undefined {
  if (!(e instanceof Error) || ENGINE_MESSAGES.test(e.message)) return undefined;
  if (e.constructor === Error || e.constructor === SyntaxError) return undefined;
  return e.name;
}

/** An error a built codec threw on a value it decoded itself: always a bug. */
class RoundTripError extends Error {}

/**
 * A codec for `type`, exercised: zeros and random bytes decoded and the results encoded
 * back. Building may refuse the type (a typed error); once built, the codec must take back
 * whatever it decoded.
 */
function exerciseCodec(type: Type, next: () => number): void {
  const codec = codecFor(type);
  if (codec.size > MAX_EXERCISED_SIZE) return;
  const noise = new Uint8Array(codec.size);
  for (let i = 0; i < Math.min(noise.length, 256); i++) noise[i] = next() & 0xff;
  for (const bytes of [new Uint8Array(codec.size), noise]) {
    const value = decodeValue(codec, bytes);
    try {
      encodeValue(codec, value);
    } catch (e) {
      // A decoded string of invalid UTF-8 may encode longer (U+FFFD is three bytes), and a
      // decoded union holds every alternative where encoding takes one: by design, and the
      // codec says so with its own errors.
      if (e instanceof RangeError && /bytes, more than/.test(e.message)) continue;
      if (e instanceof TypeError && /of a union are both given/.test(e.message)) continue;
      throw new RoundTripError(`${type}: ${e}`, { cause: e });
    }
  }
}

/** Every consumer of a spec's types: codecs, formatC, formatRaw, inspect's raw-BTF report. */
function consumeSpec(spec: Spec, next: () => number, count: Counts): void {
  spec.validate();
  formatRaw(spec);
  const types = [...spec];
  let codecs = 0;
  for (const t of types) {
    if (codecs >= 64) break;
    if (!hasValueRepresentation(t)) continue;
    codecs++;
    step(count, "codec", () => exerciseCodec(t, next));
  }
  step(count, "formatC", () => formatC(types));
  step(
    count,
    "inspect-btf",
    () => formatBtfReport(btfReport("fuzz.btf", spec, undefined, { c: true })),
  );
}

/** Every consumer of a parsed object: map codecs, inspect's report with --llvm and --btf. */
function consumeObject(bytes: Uint8Array, llvm: boolean, next: () => number, count: Counts) {
  const spec = parseCollectionSpec(bytes);
  for (const m of Object.values(spec.maps)) {
    for (const t of [m.key, m.value]) {
      if (t !== undefined && t !== null) step(count, "codec", () => exerciseCodec(t as Type, next));
    }
  }
  step(
    count,
    "inspect",
    () => formatReport(report("fuzz.o", bytes, spec, { llvm, btf: spec.types !== undefined })),
  );
  if (spec.types) step(count, "formatRaw", () => formatRaw(spec.types!));
}

interface Counts {
  inputs: number;
  ok: number;
  /** Typed errors by stage and class. */
  typed: Map<string, number>;
  /** The first message of each, to show what they are. */
  samples: Map<string, string>;
  untyped: string[];
  slowestMs: number;
  slowest: number;
  /** The slowest input of each kind, in ms. */
  slowestByKind: Map<string, number>;
  maxRss: number;
}

/** Runs one consumer: a typed error is counted and swallowed, anything else recorded. */
function step(count: Counts, stage: string, body: () => unknown): void {
  try {
    body();
  } catch (e) {
    const cls = e instanceof RoundTripError ? undefined : typedClass(e);
    if (cls === undefined) {
      count.untyped.push(`${stage}: ${(e as Error)?.stack ?? e}`);
      return;
    }
    const key = `${stage} ${cls}`;
    count.typed.set(key, (count.typed.get(key) ?? 0) + 1);
    if (!count.samples.has(key)) count.samples.set(key, String((e as Error).message).slice(0, 160));
  }
}

// ---- hand-made hostile BTF ----

const HOSTILE_NAMES = [
  "",
  "ok",
  "int",
  "x y",
  "a\nb",
  "#include </etc/passwd>",
  "*/ int z; /*",
  "\x1b[2J",
  "9lives",
  'q"uote\\',
  "é",
  "long unsigned int",
];

/** A graph of random, often inconsistent types, cycles and deep nesting included. */
function hostileTypes(next: () => number): Type[] {
  const pick = <T>(xs: T[]): T => xs[next() % xs.length];
  const name = () => pick(HOSTILE_NAMES);
  const num = () =>
    pick([0, 1, 2, 3, 4, 7, 8, 16, 31, 32, 33, 63, 64, 65, 128, 255, 4096, 0xffff, 0x7fffffff]);
  const types: Type[] = [new Int("int", 4, IntEncoding.Signed)];
  const any = () => pick(types);
  const n = 2 + (next() % 10);
  const composites: (Struct | Union)[] = [];
  for (let i = 0; i < n; i++) {
    let t: Type;
    switch (next() % 11) {
      case 0:
        t = new Int(name() || "i", pick([1, 2, 3, 4, 8, 16]), next() % 8);
        break;
      case 1: {
        const values = Array.from(
          { length: next() % 4 },
          () => new EnumValue(name() || "V", BigInt(num()) - 8n),
        );
        t = new Enum(name(), pick([1, 2, 4, 8]), values, (next() & 1) === 1);
        break;
      }
      case 2:
        t = new Float(name() || "f", pick([4, 8, 16]));
        break;
      case 3:
        t = new Pointer(any());
        break;
      case 4:
        t = new ArrayType(any(), types[0], pick([0, 1, 2, 3, 16, 4096, 0x10000, 0x7fffffff]));
        break;
      case 5:
      case 6: {
        const c = (next() & 1) ? new Struct(name(), num()) : new Union(name(), num());
        composites.push(c);
        t = c;
        break;
      }
      case 7:
        t = new Typedef(name() || "t", any());
        break;
      case 8:
        t = (next() & 1) ? new Const(any()) : new Volatile(any());
        break;
      case 9:
        t = new TypeTag(name() || "tag", any());
        break;
      default: {
        // By-value nesting, sometimes deeper than the kernel (32) or formatC (256) accepts.
        let inner: Type = any();
        const depth = pick([2, 8, 33, 300]);
        for (let d = 0; d < depth; d++) {
          inner = new Struct(`n${d}`, 8, [new Member("m", inner, 0)]);
        }
        t = inner;
      }
    }
    types.push(t);
  }
  // Members last, so that they may refer to any type: cycles by value and by pointer.
  for (const c of composites) {
    const members = next() % 5;
    for (let j = 0; j < members; j++) {
      const bitfield = (next() % 3) === 0 ? pick([1, 3, 8, 17, 32, 33, 64, 65, 130]) : 0;
      c.members.push(new Member(name(), any(), pick([0, 8, 32, 64, 65, 1024, 0xffffff]), bitfield));
    }
  }
  return types;
}

// ---- seeds ----

const KINDS = ["object", "object-btf", "btf", "hand-made"];

const OBJECTS = [
  "elf_maps-el.o",
  "maps_globals-eb.o",
  "btf_kinds-el.o",
  "elf_globals-el.o",
  "compat_globals-el.o",
  "legacy_maps-el.o",
  "core_relos-eb.o",
  "socket_filter-nobtf-el.o",
].map((n) => Deno.readFileSync(testdata(n)));

/** An object whose .BTF section (when it has one) is mutated as BTF, in place. */
function mutateObjectBtf(bytes: Uint8Array, next: () => number): Uint8Array {
  const btf = elfSections(bytes).sections.get(".BTF");
  if (btf === undefined) return mutateFile(bytes, next);
  const mutated = mutateBtf(btf, next);
  const out = bytes.slice();
  out.set(mutated.subarray(0, btf.length), btf.byteOffset - bytes.byteOffset);
  return out;
}

const BTF_BLOBS = OBJECTS.flatMap((o) => {
  const b = elfSections(o).sections.get(".BTF");
  return b ? [b.slice()] : [];
});

Deno.test(`consumer fuzz: ${INPUTS} mutated objects and hostile BTF through every consumer`, () => {
  const next = rng(0xc0ffee);
  const count: Counts = {
    inputs: 0,
    ok: 0,
    typed: new Map(),
    samples: new Map(),
    untyped: [],
    slowestMs: 0,
    slowest: -1,
    slowestByKind: new Map(),
    maxRss: 0,
  };
  const started = performance.now();
  for (let i = 0; i < INPUTS; i++) {
    const t0 = performance.now();
    const before = count.untyped.length;
    const kind = i % 4;
    step(count, KINDS[kind], () => {
      if (kind === 0) {
        consumeObject(mutateFile(pick(OBJECTS, next), next), i % 8 === 0, next, count);
      } else if (kind === 1) {
        consumeObject(mutateObjectBtf(pick(OBJECTS, next), next), i % 8 === 1, next, count);
      } else if (kind === 2) {
        consumeSpec(parseSpec(mutateBtf(pick(BTF_BLOBS, next), next)), next, count);
      } else {
        const types = hostileTypes(next);
        // By hand: straight to the consumers, values the wire format cannot carry included.
        for (const t of types) {
          if (hasValueRepresentation(t)) step(count, "codec", () => exerciseCodec(t, next));
        }
        step(count, "formatC", () => formatC(types));
        // Through the wire: what an object could carry.
        const b = new Builder();
        for (const t of types) b.add(t);
        consumeSpec(parseSpec(b.marshal()), next, count);
      }
    });
    count.inputs++;
    if (count.untyped.length === before) count.ok++;
    const ms = performance.now() - t0;
    if (ms > count.slowestMs) {
      count.slowestMs = ms;
      count.slowest = i;
    }
    const k = KINDS[kind];
    count.slowestByKind.set(k, Math.max(count.slowestByKind.get(k) ?? 0, ms));
    if (i % 16 === 0) count.maxRss = Math.max(count.maxRss, Deno.memoryUsage().rss);
    if (count.untyped.length >= 5) break;
  }
  const seconds = (performance.now() - started) / 1000;
  const typed = [...count.typed].sort((a, b) => b[1] - a[1]);
  console.log(
    `consumer fuzz: ${count.inputs} inputs in ${seconds.toFixed(1)} s, ` +
      `${count.untyped.length} untyped, slowest input #${count.slowest} ` +
      `${count.slowestMs.toFixed(0)} ms, max RSS ${(count.maxRss / 2 ** 20).toFixed(0)} MiB\n` +
      `slowest by kind: ${
        [...count.slowestByKind].map(([k, ms]) => `${k} ${ms.toFixed(0)} ms`).join(", ")
      }\n` +
      `typed errors (stage class: count):\n` +
      typed.map(([k, n]) => `  ${k}: ${n}  (e.g. ${JSON.stringify(count.samples.get(k))})`)
        .join("\n"),
  );
  assertEquals(count.untyped, [], "untyped errors");
  assertEquals(count.inputs, INPUTS);
  assert(count.slowestMs < MAX_INPUT_MS, `input #${count.slowest} took ${count.slowestMs} ms`);
  assert(count.maxRss < MAX_RSS, `RSS reached ${count.maxRss} bytes`);
  // The inputs reach the consumers: many parse, and codecs and printers run on them.
  assert(typed.some(([k]) => k.startsWith("codec ")), "no codec ever refused a layout");
});

function pick<T>(xs: T[], next: () => number): T {
  return xs[next() % xs.length];
}
