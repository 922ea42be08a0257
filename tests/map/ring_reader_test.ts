import { assert, assertEquals, assertRejects, assertThrows } from "@std/assert";
import { BpfMap, MapSpec, MapType, RecordBatch, RingReader } from "../../mod.ts";
import { ClosedError, InUseError } from "../../errors.ts";
import { closeFd } from "../../ffi.ts";
import { assertNoFdLeak, kernelTest } from "../_harness.ts";
import { testRun } from "../_raw_prog.ts";
import { mapValueRingWriter, recordValue, ringWriter, wideRingWriter } from "./_writer_progs.ts";

kernelTest(
  "RingReader: N records from the kernel arrive in order with the right bytes",
  async () => {
    await assertNoFdLeak(() => {
      using ring = BpfMap.create(new MapSpec({ type: MapType.RingBuf, maxEntries: 64 * 1024 }));
      const prog = ringWriter(ring.fd);
      try {
        using reader = new RingReader(ring);
        assertEquals(reader.drain(() => {}), 0);
        const n = 1000;
        for (let i = 0; i < n; i++) testRun(prog, new Uint8Array(14 + i));
        assertEquals(reader.available, n * 16, "8-byte header + 8-byte record each");
        const got: number[] = [];
        assertEquals(reader.drain((r) => got.push(recordValue(r))), n);
        assertEquals(got, Array.from({ length: n }, (_, i) => i));
        assertEquals(reader.available, 0);

        // Wrap-around: many more records than fit at once, drained as they come.
        const seen: number[] = [];
        for (let round = 0; round < 20; round++) {
          for (let i = 0; i < 2000; i++) testRun(prog, new Uint8Array(14 + (i % 50)));
          reader.drain((r) => seen.push(recordValue(r)));
        }
        assertEquals(seen.length, 40_000);
        assertEquals(seen.slice(0, 51), [...Array.from({ length: 50 }, (_, i) => i), 0]);

        const out = new Uint8Array(8);
        assertEquals(reader.readInto(out), -1);
        testRun(prog, new Uint8Array(14 + 77));
        assertThrows(() => reader.readInto(new Uint8Array(4)), RangeError);
        assertEquals(reader.readInto(out), 8);
        assertEquals(recordValue(out), 77);
      } finally {
        closeFd(prog);
      }
    });
  },
);

kernelTest("RingReader: read() waits without blocking the event loop", async () => {
  using ring = BpfMap.create(new MapSpec({ type: MapType.RingBuf, maxEntries: 4096 }));
  const prog = ringWriter(ring.fd);
  try {
    using reader = new RingReader(ring);
    const timer = setTimeout(() => testRun(prog, new Uint8Array(14 + 5)), 30);
    const record = await reader.read({ timeoutMs: 5000 });
    clearTimeout(timer);
    assertEquals(recordValue(record!), 5);
    assertEquals(await reader.read({ timeoutMs: 20 }), undefined, "timeout resolves undefined");

    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("stop")), 20);
    await assertRejects(() => reader.read({ signal: controller.signal }), Error, "stop");
  } finally {
    closeFd(prog);
  }
});

kernelTest("RingReader: close() ends a pending read and for-await", async () => {
  const ring = BpfMap.create(new MapSpec({ type: MapType.RingBuf, maxEntries: 4096 }));
  const prog = ringWriter(ring.fd);
  try {
    const reader = new RingReader(ring);
    const pending = reader.read();
    setTimeout(() => reader.close(), 20);
    await assertRejects(() => pending, ClosedError);

    const again = new RingReader(ring);
    testRun(prog, new Uint8Array(14 + 1));
    const values: number[] = [];
    const loop = (async () => {
      for await (const r of again) {
        values.push(recordValue(r));
        setTimeout(() => again.close(), 0); // while the loop waits for the next one
      }
    })();
    await loop;
    assertEquals(values, [1]);
    assertThrows(() => again.drain(() => {}), ClosedError);
  } finally {
    closeFd(prog);
    ring.close();
  }
});

