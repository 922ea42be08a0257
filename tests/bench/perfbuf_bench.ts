// Perf event array reads: PerfReader.drain(callback) and `for await (const sample of reader)`
// next to libbpf's perf_buffer__consume with a callback copying each sample out
// (perfbuf_drain.c), each on its own map (a perf event array has one ring per CPU slot), same
// run. Samples (8 bytes each) are written by a socket filter with BPF_PROG_TEST_RUN's repeat,
// to the ring of the CPU the run happens on, outside the timed part of each iteration.
import { BpfMap, MapSpec, MapType, PerfReader } from "../../mod.ts";
import { closeFd, possibleCpus } from "../../ffi.ts";
import { testRun } from "../_raw_prog.ts";
import { perfWriter } from "../map/_writer_progs.ts";

const SAMPLES = 1000;
const PAGES_PER_CPU = 16; // 64 KiB a CPU: 1000 samples of 24 bytes fit in one CPU's ring
const GROUP = "perfbuf";

const c = Deno.dlopen(new URL(".build/perfbuf_drain.so", import.meta.url).pathname, {
  pb_open: { parameters: ["i32", "i32"], result: "pointer" },
  pb_consume: { parameters: ["pointer"], result: "i64" },
  pb_close: { parameters: ["pointer"], result: "void" },
});

const packet = new Uint8Array(64);
const cleanup: (() => void)[] = [];
let sink = 0;

/** A perf event array of its own with a writer program; `fill()` writes the samples. */
function perfMap(): { map: BpfMap; fill: () => void } {
  const map = BpfMap.create(
    new MapSpec({ type: MapType.PerfEventArray, maxEntries: possibleCpus() }),
  );
  const prog = perfWriter(map.fd);
  cleanup.push(() => {
    closeFd(prog);
    map.close();
  });
  return { map, fill: () => testRun(prog, packet, SAMPLES) };
}

/** A reader on a map of its own; closed at unload before its map. */
function reader(): { reader: PerfReader; fill: () => void } {
  const { map, fill } = perfMap();
  const r = new PerfReader(map, { pagesPerCpu: PAGES_PER_CPU });
  cleanup.unshift(() => r.close());
  return { reader: r, fill };
}

{
  const { map, fill } = perfMap();
  const pb = c.symbols.pb_open(map.fd, PAGES_PER_CPU);
  if (pb === null) throw new Error("perf_buffer__new failed");
  cleanup.unshift(() => c.symbols.pb_close(pb));
  Deno.bench({
    name: `C: libbpf perf_buffer__consume (copy each sample), 8 B samples [×${SAMPLES}]`,
    group: GROUP,
    baseline: true,
    fn(b) {
      fill();
      b.start();
      const n = c.symbols.pb_consume(pb);
      b.end();
      if (n !== BigInt(SAMPLES)) throw new Error(`consumed ${n}`);
    },
  });
}

{
  const { reader: r, fill } = reader();
  Deno.bench({
    name: `PerfReader.drain(callback), 8 B samples [×${SAMPLES}]`,
    group: GROUP,
    fn(b) {
      fill();
      b.start();
      const n = r.drain((sample) => (sink += sample.data[0]));
      b.end();
      if (n !== SAMPLES) throw new Error(`drained ${n}`);
    },
  });
}

{
  const { reader: r, fill } = reader();
  Deno.bench({
    name: `for await (const sample of reader), 8 B samples [×${SAMPLES}]`,
    group: GROUP,
    async fn(b) {
      fill();
      let n = 0;
      b.start();
      for await (const sample of r) {
        sink += sample.data[0];
        if (++n === SAMPLES) break;
      }
      b.end();
      if (r.hasData) throw new Error("samples left");
    },
  });
}

addEventListener("unload", () => {
  for (const f of cleanup) f();
  if (sink < 0) console.log(sink);
});
