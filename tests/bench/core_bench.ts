// CO-RE relocation cost per relocation: this package's engine over every CO-RE record of
// testdata/core_kernel-el.o (44 records, 2 programs) against the running kernel's BTF,
// next to libbpf 1.1.2's own relocation functions over the same records (core_relo.c,
// same run). Both sides get vmlinux parsed beforehand and start each iteration from the
// original instructions:
//   - "fresh candidates": a new candidate cache per iteration, as every bpf_object__load
//     makes one — libbpf scans all vmlinux types per local type, we find a program's names
//     in one pass over them the first time and keep the answers per spec;
//   - "warm candidates": the cache kept across iterations, so only matching, computing and
//     patching are timed.
// The C program prints a checksum of its patched instructions; ours must be the same.
//   deno bench -A tests/bench/core_bench.ts     (after tests/bench/build.sh)
import {
  applyCoreRelocations,
  CoreCandidateCache,
  loadKernelSpec,
  loadSpecAndExtInfos,
  parseSpec,
} from "../../btf/mod.ts";
import { checkTypesOnUse } from "../../btf/spec.ts";
import { loadCoreObject } from "../btf/core_load.ts";

const VMLINUX = "/sys/kernel/btf/vmlinux";
const here = (p: string) => new URL(p, import.meta.url).pathname;
const OBJ = here("../../testdata/core_kernel-el.o");
const exe = here(".build/core_relo");

const vmlinux = loadKernelSpec();
const { programs } = loadCoreObject(OBJ);
// The C side patches sections in .BTF.ext order.
const order = [...loadSpecAndExtInfos(OBJ).extInfos!.coreRelos.keys()];
const progs = order.map((sec) => programs.find((p) => p.section === sec)!);
const relos = progs.reduce((n, p) => n + p.relos, 0);

function relocateAll(cache?: CoreCandidateCache) {
  return progs.map((p) => applyCoreRelocations(p.insns, vmlinux, { cache }));
}

function fnv(chunks: Uint8Array[]): bigint {
  let h = 1469598103934665603n;
  for (const c of chunks) {
    for (const b of c) h = BigInt.asUintN(64, (h ^ BigInt(b)) * 1099511628211n);
  }
  return h;
}

function libbpf(iterations: number, warm: boolean) {
  const args = [OBJ, VMLINUX, String(iterations), ...(warm ? ["warm"] : [])];
  const out = new Deno.Command(exe, { args, stdout: "piped" }).outputSync();
  const text = new TextDecoder().decode(out.stdout);
  const m = /relos=(\d+) ns_per_relo=([\d.]+) checksum=(\d+)/.exec(text);
  if (!out.success || !m) throw new Error(`${exe} failed: ${text}`);
  return { relos: Number(m[1]), ns: Number(m[2]), checksum: BigInt(m[3]) };
}

function ours(iterations: number, warm: boolean): number {
  const shared = warm ? new CoreCandidateCache() : undefined;
  relocateAll(shared);
  const t0 = performance.now();
  for (let i = 0; i < iterations; i++) relocateAll(shared ?? new CoreCandidateCache());
  return (performance.now() - t0) * 1e6 / iterations / relos;
}

const patched = relocateAll().map((p) => p.marshal("little"));
const ref = libbpf(20, false);
if (ref.relos !== relos) throw new Error(`libbpf saw ${ref.relos} relocations, we ${relos}`);
if (ref.checksum !== fnv(patched)) {
  throw new Error(`Patched instructions differ: libbpf ${ref.checksum}, ours ${fnv(patched)}`);
}

// The names are searched once per spec, at its first relocations: the cost of both programs'
// on a freshly parsed vmlinux (checked type by type, as the kernel's spec is), for the record.
const fresh = checkTypesOnUse(parseSpec(Deno.readFileSync(VMLINUX)));
const t0 = performance.now();
for (const p of progs) applyCoreRelocations(p.insns, fresh);
const firstMs = performance.now() - t0;

const rows: [string, number, number][] = [];
for (const warm of [false, true]) {
  const c = libbpf(warm ? 100000 : 200, warm);
  const d = ours(warm ? 20000 : 2000, warm);
  rows.push([warm ? "warm candidates" : "fresh candidates", d, c.ns]);
}
for (const [name, d, c] of rows) {
  console.log(
    `CO-RE per relocation, ${name} (core_kernel.o, ${relos} relocations): ours ${
      d.toFixed(0)
    } ns, libbpf 1.1.2 ${c.toFixed(0)} ns, ours/libbpf ${(d / c).toFixed(3)}`,
  );
}
console.log(`CO-RE: first relocations against a freshly parsed vmlinux ${firstMs.toFixed(1)} ms`);

Deno.bench(`CO-RE relocate core_kernel.o vs vmlinux, fresh candidates [×${relos}]`, () => {
  relocateAll(new CoreCandidateCache());
});

const warmCache = new CoreCandidateCache();
Deno.bench(`CO-RE relocate core_kernel.o vs vmlinux, warm candidates [×${relos}]`, () => {
  relocateAll(warmCache);
});
