// Perf event array reads the ways users write them: PerfReader.drain(callback),
// `for await (const sample of reader)` and an `await reader.read()` loop, next to libbpf's
// perf_buffer__consume with a callback copying each sample out (perfbuf_drain.c), each on its
// own map (a perf event array has one ring per CPU slot), same run. Two inputs: 1,000 samples
// a drain, and full rings (80,000 samples in each CPU's 2 MiB ring, 92% full). Samples (8
// bytes each, 24 in the ring) are written by a socket filter with BPF_PROG_TEST_RUN's repeat,
// to the ring of the CPU the run happens on, outside the timed part of each iteration.
import { BpfMap, MapSpec, MapType, PerfReader } from "../../mod.ts";
import { closeFd, possibleCpus } from "../../ffi.ts";
import { testRun } from "../_raw_prog.ts";
import { perfWriter } from "../map/_writer_progs.ts";

const SAMPLES = 1000;
const PAGES_PER_CPU = 16; // 64 KiB a CPU: 1000 samples of 24 bytes fit in one CPU's ring
const GROUP = "perfbuf";
const FULL_PAGES_PER_CPU = 512; // 2 MiB a CPU
const FULL_PER_CPU = 80_000; // 1.92 MB of samples a CPU: no loss
const FULL_GROUP = "perfbuf_full";
// Few, long iterations: each one refills every CPU's ring.
const FULL_RUNS = { n: 15, warmup: 3 };

const c = Deno.dlopen(new URL(".build/perfbuf_drain.so", import.meta.url).pathname, {
  pb_open: { parameters: ["i32", "i32"], result: "pointer" },
  pb_consume: { parameters: ["pointer"], result: "i64" },
  pb_close: { parameters: ["pointer"], result: "void" },
  pb_pin_cpu: { parameters: ["i32"], result: "i32" },
});

const packet = new Uint8Array(64);
const cleanup: (() => void)[] = [];
let sink = 0;

/** The CPUs this thread may run on (a ring is filled by running on its CPU). */
const cpus = Array.from({ length: possibleCpus() }, (_, cpu) => cpu).filter((cpu) =>
  c.symbols.pb_pin_cpu(cpu) === 0
);
c.symbols.pb_pin_cpu(-1);
const FULL_SAMPLES = FULL_PER_CPU * cpus.length;

/** A perf event array of its own with a writer program; `fill()` writes the samples. */
function perfMap(full: boolean): { map: BpfMap; fill: () => void } {
  const map = BpfMap.create(
    new MapSpec({ type: MapType.PerfEventArray, maxEntries: possibleCpus() }),
  );
  const prog = perfWriter(map.fd);
  cleanup.push(() => {
    closeFd(prog);
    map.close();
  });
  const fill = full
    ? () => {
      try {
        for (const cpu of cpus) {
          if (c.symbols.pb_pin_cpu(cpu) !== 0) throw new Error(`cannot run on CPU ${cpu}`);
          testRun(prog, packet, FULL_PER_CPU);
        }
      } finally {
        c.symbols.pb_pin_cpu(-1);
      }
    }
    : () => testRun(prog, packet, SAMPLES);
  return { map, fill };
}

/** A reader on a map of its own; closed at unload before its map. */
function reader(full: boolean): { reader: PerfReader; fill: () => void } {
  const { map, fill } = perfMap(full);
  const r = new PerfReader(map, { pagesPerCpu: full ? FULL_PAGES_PER_CPU : PAGES_PER_CPU });
  cleanup.unshift(() => r.close());
  return { reader: r, fill };
}

for (const full of [false, true]) {
  const group = full ? FULL_GROUP : GROUP;
  const samples = full ? FULL_SAMPLES : SAMPLES;
  const input = full ? `full rings of ${FULL_PER_CPU} a CPU` : "8 B samples";
  const runs = full ? FULL_RUNS : {};
  {
    const { map, fill } = perfMap(full);
    const pb = c.symbols.pb_open(map.fd, full ? FULL_PAGES_PER_CPU : PAGES_PER_CPU);
    if (pb === null) throw new Error("perf_buffer__new failed");
    cleanup.unshift(() => c.symbols.pb_close(pb));
    Deno.bench({
      name: `C: libbpf perf_buffer__consume (copy each sample), ${input} [×${samples}]`,
      group,
      baseline: true,
      ...runs,
      fn(b) {
        fill();
        b.start();
        const n = c.symbols.pb_consume(pb);
        b.end();
        if (n !== BigInt(samples)) throw new Error(`consumed ${n}`);
      },
    });
  }

  {
    const { reader: r, fill } = reader(full);
    Deno.bench({
      name: `PerfReader.drain(callback), ${input} [×${samples}]`,
      group,
      ...runs,
      fn(b) {
        fill();
        b.start();
        const n = r.drain((sample) => (sink += sample.data[0]));
        b.end();
        if (n !== samples) throw new Error(`drained ${n}`);
      },
    });
  }

  {
    const { reader: r, fill } = reader(full);
    Deno.bench({
      name: `for await (const sample of reader), ${input} [×${samples}]`,
      group,
      ...runs,
      async fn(b) {
        fill();
        let n = 0;
        b.start();
        for await (const sample of r) {
          sink += sample.data[0];
          if (++n === samples) break;
        }
        b.end();
        if (r.hasData) throw new Error("samples left");
      },
    });
  }

  {
    const { reader: r, fill } = reader(full);
    Deno.bench({
      name: `await reader.read() loop, ${input} [×${samples}]`,
      group,
      ...runs,
      async fn(b) {
        fill();
        b.start();
        for (let n = 0; n < samples; n++) sink += (await r.read())!.data[0];
        b.end();
        if (r.hasData) throw new Error("samples left");
      },
    });
  }
}

{
  // The floor of drain(callback) in JS: a loop that makes one {cpu, data} sample with a view
  // per sample over a buffer filled once, and calls the callback with it; no ring, no copy, no
  // header read.
  const stride = 24;
  const filled = new ArrayBuffer(FULL_SAMPLES * stride);
  const visit = (onRecord: (sample: { cpu: number; data: Uint8Array }) => void) => {
    for (let i = 0; i < FULL_SAMPLES; i++) {
      onRecord({ cpu: 0, data: new Uint8Array(filled, i * stride + 12, 8) });
    }
  };
  Deno.bench({
    name: `floor: one {cpu, data} sample and view + callback, full rings [×${FULL_SAMPLES}]`,
    group: FULL_GROUP,
    ...FULL_RUNS,
    fn() {
      visit((sample) => (sink += sample.data[0]));
    },
  });
}

addEventListener("unload", () => {
  for (const f of cleanup) f();
  if (sink < 0) console.log(sink);
});
