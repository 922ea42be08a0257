// The readers' async iterators and drains on the paths users write first: records in order,
// none lost or repeated while a producer on another thread races the consumer; at most one
// batch drained ahead of the loop; a throwing drain callback leaves the rest in the ring.
import { assert, assertEquals, assertThrows } from "@std/assert";
import { BpfMap, MapSpec, MapType, PerfReader, RingReader } from "../../mod.ts";
import { closeFd, possibleCpus } from "../../ffi.ts";
import { assertNoFdLeak, kernelTest } from "../_harness.ts";
import { testRun } from "../_raw_prog.ts";
import {
  recordValue,
  ringWriter,
  sequencedPerfWriter,
  sequencedRingWriter,
} from "./_writer_progs.ts";
import { ITERATOR_BATCH } from "../../map/_record_iterator.ts";

/** A u64 counter at key 0, for the sequenced writers. */
const counterMap = () =>
  BpfMap.create(
    new MapSpec({ type: MapType.Array, keySize: 4, valueSize: 8, maxEntries: 1 }),
  );

/** Runs `prog` chunks × repeat times on a Worker's thread; resolves when it is done. */
function produceOnWorker(prog: number, chunks: number, repeat: number): Promise<void> {
  const worker = new Worker(new URL("../fixtures/producer_worker.ts", import.meta.url), {
    type: "module",
  });
  return new Promise<void>((resolve, reject) => {
    worker.onmessage = (e) => {
      if (e.data.error) reject(new Error(e.data.error));
      else resolve();
    };
    worker.onerror = (e) => {
      e.preventDefault();
      reject(new Error(e.message));
    };
    worker.postMessage({ prog, chunks, repeat });
  }).finally(() => worker.terminate());
}

kernelTest(
  "RingReader: for await gets 1..N in order, once each, while a Worker writes them",
  async () => {
    // No fd-leak check: the first Worker of a process keeps runtime fds open for good.
    {
      // 16 MB hold a million 16-byte records: the kernel never drops one, so a gap or a
      // repeat can only come from the reader.
      using ring = BpfMap.create(new MapSpec({ type: MapType.RingBuf, maxEntries: 16 << 20 }));
      using counter = counterMap();
      const prog = sequencedRingWriter(ring.fd, counter.fd);
      try {
        using reader = new RingReader(ring);
        const n = 200_000;
        const producing = produceOnWorker(prog, n / 1000, 1000);
        let expected = 1;
        let wrong: string | undefined;
        // The signal guards against a hang (a lost record would leave the loop waiting).
        for await (const record of reader.records({ signal: AbortSignal.timeout(30_000) })) {
          const got = recordValue(record);
          if (got !== expected && wrong === undefined) wrong = `record ${expected} was ${got}`;
          if (++expected > n) break;
        }
        await producing;
        assertEquals(wrong, undefined);
        assertEquals(recordValue(counter.lookup(0)!), n, "the counter says N were written");
        assertEquals(reader.available, 0, "nothing after the last record");
      } finally {
        closeFd(prog);
      }
    }
  },
);

kernelTest(
  "PerfReader: for await gets each CPU's samples in order, once each, while a Worker writes",
  async () => {
    // No fd-leak check: the first Worker of a process keeps runtime fds open for good.
    {
      using map = BpfMap.create(
        new MapSpec({
          type: MapType.PerfEventArray,
          keySize: 4,
          valueSize: 4,
          maxEntries: possibleCpus(),
        }),
      );
      using counter = counterMap();
      const prog = sequencedPerfWriter(map.fd, counter.fd);
      try {
        // 2 MB per CPU hold the 50,000 samples of 24 bytes even unread: none is lost.
        using reader = new PerfReader(map, { pagesPerCpu: 512 });
        const n = 50_000;
        const producing = produceOnWorker(prog, n / 500, 500);
        const last = new Map<number, number>();
        const seen = new Set<number>();
        let wrong: string | undefined;
        for await (const { cpu, data } of reader.records({ signal: AbortSignal.timeout(30_000) })) {
          const value = recordValue(data);
          if (value <= (last.get(cpu) ?? 0) || seen.has(value)) {
            wrong ??= `CPU ${cpu}: ${value} after ${last.get(cpu)}`;
          }
          last.set(cpu, value);
          seen.add(value);
          if (seen.size === n) break;
        }
        await producing;
        assertEquals(wrong, undefined);
        assertEquals(seen.size, n);
        assertEquals(Math.min(...seen), 1);
        assertEquals(Math.max(...seen), n);
        assertEquals(reader.lost, 0);
      } finally {
        closeFd(prog);
      }
    }
  },
);

kernelTest("RingReader: for await drains one bounded batch ahead, not the whole ring", async () => {
  await assertNoFdLeak(async () => {
    using ring = BpfMap.create(new MapSpec({ type: MapType.RingBuf, maxEntries: 1 << 20 }));
    const prog = ringWriter(ring.fd);
    try {
      using reader = new RingReader(ring);
      const n = 5000;
      testRun(prog, new Uint8Array(14 + 3), n);
      const records = reader.records();
      const first = await records.next();
      assertEquals(first.done, false);
      assertEquals(recordValue(first.value!), 3);
      assertEquals(reader.available, (n - ITERATOR_BATCH) * 16, "one batch taken out");
      for (let i = 1; i < ITERATOR_BATCH; i++) await records.next();
      assertEquals(reader.available, (n - ITERATOR_BATCH) * 16, "handed out from the batch");
      await records.next();
      assertEquals(reader.available, (n - 2 * ITERATOR_BATCH) * 16, "the next batch");
      assertEquals(await records.return(undefined), { done: true, value: undefined });
      assertEquals((await records.next()).done, true, "ended for good");
    } finally {
      closeFd(prog);
    }
  });
});

kernelTest("RingReader.drain: records after one whose callback threw stay in the ring", () => {
  using ring = BpfMap.create(new MapSpec({ type: MapType.RingBuf, maxEntries: 64 * 1024 }));
  const prog = ringWriter(ring.fd);
  try {
    using reader = new RingReader(ring);
    for (let i = 0; i < 10; i++) testRun(prog, new Uint8Array(14 + i));
    const got: number[] = [];
    assertThrows(() =>
      reader.drain((r) => {
        if (recordValue(r) === 3) throw new Error("stop");
        got.push(recordValue(r));
      })
    );
    assertEquals(got, [0, 1, 2]);
    assertEquals(reader.drain((r) => got.push(recordValue(r))), 6);
    assertEquals(got, [0, 1, 2, 4, 5, 6, 7, 8, 9], "3 was consumed, the rest kept");
    // Records handed out are views that later drains do not overwrite.
    const kept: Uint8Array[] = [];
    for (let i = 0; i < 3000; i++) testRun(prog, new Uint8Array(14 + (i % 100)));
    reader.drain((r) => kept.push(r));
    for (let i = 0; i < 3000; i++) testRun(prog, new Uint8Array(14 + 200));
    reader.drain(() => {});
    assert(kept.every((r, i) => recordValue(r) === i % 100));
  } finally {
    closeFd(prog);
  }
});
