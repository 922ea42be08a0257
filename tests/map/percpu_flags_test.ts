// Per-CPU element flags BPF_F_CPU and BPF_F_ALL_CPUS (Linux 7.0; Debian's 6.19.14 lacks them,
// its bpf_percpu_array_copy still takes no flags): a kernel without them refuses them, which
// is a NotSupportedError naming the feature; a backend that answers these commands itself
// shows the attr the methods send (the flags, the CPU in the upper half, a one-CPU value
// buffer) and how they read the answer; on a kernel that has them (`deno task test:kernels
// --kernel 7.3`, run by default), the kernel's own full per-CPU lookup is the oracle.
import { assert, assertEquals, assertThrows } from "@std/assert";
import { BpfMap, MapSpec, MapType, possibleCpus, UpdateFlags } from "../../mod.ts";
import { NotSupportedError } from "../../errors.ts";
import { type Attr, type Backend, BpfCmd, kernelBackend, setBackend } from "../../ffi.ts";
import { kernelAtLeast, kernelTest } from "../_harness.ts";

const BPF_F_CPU = 8n;
const BPF_F_ALL_CPUS = 16n;

function perCpuArray(type: MapType = MapType.PerCPUArray): BpfMap {
  return BpfMap.create(
    new MapSpec({
      name: "pcpu",
      type,
      keySize: 4,
      valueSize: 4,
      maxEntries: 2,
    }),
  );
}

kernelTest("BPF_F_CPU/BPF_F_ALL_CPUS on a kernel without them: NotSupportedError", () => {
  using map = perCpuArray();
  for (
    const call of [
      () => map.lookupOnCPU(0, 0),
      () => map.updateOnCPU(0, 1, 0),
      () => map.updateAllCPUs(0, 1),
    ]
  ) {
    const e = assertThrows(call, NotSupportedError);
    assertEquals([e.feature, e.minKernel], ["BPF_F_CPU and BPF_F_ALL_CPUS", "7.0"]);
  }
  using hash = BpfMap.create(
    new MapSpec({ name: "plain", type: MapType.Hash, keySize: 4, valueSize: 4, maxEntries: 2 }),
  );
  assertThrows(() => hash.lookupOnCPU(0, 0), TypeError, "not per-CPU");
  assertThrows(() => map.lookupOnCPU(0, possibleCpus()), RangeError);
}, {
  skipIf: () => {
    // The probe's own question, asked of the kernel directly.
    using map = perCpuArray();
    try {
      map.lookupBytes(0, BPF_F_CPU);
      return "this kernel has BPF_F_CPU (Linux 7.0 and later): nothing to refuse";
    } catch {
      return undefined;
    }
  },
});

interface Seen {
  fd: number;
  cmd: number;
  flags: bigint;
  value: Uint8Array;
}

/** The real kernel, except element commands with the per-CPU flags, answered as 7.0 would. */
function kernelWithCpuFlags(seen: Seen[]): Backend {
  const buffers = new Map<bigint, Uint8Array>();
  return {
    address(buffer) {
      const a = kernelBackend.address(buffer);
      buffers.set(a, buffer);
      return a;
    },
    bpf(cmd: number, attr: Attr) {
      const flags = attr.getU64(24);
      const elem = cmd === BpfCmd.MAP_LOOKUP_ELEM || cmd === BpfCmd.MAP_UPDATE_ELEM;
      if (!elem || (flags & (BPF_F_CPU | BPF_F_ALL_CPUS)) === 0n) {
        return kernelBackend.bpf(cmd, attr);
      }
      const value = buffers.get(attr.getU64(16))!;
      // A lookup answers CPU n's value as n + 100.
      if (cmd === BpfCmd.MAP_LOOKUP_ELEM) {
        new DataView(value.buffer, value.byteOffset).setUint32(0, Number(flags >> 32n) + 100, true);
      }
      seen.push({ fd: attr.getU32(0), cmd, flags, value: value.slice() });
      return 0;
    },
  };
}

