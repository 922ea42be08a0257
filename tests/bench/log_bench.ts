// The per-record kernel cost of a typed log (include/ebpf_log.h, a record into a ring
// buffer) next to bpf_printk (trace_pipe) and bpf_stream_printk (the program's stdout,
// 6.17+), same run, same three values per record: socket filters from testdata/log_bench.c
// run with BPF_PROG_TEST_RUN's repeat. The kernel's own average run time of each, minus the
// empty program's, is printed first (median of several rounds); the Deno.bench rows time the
// whole test-run call, with the empty program as their baseline.
import { allocBuffer, Attr, bpfErrno } from "../../ffi.ts";
import { BpfCmd } from "../../_internal/bpf_cmd.ts";
import {
  type Collection,
  newCollection,
  parseCollectionSpec,
  type Program,
  RingReader,
} from "../../mod.ts";

const REPEAT = 2000; // 2000 stream lines of ~25 bytes stay under its 100000-byte capacity
const ROUNDS = 9;
const BPF_STDOUT = 1;

const spec = parseCollectionSpec(
  Deno.readFileSync(new URL("../../testdata/log_bench-el.o", import.meta.url)),
);
const coll = newCollection(spec, { only: ["empty", "typed_log", "printk"] });
const ring = new RingReader(coll.maps.ebpf_logs);

/** The stream program the running kernel can load (6.17's kfunc name, or 6.18's). */
let stream: { coll: Collection; prog: Program } | undefined;
let streamMissing = "";
for (const name of ["stream_printk_impl", "stream_printk"]) {
  try {
    const c = newCollection(spec, { only: [name] });
    stream = { coll: c, prog: c.programs[name] };
    break;
  } catch (e) {
    streamMissing = (e as Error).message.split("\n")[0];
  }
}

const streamBuf = allocBuffer(1 << 16);
/** Reads the program's stdout until it is empty (BPF_PROG_STREAM_READ_BY_FD); counts lines. */
function drainStream(prog: Program): number {
  const attr = new Attr().pointer(0, streamBuf).u32(8, streamBuf.length).u32(12, BPF_STDOUT)
    .u32(16, prog.fd);
  let lines = 0;
  for (;;) {
    const n = bpfErrno(BpfCmd.PROG_STREAM_READ_BY_FD, attr);
    if (n < 0) throw new Error(`BPF_PROG_STREAM_READ_BY_FD: errno ${-n}`);
    if (n === 0) return lines;
    for (let i = 0; i < n; i++) if (streamBuf[i] === 10) lines++;
  }
}

/**
 * What the stream kfunc returns here: 0, or an errno. Some kernels fail every call with
 * ENOMEM (its allocation, kmalloc_nolock, fails): the time measured is then what a call
 * costs up to that failure, a lower bound, and the report says so.
 */
const streamErrno = stream ? -(stream.prog.run({ data: new Uint8Array(64) }).retval | 0) : 0;
if (stream) drainStream(stream.prog); // the probe's own line

const packet = new Uint8Array(64);

/** Empties whatever `prog` writes to, so that no round finds its output full. */
function drain(name: string, prog: Program): void {
  if (name === "typed log") {
    const n = ring.drain(() => {});
    if (n !== REPEAT) throw new Error(`typed log: ${n} records for ${REPEAT} runs`);
  } else if (name === "bpf_stream_printk") {
    const n = drainStream(prog);
    if (n !== (streamErrno === 0 ? REPEAT : 0)) {
      throw new Error(`bpf_stream_printk: ${n} lines for ${REPEAT} runs`);
    }
  }
}

const programs: [string, Program][] = [
  ["empty program", coll.programs.empty],
  ["typed log", coll.programs.typed_log],
  ["bpf_printk", coll.programs.printk],
];
if (stream) programs.push(["bpf_stream_printk", stream.prog]);

// Kernel-measured: the average run time BPF_PROG_TEST_RUN reports, median of ROUNDS.
const median = (xs: number[]) => xs.sort((a, b) => a - b)[xs.length >> 1];
const kernelNs = new Map<string, number>();
for (const [name, prog] of programs) {
  const runs: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    runs.push(prog.run({ data: packet, repeat: REPEAT }).duration);
    drain(name, prog);
  }
  kernelNs.set(name, median(runs));
}
const empty = kernelNs.get("empty program")!;
console.log(`Per-record kernel cost (BPF_PROG_TEST_RUN repeat=${REPEAT}, median of ${ROUNDS}):`);
for (const [name, ns] of kernelNs) {
  const extra = name === "empty program" ? "" : `  → ${(ns - empty).toFixed(0)} ns per record`;
  console.log(`  ${name.padEnd(18)} ${ns.toFixed(0).padStart(6)} ns per run${extra}`);
}
if (!stream) console.log(`  bpf_stream_printk  not measured: ${streamMissing}`);
if (streamErrno !== 0) {
  console.log(
    `  bpf_stream_printk returned errno ${streamErrno} at every call on this kernel: its figure` +
      " is the cost up to that failure, a lower bound",
  );
}

for (const [name, prog] of programs) {
  Deno.bench({
    name: `${name}: test run, one record per run [×${REPEAT}]`,
    group: "log_record",
    baseline: name === "empty program",
    fn(b) {
      b.start();
      prog.run({ data: packet, repeat: REPEAT });
      b.end();
      drain(name, prog);
    },
  });
}

addEventListener("unload", () => {
  ring.close();
  coll.close();
  stream?.coll.close();
});