kernelTest("RingReader: refuses maps that are not ring buffers", () => {
  using m = BpfMap.create(
    new MapSpec({ type: MapType.Array, keySize: 4, valueSize: 4, maxEntries: 1 }),
  );
  assertThrows(() => new RingReader(m), TypeError, "not a ring buffer");
});

kernelTest("RingReader: an aborted wait leaves later waits blocking", async () => {
  using ring = BpfMap.create(new MapSpec({ type: MapType.RingBuf, maxEntries: 4096 }));
  using reader = new RingReader(ring);
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 10);
  await assertRejects(() => reader.wait({ signal: controller.signal }));
  const start = Date.now();
  assertEquals(await reader.wait({ timeoutMs: 100 }), false);
  assert(Date.now() - start >= 90, "the wake-up was consumed, so this wait timed out");
});

kernelTest(
  "RingReader.drainBatch: N records in order, in batches, with one copy each",
  async () => {
    await assertNoFdLeak(() => {
      using ring = BpfMap.create(new MapSpec({ type: MapType.RingBuf, maxEntries: 64 * 1024 }));
      const prog = ringWriter(ring.fd);
      try {
        using reader = new RingReader(ring);
        const batch = new RecordBatch(16 * 100); // 100 records of 8 bytes + header
        assertEquals(reader.drainBatch(batch), 0);
        const n = 3000;
        const got: number[] = [];
        for (let round = 0; round < 3; round++) {
          // 3 × 3000 × 16 B wraps the 64 KiB ring.
          for (let i = 0; i < n; i++) testRun(prog, new Uint8Array(14 + i));
          let k: number;
          while ((k = reader.drainBatch(batch)) > 0) {
            assert(k <= 100);
            for (let i = 0; i < k; i++) {
              assertEquals(batch.lengths[i], 8);
              got.push(recordValue(batch.record(i)));
            }
          }
          assertEquals(reader.available, 0);
        }
        const once = Array.from({ length: n }, (_, i) => i);
        assertEquals(got, [...once, ...once, ...once]);
        assertThrows(() => batch.record(100), RangeError);
        testRun(prog, new Uint8Array(14 + 5));
        const one = new RecordBatch(16, 1);
        assertEquals(reader.drainBatch(one), 1);
        assertEquals(recordValue(one.record(0)), 5);
        assertThrows(() => new RecordBatch(8), RangeError);
      } finally {
        closeFd(prog);
      }
    });
  },
);

kernelTest(
  "RingReader: a second reader of one ring is refused, so 100,000 records arrive once each",
  async () => {
    await assertNoFdLeak(() => {
      using ring = BpfMap.create(new MapSpec({ type: MapType.RingBuf, maxEntries: 64 * 1024 }));
      const prog = ringWriter(ring.fd);
      try {
        const reader = new RingReader(ring);
        // Through the same handle, a clone (a dup of the fd) and a handle opened by id.
        assertThrows(() => new RingReader(ring), InUseError, "already has an open RingReader");
        using clone = ring.clone();
        assertThrows(() => new RingReader(clone), InUseError, `id ${ring.info().id}`);
        using byId = BpfMap.fromId(ring.info().id);
        assertThrows(() => new RingReader(byId), InUseError);

        // 100 rounds of 1,000 runs; run r writes the value r. Each record arrives once.
        const perRound = new Map<number, number>();
        let delivered = 0;
        for (let round = 0; round < 100; round++) {
          testRun(prog, new Uint8Array(14 + round), 1000);
          delivered += reader.drain((r) => {
            const v = recordValue(r);
            perRound.set(v, (perRound.get(v) ?? 0) + 1);
          });
        }
        assertEquals(delivered, 100_000);
        assertEquals(perRound.size, 100);
        for (const [round, count] of perRound) assertEquals(count, 1000, `round ${round}`);

        // Once the reader is closed the ring takes a new one, through any handle.
        reader.close();
        using next = new RingReader(clone);
        testRun(prog, new Uint8Array(14 + 7));
        const got: number[] = [];
        next.drain((r) => got.push(recordValue(r)));
        assertEquals(got, [7]);
        // Closing the map handle a reader was made from closes the reader and frees the ring.
        clone.close();
        assert(next.closed);
        using last = new RingReader(ring);
        assertEquals(last.available, 0);
      } finally {
        closeFd(prog);
      }
    });
  },
);