kernelTest("BPF_F_CPU/BPF_F_ALL_CPUS: the attrs the methods send and what they read back", () => {
  using map = perCpuArray();
  const seen: Seen[] = [];
  const restore = setBackend(kernelWithCpuFlags(seen));
  try {
    const cpu = possibleCpus() - 1;
    const v = map.lookupOnCPU(1, cpu)!;
    assertEquals(v.byteLength, 4, "one CPU's value, not possibleCpus() of them");
    assertEquals(new DataView(v.buffer, v.byteOffset).getUint32(0, true), cpu + 100);
    map.updateOnCPU(1, 7, cpu);
    map.updateAllCPUs(1, 9);
    const mine = seen.filter((s) => s.fd === map.fd); // not the probe's
    assertEquals(mine.map((s) => [s.cmd, s.flags]), [
      [BpfCmd.MAP_LOOKUP_ELEM, BPF_F_CPU | (BigInt(cpu) << 32n)],
      [BpfCmd.MAP_UPDATE_ELEM, BPF_F_CPU | (BigInt(cpu) << 32n)],
      [BpfCmd.MAP_UPDATE_ELEM, BPF_F_ALL_CPUS],
    ]);
    assertEquals(mine[1].value, new Uint8Array([7, 0, 0, 0]));
    assertEquals(mine[2].value, new Uint8Array([9, 0, 0, 0]));
  } finally {
    restore();
  }
  // The real kernel's values were never touched.
  assert(map.lookupPerCPU(1)!.every((b) => b.every((x) => x === 0)));
});

/** Skips, naming the feature and its first kernel, where the kernel predates them. */
function withoutCpuFlags(): string | undefined {
  return kernelAtLeast("7.0")
    ? undefined
    : new NotSupportedError("BPF_F_CPU and BPF_F_ALL_CPUS", "7.0").message;
}

const u32 = (bytes: Uint8Array) => new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true);
const le32 = (n: number) => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
};

/**
 * One CPU's value written with BPF_F_CPU shows in the kernel's full per-CPU lookup at that
 * CPU alone, lookupOnCPU reads each CPU as the full lookup does, and BPF_F_ALL_CPUS puts one
 * value on every possible CPU. 4-byte values: the full lookup's stride is 8, one CPU's is 4.
 * The full per-CPU lookup (no flags) is the oracle the flagged commands are held against.
 */
function checkCpuFlags(map: BpfMap, key: number, array: boolean) {
  const cpus = possibleCpus();
  const last = cpus - 1;
  // An array's elements are always there (zeroed); a hash has none yet.
  assertEquals(map.lookupOnCPU(key, 0), array ? le32(0) : undefined);
  map.updateOnCPU(key, le32(0xabcd0000 + last), last);
  let all = map.lookupPerCPU(key)!;
  assertEquals(all.length, cpus);
  assertEquals(u32(all[last]), 0xabcd0000 + last);
  // A new hash element's other CPUs are not promised to be zeroed by the kernel.
  if (array) { for (let c = 0; c < last; c++) assertEquals(u32(all[c]), 0, `CPU ${c}`); }
  for (let c = 0; c < cpus; c++) {
    const one = map.lookupOnCPU(key, c)!;
    assertEquals(one.byteLength, 4);
    assertEquals(one, all[c], `lookupOnCPU(${c}) against the full lookup`);
  }
  if (cpus > 1) {
    map.updateOnCPU(key, le32(0x1234), 0, UpdateFlags.Exist);
    all = map.lookupPerCPU(key)!;
    assertEquals([u32(all[0]), u32(all[last])], [0x1234, 0xabcd0000 + last], "CPU 0 alone");
  }
  map.updateAllCPUs(key, le32(0x5a5a5a5a));
  all = map.lookupPerCPU(key)!;
  assertEquals(all.map(u32), Array(cpus).fill(0x5a5a5a5a), "every possible CPU");
  assertEquals(map.lookupOnCPU(key, last), le32(0x5a5a5a5a));
}

kernelTest("BPF_F_CPU/BPF_F_ALL_CPUS on the kernel: per-CPU array", () => {
  using map = perCpuArray();
  checkCpuFlags(map, 1, true);
}, { skipIf: withoutCpuFlags });

kernelTest("BPF_F_CPU/BPF_F_ALL_CPUS on the kernel: per-CPU hash and LRU per-CPU hash", () => {
  for (const type of [MapType.PerCPUHash, MapType.LRUCPUHash]) {
    using map = perCpuArray(type);
    checkCpuFlags(map, 42, false);
    map.delete(42);
    assertEquals(map.lookupOnCPU(42, 0), undefined);
  }
}, { skipIf: withoutCpuFlags });
