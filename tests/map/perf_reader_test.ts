import { assert, assertEquals, assertRejects, assertThrows } from "@std/assert";
import {
  BpfMap,
  btf,
  codecFor,
  decodeValue,
  MapSpec,
  MapType,
  PerfReader,
  type PerfRecord,
} from "../../mod.ts";
import { ClosedError } from "../../errors.ts";
import { closeFd, possibleCpus } from "../../ffi.ts";
import { assertNoFdLeak, kernelTest } from "../_harness.ts";
import { insn, loadMapFd, loadRaw, Op, testRun } from "../_raw_prog.ts";

const BPF_FUNC_perf_event_output = 25;
const MOV32_IMM = 0xb4;

/** A socket filter that outputs skb->len (as u64) to the current CPU's perf ring. */
function perfWriter(mapFd: number): number {
  const load = loadRaw(1, [
    insn(Op.LDX_W, 2, 1, 0, 0), // r2 = skb->len
    insn(Op.STX_DW, 10, 2, -8, 0), // *(u64 *)(r10 - 8) = r2
    ...loadMapFd(2, mapFd), // r2 = map (r1 stays the context)
    insn(MOV32_IMM, 3, 0, 0, -1), // r3 = BPF_F_CURRENT_CPU (0xffffffff)
    insn(Op.MOV64_REG, 4, 10, 0, 0),
    insn(Op.ADD64_IMM, 4, 0, 0, -8), // r4 = r10 - 8
    insn(Op.MOV64_IMM, 5, 0, 0, 8), // r5 = 8
    insn(Op.CALL, 0, 0, 0, BPF_FUNC_perf_event_output),
    insn(Op.MOV64_IMM, 0, 0, 0, 0),
    insn(Op.EXIT, 0, 0, 0, 0),
  ], 64 * 1024);
  assert(load.fd > 0, load.log);
  return load.fd;
}

const value = (r: PerfRecord) => Number(new DataView(r.data.buffer).getBigUint64(0, true));

function perfMap() {
  return BpfMap.create(
    new MapSpec({
      type: MapType.PerfEventArray,
      keySize: 4,
      valueSize: 4,
      maxEntries: possibleCpus(),
    }),
  );
}

kernelTest("PerfReader: N samples arrive in order with their CPU and bytes", async () => {
  await assertNoFdLeak(() => {
    using map = perfMap();
    const prog = perfWriter(map.fd);
    try {
      using reader = new PerfReader(map, { pagesPerCpu: 16 });
      const n = 500;
      for (let i = 0; i < n; i++) testRun(prog, new Uint8Array(14 + i));
      const got: PerfRecord[] = [];
      assertEquals(reader.drain((r) => got.push(r)), n);
      // Test runs stay on one CPU at a time; per CPU, order is kept.
      for (let cpu = 0; cpu < possibleCpus(); cpu++) {
        const mine = got.filter((r) => r.cpu === cpu).map(value);
        assertEquals(mine, [...mine].sort((a, b) => a - b));
      }
      assertEquals(got.map(value).sort((a, b) => a - b), Array.from({ length: n }, (_, i) => i));
      assertEquals(reader.lost, 0);
      assert(got.every((r) => r.data.length >= 8));
    } finally {
      closeFd(prog);
    }
  });
});

kernelTest("PerfReader: a full ring counts lost samples; pause drops output", () => {
  using map = perfMap();
  const prog = perfWriter(map.fd);
  try {
    using reader = new PerfReader(map, { pagesPerCpu: 1 });
    // One 4 KiB page holds ~170 samples of 24 bytes; write many more without reading.
    testRun(prog, new Uint8Array(14 + 3), 2000);
    let delivered = reader.drain(() => {});
    assert(delivered > 0 && delivered < 2000, `delivered ${delivered}`);
    testRun(prog, new Uint8Array(14 + 3), 1); // the LOST record is written on the next sample
    delivered += reader.drain(() => {});
    assert(reader.lost > 0, "lost samples counted");
    assertEquals(delivered + reader.lost, 2001);

    reader.pause();
    assert(reader.paused);
    testRun(prog, new Uint8Array(20), 10);
    assertEquals(reader.drain(() => {}), 0);
    reader.resume();
    testRun(prog, new Uint8Array(20), 10);
    assertEquals(reader.drain(() => {}), 10);
  } finally {
    closeFd(prog);
  }
});

kernelTest("PerfReader: waits without blocking; close and abort end waits", async () => {
  using map = perfMap();
  const prog = perfWriter(map.fd);
  try {
    const reader = new PerfReader(map);
    setTimeout(() => testRun(prog, new Uint8Array(14 + 9)), 20);
    assertEquals(await reader.wait({ timeoutMs: 5000 }), true);
    const got: number[] = [];
    reader.drain((r) => got.push(value(r)));
    assertEquals(got, [9]);
    assertEquals(await reader.wait({ timeoutMs: 20 }), false);

    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("stop")), 10);
    await assertRejects(() => reader.wait({ signal: controller.signal }), Error, "stop");

    // for-await yields a record written while it waits, and ends when the reader closes: the
    // record is written from a timer once the loop waits, the reader closed once it arrived.
    const loop = (async () => {
      const values: number[] = [];
      for await (const r of reader) {
        values.push(value(r));
        setTimeout(() => reader.close(), 0);
      }
      return values;
    })();
    setTimeout(() => testRun(prog, new Uint8Array(14 + 4)), 10);
    assertEquals(await loop, [4]);
    assertThrows(() => reader.drain(() => {}), ClosedError);
  } finally {
    closeFd(prog);
  }
});

kernelTest("PerfReader.typed: samples arrive decoded from their BTF type", async () => {
  using map = perfMap();
  const prog = perfWriter(map.fd);
  try {
    using reader = new PerfReader(map);
    const u64 = codecFor(new btf.Int("__u64", 8));
    for (const len of [3, 5, 7]) testRun(prog, new Uint8Array(14 + len));
    const got: bigint[] = [];
    for await (const v of reader.typed((data) => decodeValue(u64, data) as bigint)) {
      got.push(v);
      if (got.length === 3) break;
    }
    assertEquals(got.sort(), [3n, 5n, 7n]);
  } finally {
    closeFd(prog);
  }
});

kernelTest("PerfReader: refuses other maps and bad page counts", () => {
  using m = BpfMap.create(
    new MapSpec({ type: MapType.Array, keySize: 4, valueSize: 4, maxEntries: 1 }),
  );
  assertThrows(() => new PerfReader(m), TypeError, "not a perf event array");
  using p = perfMap();
  assertThrows(() => new PerfReader(p, { pagesPerCpu: 3 }), RangeError);
});
