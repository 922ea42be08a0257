// Consuming a full ring (200,000 records of 16 B, 4.8 MB of an 8 MB ring) the ways users
// write it: `for await (const r of reader)`, an `await reader.read()` loop, `drain(callback)`,
// `drainLeased(callback)` and `drainBatch` (and the floor of a callback drain in JS: a view per
// record, nothing else), next to libbpf's ring_buffer__consume copying each
// record out (ringbuf_drain.c), each on its own ring (a ring has one consumer position), same run.
// The records are written by BPF_PROG_TEST_RUN's repeat before the timed part.
import { BpfMap, MapSpec, MapType, RecordBatch, RingReader } from "../../mod.ts";
import { closeFd } from "../../ffi.ts";
import { testRun } from "../_raw_prog.ts";
import { ringWriter } from "./_ring_writer.ts";

const RECORDS = 200_000;
const SIZE = 16;
const GROUP = "ring_full";
// Few, long iterations: each one refills 200,000 records.
const RUNS = { n: 15, warmup: 3 };

const c = Deno.dlopen(new URL(".build/ringbuf_drain.so", import.meta.url).pathname, {
  rb_open: { parameters: ["i32"], result: "pointer" },
  rb_consume: { parameters: ["pointer"], result: "i32" },
  rb_close: { parameters: ["pointer"], result: "void" },
});

const packet = new Uint8Array(64);
const cleanup: (() => void)[] = [];
let sink = 0;

/** A ring of its own with a writer program; `fill()` writes the 200,000 records. */
function ring(): { map: BpfMap; fill: () => void } {
  const map = BpfMap.create(new MapSpec({ type: MapType.RingBuf, maxEntries: 8 << 20 }));
  const prog = ringWriter(map.fd, SIZE);
  cleanup.push(() => {
    closeFd(prog);
    map.close();
  });
  return { map, fill: () => testRun(prog, packet, RECORDS) };
}

/** A reader on a ring of its own; closed at unload before its map. */
function reader(): { reader: RingReader; fill: () => void } {
  const { map, fill } = ring();
  const r = new RingReader(map);
  cleanup.unshift(() => r.close());
  return { reader: r, fill };
}

{
  const { map, fill } = ring();
  const rb = c.symbols.rb_open(map.fd);
  cleanup.unshift(() => c.symbols.rb_close(rb));
  Deno.bench({
    name: `C: libbpf ring_buffer__consume (copy each record), full ring [×${RECORDS}]`,
    group: GROUP,
    baseline: true,
    ...RUNS,
    fn(b) {
      fill();
      b.start();
      const n = c.symbols.rb_consume(rb);
      b.end();
      if (n !== RECORDS) throw new Error(`consumed ${n}`);
    },
  });
}

{
  const { reader: r, fill } = reader();
  Deno.bench({
    name: `for await (const record of reader), full ring [×${RECORDS}]`,
    group: GROUP,
    ...RUNS,
    async fn(b) {
      fill();
      let n = 0;
      b.start();
      for await (const record of r) {
        sink += record[0];
        if (++n === RECORDS) break;
      }
      b.end();
    },
  });
}

{
  const { reader: r, fill } = reader();
  Deno.bench({
    name: `await reader.read() loop, full ring [×${RECORDS}]`,
    group: GROUP,
    ...RUNS,
    async fn(b) {
      fill();
      b.start();
      for (let n = 0; n < RECORDS; n++) sink += (await r.read())![0];
      b.end();
    },
  });
}

{
  const { reader: r, fill } = reader();
  Deno.bench({
    name: `RingReader.drain(callback), full ring [×${RECORDS}]`,
    group: GROUP,
    ...RUNS,
    fn(b) {
      fill();
      b.start();
      const n = r.drain((record) => (sink += record[0]));
      b.end();
      if (n !== RECORDS) throw new Error(`drained ${n}`);
    },
  });
}

{
  const { reader: r, fill } = reader();
  Deno.bench({
    name: `RingReader.drainLeased(callback), views into the ring, full ring [×${RECORDS}]`,
    group: GROUP,
    ...RUNS,
    fn(b) {
      fill();
      b.start();
      const n = r.drainLeased((record) => (sink += record[0]));
      b.end();
      if (n !== RECORDS) throw new Error(`drained ${n}`);
    },
  });
}

{
  const { reader: r, fill } = reader();
  const batch = new RecordBatch(1 << 20);
  Deno.bench({
    name: `RingReader.drainBatch (1 MB batches) + visit each record, full ring [×${RECORDS}]`,
    group: GROUP,
    ...RUNS,
    fn(b) {
      fill();
      let total = 0;
      b.start();
      for (let n; (n = r.drainBatch(batch)) > 0; total += n) {
        const { bytes, offsets } = batch;
        for (let i = 0; i < n; i++) sink += bytes[offsets[i]];
      }
      b.end();
      if (total !== RECORDS) throw new Error(`drained ${total}`);
    },
  });
}

{
  // The floor of drain(callback): a JS loop that makes one view per record over a buffer
  // filled once, and calls the callback with it; no ring, no copy, no header read.
  const stride = (SIZE + 8 + 7) & ~7;
  const filled = new ArrayBuffer(RECORDS * stride);
  const visit = (onRecord: (record: Uint8Array) => void) => {
    for (let i = 0; i < RECORDS; i++) onRecord(new Uint8Array(filled, i * stride + 8, SIZE));
  };
  Deno.bench({
    name: `floor: one new Uint8Array view per record + callback, full ring [×${RECORDS}]`,
    group: GROUP,
    ...RUNS,
    fn() {
      visit((record) => (sink += record[0]));
    },
  });
}

addEventListener("unload", () => {
  for (const f of cleanup) f();
  if (sink < 0) console.log(sink);
});