/** The u64s of a record of a wideRingWriter, read through the view itself. */
function wideValues(r: Uint8Array): bigint[] {
  const view = new DataView(r.buffer, r.byteOffset, r.byteLength);
  return Array.from({ length: r.byteLength / 8 }, (_, k) => view.getBigUint64(8 * k, true));
}

kernelTest(
  "RingReader.drainLeased: views into the ring hold the producer's bytes, across the ring's end",
  async () => {
    await assertNoFdLeak(() => {
      using ring = BpfMap.create(new MapSpec({ type: MapType.RingBuf, maxEntries: 4096 }));
      const size = 40; // 48 bytes with the header: 4096 is no multiple, so one record straddles
      const prog = wideRingWriter(ring.fd, size);
      try {
        const reader = new RingReader(ring);
        const seen: bigint[][] = [];
        // Records at ring offsets 0, 48, …, 3792; then 3840, …, with the 6th at 4080 across the end.
        for (let i = 0; i < 80; i++) testRun(prog, new Uint8Array(14 + i));
        let availableInside = -1;
        assertEquals(
          reader.drainLeased((r) => {
            if (availableInside < 0) availableInside = reader.available;
            seen.push(wideValues(r));
          }),
          80,
        );
        assertEquals(availableInside, 80 * 48, "the position advances after the drain, not before");
        assertEquals(reader.available, 0);
        assertEquals(seen, Array.from({ length: 80 }, (_, i) => Array(5).fill(BigInt(i))));

        for (let i = 0; i < 10; i++) testRun(prog, new Uint8Array(14 + 100 + i));
        // The data area starts one page into the producer mapping; a header precedes each record.
        const page = 4096;
        const straddling: bigint[][] = [];
        const all: bigint[][] = [];
        reader.drainLeased((r) => {
          const at = r.byteOffset - page - 8;
          if (at < 4096 && at + 8 + r.byteLength > 4096) straddling.push(wideValues(r));
          all.push(wideValues(r));
        });
        assertEquals(all, Array.from({ length: 10 }, (_, i) => Array(5).fill(BigInt(100 + i))));
        assertEquals(straddling, [Array(5).fill(105n)], "the record at 4080 reads whole");

        // The position is the kernel's: a new reader of the ring finds nothing left.
        reader.close();
        using again = new RingReader(ring);
        assertEquals(again.available, 0);
        assertEquals(again.drainLeased(() => {}), 0);
      } finally {
        closeFd(prog);
      }
    });
  },
);

kernelTest(
  "RingReader.drainLeased: a throwing callback leaves its record; a close detaches views",
  async () => {
    await assertNoFdLeak(() => {
      using ring = BpfMap.create(new MapSpec({ type: MapType.RingBuf, maxEntries: 4096 }));
      const prog = ringWriter(ring.fd);
      try {
        const reader = new RingReader(ring);
        for (let i = 0; i < 5; i++) testRun(prog, new Uint8Array(14 + i));
        const got: number[] = [];
        assertThrows(
          () =>
            reader.drainLeased((r) => {
              if (recordValue(r) === 2) throw new Error("stop");
              got.push(recordValue(r));
            }),
          Error,
          "stop",
        );
        assertEquals(got, [0, 1]);
        assertEquals(reader.available, 3 * 16, "records 2, 3 and 4 stay");
        assertEquals(reader.drainLeased((r) => got.push(recordValue(r)), 1), 1);
        assertEquals(got, [0, 1, 2]);

        // A view kept past a close reads nothing rather than unmapped memory.
        let kept: Uint8Array | undefined;
        assertEquals(
          reader.drainLeased((r) => {
            kept = r;
            reader.close();
          }),
          1,
        );
        assertEquals(kept!.byteLength, 0);
        assertThrows(() => reader.drainLeased(() => {}), ClosedError);
      } finally {
        closeFd(prog);
      }
    });
  },
);

