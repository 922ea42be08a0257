// ARRAY map lookup and update through ffi.ts and BpfMap's calls (bytes, numbers, bigints and
// BTF-decoded values), next to the same loop in C (array_lookup.c).
import { allocBuffer, Attr, bpf, BpfCmd, bpfErrno } from "../../ffi.ts";
import { BpfMap, btf, MapSpec, MapType } from "../../mod.ts";

const OPS = 1000;

const map = BpfMap.create(
  new MapSpec({ type: MapType.Array, keySize: 4, valueSize: 8, maxEntries: 1 }),
);
const mapFd = map.fd;
const key = allocBuffer(4);
const value = allocBuffer(8);
new DataView(value.buffer).setBigUint64(0, 7n, true);
bpf(BpfCmd.MAP_UPDATE_ELEM, new Attr().u32(0, mapFd).pointer(8, key).pointer(16, value));

// The attr is built once and reused; it holds key and value for as long as it lives. It is
// 32 bytes long, as BpfMap's element attrs and libbpf's are.
const attr = new Attr(32).u32(0, mapFd).pointer(8, key).pointer(16, value);

const c = Deno.dlopen(new URL(".build/array_lookup.so", import.meta.url).pathname, {
  lookup_loop: { parameters: ["i32", "i32"], result: "i32" },
  update_loop: { parameters: ["i32", "i32"], result: "i32" },
  lookup_loop_small: { parameters: ["i32", "i32"], result: "i32" },
  update_loop_small: { parameters: ["i32", "i32"], result: "i32" },
});

Deno.bench({
  name: `C: ARRAY lookup, reused attr [×${OPS}]`,
  group: "array_lookup",
  baseline: true,
  fn() {
    if (c.symbols.lookup_loop(mapFd, OPS) !== 7) throw new Error("C lookup failed");
  },
});

Deno.bench({
  name: `ffi.ts: ARRAY lookup, reused 32-byte attr [×${OPS}]`,
  group: "array_lookup",
  fn() {
    for (let i = 0; i < OPS; i++) {
      if (bpfErrno(BpfCmd.MAP_LOOKUP_ELEM, attr) < 0) throw new Error("lookup failed");
    }
  },
});

Deno.bench({
  name: `C: ARRAY lookup, 32-byte attr as libbpf passes it [×${OPS}]`,
  group: "array_lookup",
  fn() {
    if (c.symbols.lookup_loop_small(mapFd, OPS) !== 7) throw new Error("C lookup failed");
  },
});

const out = allocBuffer(8);

Deno.bench({
  name: `BpfMap.lookupInto [×${OPS}]`,
  group: "array_lookup",
  fn() {
    for (let i = 0; i < OPS; i++) {
      if (!map.lookupInto(0, out)) throw new Error("lookup failed");
    }
  },
});

Deno.bench({
  name: `BpfMap.lookup, bytes out [×${OPS}]`,
  group: "array_lookup",
  fn() {
    for (let i = 0; i < OPS; i++) {
      if (map.lookup(0) === undefined) throw new Error("lookup failed");
    }
  },
});

// The same element through BTF: a u64 value decodes to a bigint, a struct to an object.
const u32 = new btf.Int("u32", 4);
const u64 = new btf.Int("u64", 8);
const pair = new btf.Struct("pair", 8, [new btf.Member("a", u32, 0), new btf.Member("b", u32, 32)]);
const typed = (value: btf.Type) =>
  BpfMap.create(
    new MapSpec({ type: MapType.Array, keySize: 4, valueSize: 8, maxEntries: 1, key: u32, value }),
  );
const u64Map = typed(u64);
const pairMap = typed(pair);
u64Map.update(0, 7n);
pairMap.update(0, { a: 7, b: 0 });

Deno.bench({
  name: `BpfMap.lookup, BTF u64 value (a bigint out) [×${OPS}]`,
  group: "array_lookup",
  fn() {
    for (let i = 0; i < OPS; i++) {
      if (u64Map.lookup<bigint>(0) !== 7n) throw new Error("lookup failed");
    }
  },
});

Deno.bench({
  name: `BpfMap.lookup, BTF struct value (an object out) [×${OPS}]`,
  group: "array_lookup",
  fn() {
    for (let i = 0; i < OPS; i++) {
      if (pairMap.lookup<{ a: number }>(0)!.a !== 7) throw new Error("lookup failed");
    }
  },
});

Deno.bench({
  name: `C: ARRAY update, reused attr [×${OPS}]`,
  group: "array_update",
  baseline: true,
  fn() {
    if (c.symbols.update_loop(mapFd, OPS) !== 0) throw new Error("C update failed");
  },
});

Deno.bench({
  name: `C: ARRAY update, 32-byte attr as libbpf passes it [×${OPS}]`,
  group: "array_update",
  fn() {
    if (c.symbols.update_loop_small(mapFd, OPS) !== 0) throw new Error("C update failed");
  },
});

const newValue = allocBuffer(8);
new DataView(newValue.buffer).setBigUint64(0, 7n, true);

Deno.bench({
  name: `BpfMap.update, Uint8Array value [×${OPS}]`,
  group: "array_update",
  fn() {
    for (let i = 0; i < OPS; i++) map.update(0, newValue);
  },
});

Deno.bench({
  name: `BpfMap.update, bigint value [×${OPS}]`,
  group: "array_update",
  fn() {
    for (let i = 0; i < OPS; i++) map.update(0, 7n);
  },
});

Deno.bench({
  name: `BpfMap.update, number value [×${OPS}]`,
  group: "array_update",
  fn() {
    for (let i = 0; i < OPS; i++) map.update(0, 7);
  },
});

Deno.bench({
  name: `BpfMap.update, BTF u64 value (a bigint) [×${OPS}]`,
  group: "array_update",
  fn() {
    for (let i = 0; i < OPS; i++) u64Map.update(0, 7n);
  },
});

Deno.bench({
  name: `BpfMap.update, BTF struct value (an object) [×${OPS}]`,
  group: "array_update",
  fn() {
    for (let i = 0; i < OPS; i++) pairMap.update(0, { a: 7, b: 0 });
  },
});
