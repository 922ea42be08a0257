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
import { ClosedError, InUseError } from "../../errors.ts";
import { closeFd, possibleCpus } from "../../ffi.ts";
import { assertNoFdLeak, kernelTest } from "../_harness.ts";
import { testRun } from "../_raw_prog.ts";
import { perfWriter } from "./_writer_progs.ts";

// Samples are views into a shared buffer (as ring records are): read them at their byteOffset.
const value = (r: PerfRecord) =>
  Number(new DataView(r.data.buffer, r.data.byteOffset).getBigUint64(0, true));

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
    // The kernel writes no LOST record until a sample fits again; the count is exact anyway.
    assertEquals(delivered + reader.lost, 2000);
    testRun(prog, new Uint8Array(14 + 3), 1); // now the LOST record is written, then this one
    delivered += reader.drain(() => {});
    assertEquals(delivered + reader.lost, 2001, "the LOST record is not counted twice");

    reader.pause();
    assert(reader.paused);
    const lostBeforePause = reader.lost;
    testRun(prog, new Uint8Array(20), 10);
    assertEquals(reader.drain(() => {}), 0);
    assertEquals(reader.lost, lostBeforePause, "the kernel counts no loss while paused (docs)");
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

kernelTest(
  "PerfReader: with a slow consumer, samples produced = delivered + lost exactly",
  async () => {
    await assertNoFdLeak(() => {
      using map = perfMap();
      const prog = perfWriter(map.fd);
      try {
        const reader = new PerfReader(map, { pagesPerCpu: 1 });
        // One 4 KiB page per CPU holds ~170 samples of 24 bytes. Write 300 per round and
        // drain only every third round, so most rounds overflow; the last rounds overflow
        // with nothing after them, so their losses are in no LOST record yet.
        let produced = 0;
        let delivered = 0;
        const rounds = 200;
        for (let round = 0; round < rounds; round++) {
          testRun(prog, new Uint8Array(14 + round), 300);
          produced += 300;
          if (round % 3 === 0 && round < rounds - 2) delivered += reader.drain(() => {});
        }
        delivered += reader.drain(() => {});
        const lost = reader.lost;
        assert(lost > produced / 2, `most samples were lost: ${lost} of ${produced}`);
        assertEquals(delivered + lost, produced);

        // Samples discarded unread at close are counted too.
        testRun(prog, new Uint8Array(14), 10);
        produced += 10;
        reader.close();
        assertEquals(delivered + reader.lost, produced);
      } finally {
        closeFd(prog);
      }
    });
  },
);

kernelTest("PerfReader: a second reader of one map is refused; the first keeps its rings", () => {
  using map = perfMap();
  const prog = perfWriter(map.fd);
  try {
    const reader = new PerfReader(map, { pagesPerCpu: 1 });
    assertThrows(() => new PerfReader(map), InUseError, "already has an open PerfReader");
    using clone = map.clone();
    assertThrows(() => new PerfReader(clone), InUseError, `id ${map.info().id}`);
    testRun(prog, new Uint8Array(14 + 6), 5);
    const got: number[] = [];
    reader.drain((r) => got.push(value(r)));
    assertEquals(got, [6, 6, 6, 6, 6], "the refused reader replaced no ring");
    reader.close();
    using next = new PerfReader(clone, { pagesPerCpu: 1 });
    testRun(prog, new Uint8Array(14 + 2));
    assertEquals(next.drain(() => {}), 1);
  } finally {
    closeFd(prog);
  }
});

kernelTest(
  "PerfReader.drain: runs across the ring's end arrive whole; kept samples keep their bytes",
  async () => {
    await assertNoFdLeak(() => {
      using map = perfMap();
      const prog = perfWriter(map.fd);
      try {
        // One page a CPU: 24-byte samples, so runs of 100 wrap around the ring's end.
        using reader = new PerfReader(map, { pagesPerCpu: 1 });
        const kept: PerfRecord[] = [];
        for (let round = 0; round < 20; round++) {
          for (let i = 0; i < 100; i++) testRun(prog, new Uint8Array(14 + round * 100 + i));
          // At most 3 first: the rest stays for the next drain.
          assertEquals(reader.drain((r) => kept.push(r), 3), 3);
          assertEquals(reader.drain((r) => kept.push(r)), 97);
        }
        assertEquals(reader.lost, 0);
        // Read after every later drain wrote over the ring: each sample still holds its value.
        assertEquals(
          kept.map(value).sort((a, b) => a - b),
          Array.from({ length: 2000 }, (_, i) => i),
        );
        assert(kept.every((r) => r.data.length === 12 || r.data.length === 8));
      } finally {
        closeFd(prog);
      }
    });
  },
);

/** Runs `fn` with this thread pinned to `cpu` (test runs write on the CPU they run on). */
function onCpu<T>(cpu: number, fn: () => T): T {
  const libc = Deno.dlopen("libc.so.6", {
    sched_setaffinity: { parameters: ["i32", "u32", "buffer"], result: "i32" },
  });
  const all = new BigUint64Array(16);
  const one = new BigUint64Array(16);
  for (let c = 0; c < possibleCpus(); c++) all[c >> 6] |= 1n << BigInt(c & 63);
  one[cpu >> 6] = 1n << BigInt(cpu & 63);
  try {
    assertEquals(libc.symbols.sched_setaffinity(0, one.byteLength, one), 0, "pin to one CPU");
    return fn();
  } finally {
    libc.symbols.sched_setaffinity(0, all.byteLength, all);
    libc.close();
  }
}

