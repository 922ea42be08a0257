// Ring buffer drain: RingReader.drain (records copied out), drainLeased (views into the ring)
// and drainBatch next to libbpf's ring_buffer__consume with a copying callback, same records,
// same run; and the floor of a callback drain in JS (a view per record, nothing else).
// Records are produced by a socket filter run with BPF_PROG_TEST_RUN's repeat, outside the
// timed part of each iteration.
import { BpfMap, MapSpec, MapType, RecordBatch, RingReader } from "../../mod.ts";
import { closeFd } from "../../ffi.ts";
import { testRun } from "../_raw_prog.ts";
import { ringWriter as writer } from "./_ring_writer.ts";

const RECORDS = 1000;
const HEADER_SIZE = 8;

/** Calls `onRecord` with a view of each of `count` records laid `stride` apart in `buffer`. */
function viewEach(
  buffer: ArrayBuffer,
  stride: number,
  size: number,
  count: number,
  onRecord: (record: Uint8Array) => void,
): number {
  for (let i = 0; i < count; i++) onRecord(new Uint8Array(buffer, i * stride + HEADER_SIZE, size));
  return count;
}

const c = Deno.dlopen(new URL(".build/ringbuf_drain.so", import.meta.url).pathname, {
  rb_open: { parameters: ["i32"], result: "pointer" },
  rb_consume: { parameters: ["pointer"], result: "i32" },
  rb_close: { parameters: ["pointer"], result: "void" },
});

for (const size of [16, 256]) {
  // One ring per consumer: each consumer keeps its own position.
  const spec = new MapSpec({ type: MapType.RingBuf, maxEntries: 1 << 20 });
  const ring = BpfMap.create(spec);
  const cRing = BpfMap.create(spec);
  const prog = writer(ring.fd, size);
  const cProg = writer(cRing.fd, size);
  const packet = new Uint8Array(64);
  const reader = new RingReader(ring);
  const bRing = BpfMap.create(spec);
  const bProg = writer(bRing.fd, size);
  const bReader = new RingReader(bRing);
  const batch = new RecordBatch(1 << 20);
  const rb = c.symbols.rb_open(cRing.fd);
  let sink = 0;

  Deno.bench({
    name: `C: libbpf ring_buffer__consume, ${size} B records [×${RECORDS}]`,
    group: `ringbuf_${size}`,
    baseline: true,
    fn(b) {
      testRun(cProg, packet, RECORDS);
      b.start();
      const n = c.symbols.rb_consume(rb);
      b.end();
      if (n !== RECORDS) throw new Error(`consumed ${n}`);
    },
  });

  Deno.bench({
    name: `RingReader.drain, ${size} B records [×${RECORDS}]`,
    group: `ringbuf_${size}`,
    fn(b) {
      testRun(prog, packet, RECORDS);
      b.start();
      const n = reader.drain((r) => (sink += r[0]));
      b.end();
      if (n !== RECORDS) throw new Error(`drained ${n}`);
    },
  });

  const lRing = BpfMap.create(spec);
  const lProg = writer(lRing.fd, size);
  const lReader = new RingReader(lRing);

  Deno.bench({
    name: `RingReader.drainLeased (a view into the ring), ${size} B records [×${RECORDS}]`,
    group: `ringbuf_${size}`,
    fn(b) {
      testRun(lProg, packet, RECORDS);
      b.start();
      const n = lReader.drainLeased((r) => (sink += r[0]));
      b.end();
      if (n !== RECORDS) throw new Error(`drained ${n}`);
    },
  });

  Deno.bench({
    name: `RingReader.drainBatch (one copy out) + visit each record, ${size} B [×${RECORDS}]`,
    group: `ringbuf_${size}`,
    fn(b) {
      testRun(bProg, packet, RECORDS);
      b.start();
      const n = bReader.drainBatch(batch);
      const { bytes, offsets } = batch;
      for (let i = 0; i < n; i++) sink += bytes[offsets[i]];
      b.end();
      if (n !== RECORDS) throw new Error(`drained ${n}`);
    },
  });

  // The floor of drain(callback): a JS loop that makes one view per record over a buffer
  // filled once, and calls the callback with it; no ring, no copy, no header read.
  const stride = (size + HEADER_SIZE + 7) & ~7;
  const filled = new ArrayBuffer(RECORDS * stride);
  Deno.bench({
    name: `floor: one new Uint8Array view per record + callback, ${size} B [×${RECORDS}]`,
    group: `ringbuf_${size}`,
    fn() {
      const n = viewEach(filled, stride, size, RECORDS, (r) => (sink += r[0]));
      if (n !== RECORDS) throw new Error(`visited ${n}`);
    },
  });

  addEventListener("unload", () => {
    lReader.close();
    closeFd(lProg);
    lRing.close();
    bReader.close();
    closeFd(bProg);
    bRing.close();
    c.symbols.rb_close(rb);
    reader.close();
    closeFd(prog);
    closeFd(cProg);
    ring.close();
    cRing.close();
    if (sink < 0) console.log(sink);
  });
}