kernelTest(
  "RingReader.drain: records kept from large copied runs keep their bytes while the ring refills",
  async () => {
    await assertNoFdLeak(() => {
      // 264 bytes a record with its header: each drain of 2,000 records takes many copies, and
      // over 8,000 records (2.1 MB) the 2 MiB ring wraps.
      using ring = BpfMap.create(new MapSpec({ type: MapType.RingBuf, maxEntries: 2 << 20 }));
      const prog = wideRingWriter(ring.fd, 256);
      try {
        using reader = new RingReader(ring);
        // Record i holds value(i): a test run's packet is at most about a page.
        const value = (i: number) => i % 3001;
        const kept: Uint8Array[] = [];
        for (let round = 0; round < 4; round++) {
          for (let i = 0; i < 2000; i++) {
            testRun(prog, new Uint8Array(14 + value(round * 2000 + i)));
          }
          assertEquals(reader.drain((r) => kept.push(r)), 2000);
        }
        // Every record whole, in order, after later drains wrote over its place in the ring.
        assertEquals(kept.length, 8000);
        for (let i = 0; i < kept.length; i++) {
          assertEquals(kept[i].byteLength, 256);
          assertEquals(new Set(wideValues(kept[i])), new Set([BigInt(value(i))]), `record ${i}`);
        }
        // One drain of 7,000 records (1.8 MB): delivered whole, in order, over many copies.
        for (let i = 0; i < 7000; i++) testRun(prog, new Uint8Array(14 + value(i)));
        const values: bigint[] = [];
        assertEquals(reader.drain((r) => values.push(...new Set(wideValues(r)))), 7000);
        assertEquals(values, Array.from({ length: 7000 }, (_, i) => BigInt(value(i))));
        assertEquals(reader.available, 0);
      } finally {
        closeFd(prog);
      }
    });
  },
);

kernelTest(
  "RingReader.drain: records larger than a copy chunk, between small ones, arrive whole and stay",
  async () => {
    await assertNoFdLeak(() => {
      const big = 100_000; // more than drain's 64 KiB chunks
      using ring = BpfMap.create(new MapSpec({ type: MapType.RingBuf, maxEntries: 1 << 20 }));
      using values = BpfMap.create(
        new MapSpec({ type: MapType.Array, keySize: 4, valueSize: big, maxEntries: 1 }),
      );
      const bigProg = mapValueRingWriter(ring.fd, values.fd, big);
      const smallProg = wideRingWriter(ring.fd, 256);
      try {
        using reader = new RingReader(ring);
        const pattern = (k: number) =>
          Uint8Array.from({ length: big }, (_, i) => (i * 7 + k) & 0xff);
        // Each round: small records, a big one, more small ones (a chunk's rest is too small
        // for the big record, then for a small one), two big ones back to back.
        const expected: (number | Uint8Array)[] = [];
        const kept: Uint8Array[] = [];
        let small = 0;
        const writeSmall = (count: number) => {
          for (let i = 0; i < count; i++, small++) {
            testRun(smallProg, new Uint8Array(14 + (small % 3001)));
            expected.push(small % 3001);
          }
        };
        const writeBig = (k: number) => {
          const value = pattern(k);
          values.update(new Uint8Array(4), value);
          testRun(bigProg, new Uint8Array(14));
          expected.push(value);
        };
        for (let round = 0; round < 6; round++) {
          writeSmall(100);
          writeBig(round * 3);
          writeSmall(200);
          writeBig(round * 3 + 1);
          writeBig(round * 3 + 2);
          writeSmall(10);
          assertEquals(reader.drain((r) => kept.push(r)), 313);
          assertEquals(reader.available, 0);
        }
        // Kept records are whole after the ring wrapped (6 × 390 KB through a 1 MiB ring).
        assertEquals(kept.length, expected.length);
        for (let i = 0; i < kept.length; i++) {
          const want = expected[i];
          if (typeof want === "number") {
            assertEquals(kept[i].byteLength, 256, `record ${i}`);
            assertEquals(new Set(wideValues(kept[i])), new Set([BigInt(want)]), `record ${i}`);
          } else {
            assertEquals(kept[i].byteLength, big, `record ${i}`);
            assert(kept[i].every((b, j) => b === want[j]), `record ${i}`);
          }
        }
      } finally {
        closeFd(bigProg);
        closeFd(smallProg);
      }
    });
  },
);