kernelTest("PerfReader: drains limited by max take turns over the CPUs' rings", () => {
  if (possibleCpus() < 2 || navigator.hardwareConcurrency < 2) return; // one ring: no turns
  using map = perfMap();
  const prog = perfWriter(map.fd);
  try {
    using reader = new PerfReader(map, { pagesPerCpu: 64 });
    onCpu(0, () => testRun(prog, new Uint8Array(14), 1000));
    onCpu(1, () => testRun(prog, new Uint8Array(14), 10));
    // Drains of 100 at a time: CPU 1's samples come in the second, not after all of CPU 0's.
    const cpus: number[][] = [];
    for (let i = 0; i < 3; i++) {
      const got: number[] = [];
      reader.drain((r) => got.push(r.cpu), 100);
      cpus.push(got);
    }
    assertEquals(cpus[0], Array(100).fill(0));
    assertEquals(cpus[1].filter((c) => c === 1).length, 10, `second drain: ${cpus[1]}`);
    let total = cpus.flat().length;
    while (true) {
      const n = reader.drain(() => {}, 100);
      if (n === 0) break;
      total += n;
    }
    assertEquals(total, 1010);
  } finally {
    closeFd(prog);
  }
});

kernelTest(
  "PerfReader.read: one sample a call, then a timeout; abort and close end it",
  async () => {
    using map = perfMap();
    const prog = perfWriter(map.fd);
    try {
      const reader = new PerfReader(map, { pagesPerCpu: 1 });
      for (const len of [1, 2, 3, 4]) testRun(prog, new Uint8Array(14 + len));
      const first = await reader.read();
      assert(first !== undefined);
      // One sample taken out of the rings, the others still there.
      const rest: number[] = [];
      assertEquals(reader.drain((r) => rest.push(value(r)), 2), 2);
      const last = await reader.read({ timeoutMs: 5000 });
      assert(last !== undefined);
      assertEquals([value(first!), ...rest, value(last!)].sort(), [1, 2, 3, 4]);
      assertEquals(await reader.read({ timeoutMs: 20 }), undefined);

      // A sample written while read() waits is what it resolves to.
      setTimeout(() => testRun(prog, new Uint8Array(14 + 7)), 10);
      const waited = await reader.read({ timeoutMs: 5000 });
      assertEquals(waited && value(waited), 7);
      assert(waited!.cpu >= 0 && waited!.cpu < possibleCpus());

      testRun(prog, new Uint8Array(14 + 8));
      const aborted = AbortSignal.abort(new Error("stop"));
      await assertRejects(() => reader.read({ signal: aborted }), Error, "stop");
      assertEquals(reader.drain(() => {}), 1, "an aborted read takes no sample");

      const pending = reader.read();
      setTimeout(() => reader.close(), 10);
      await assertRejects(() => pending, ClosedError);
      await assertRejects(() => reader.read(), ClosedError);
    } finally {
      closeFd(prog);
    }
  },
);

kernelTest("PerfReader.drain: a callback that throws keeps the samples after it", () => {
  using map = perfMap();
  const prog = perfWriter(map.fd);
  try {
    using reader = new PerfReader(map, { pagesPerCpu: 1 });
    onCpu(0, () => {
      for (const len of [1, 2, 3, 4, 5]) testRun(prog, new Uint8Array(14 + len));
    });
    const seen: number[] = [];
    assertThrows(
      () =>
        reader.drain((r) => {
          seen.push(value(r));
          if (seen.length === 2) throw new Error("stop");
        }),
      Error,
      "stop",
    );
    // The sample it threw on counts as read.
    reader.drain((r) => seen.push(value(r)));
    assertEquals(seen, [1, 2, 3, 4, 5]);
  } finally {
    closeFd(prog);
  }
});

kernelTest("PerfReader.drain: runs over many 64 KiB chunks keep every sample's bytes", () => {
  using map = perfMap();
  const prog = perfWriter(map.fd);
  try {
    // 256 KiB a CPU: 10,000 samples of 24 bytes (240 KB, ~4 chunks) fit on one CPU.
    using reader = new PerfReader(map, { pagesPerCpu: 64 });
    const kept: PerfRecord[] = [];
    for (let i = 0; i < 2500; i++) testRun(prog, new Uint8Array(14 + i), 4);
    assertEquals(reader.drain((r) => kept.push(r)), 10_000);
    // Written over by the kernel and read again: kept samples keep their values.
    for (let i = 0; i < 2500; i++) testRun(prog, new Uint8Array(14), 4);
    assertEquals(reader.drain(() => {}), 10_000);
    assertEquals(reader.lost, 0);
    const expected = Array.from({ length: 10_000 }, (_, k) => k >> 2);
    assertEquals(kept.map(value).sort((a, b) => a - b), expected);
  } finally {
    closeFd(prog);
  }
});
