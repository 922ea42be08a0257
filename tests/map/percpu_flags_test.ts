// Per-CPU element flags BPF_F_CPU and BPF_F_ALL_CPUS (Linux 6.19): the running kernel (6.18
// here) refuses them, which is a NotSupportedError naming the feature; a kernel that has
// them is stood in for by a backend that answers these commands itself, to show the attr
// the methods send (the flags, the CPU in the upper half, a one-CPU value buffer) and how
// they read the answer.
import { assert, assertEquals, assertThrows } from "@std/assert";
import { BpfMap, MapSpec, MapType, possibleCpus } from "../../mod.ts";
import { NotSupportedError } from "../../errors.ts";
import { type Attr, type Backend, BpfCmd, kernelBackend, setBackend } from "../../ffi.ts";
import { kernelTest } from "../_harness.ts";

const BPF_F_CPU = 8n;
const BPF_F_ALL_CPUS = 16n;

function perCpuArray(): BpfMap {
  return BpfMap.create(
    new MapSpec({
      name: "pcpu",
      type: MapType.PerCPUArray,
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
    assertEquals([e.feature, e.minKernel], ["BPF_F_CPU and BPF_F_ALL_CPUS", "6.19"]);
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
      return "this kernel has BPF_F_CPU";
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

/** The real kernel, except element commands with the per-CPU flags, answered as 6.19 would. */
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
