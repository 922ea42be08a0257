// Close and abort against pending reads, for both readers: every pending call settles (a
// close with ClosedError, an abort with the signal's reason), for-await loops end, nothing
// is left pending (the op sanitizer of each test checks that no epoll_wait is in flight at
// its end), no fd is leaked and no rejection goes unhandled.
//
// The matrix: reader (ring, perf) × call (read(), wait(), for await) × trigger (map.close(),
// reader.close(), abort) × phase (during the call, before the first call, after data
// arrived, twice during the call).

import { assert, assertEquals } from "@std/assert";
import { BpfMap, MapSpec, MapType, PerfReader, RingReader } from "../../mod.ts";
import { ClosedError } from "../../errors.ts";
import { closeFd, possibleCpus } from "../../ffi.ts";
import { assertNoFdLeak, kernelTest } from "../_harness.ts";
import { testRun } from "../_raw_prog.ts";
import { perfWriter, ringWriter } from "./_writer_progs.ts";

/** Rejections nobody handled, seen by the whole file; each test asserts it saw none. */
const unhandled: unknown[] = [];
globalThis.addEventListener("unhandledrejection", (e) => {
  unhandled.push(e.reason);
  e.preventDefault();
});

/**
 * The test's own guard against a hang: the outcome of `p`, or a failure naming `what` if it
 * has not settled in 10 s. It is not a wait for anything to happen (nothing here needs
 * time to pass); without it a regression would hang the run instead of failing it.
 */
type Outcome<T = unknown> = { ok: true; value: T } | { ok: false; error: unknown };

async function settled<T>(what: string, p: Promise<T>): Promise<Outcome<T>> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} never settled`)), 10_000);
  });
  try {
    return await Promise.race([
      p.then((value) => ({ ok: true as const, value }), (error) => ({ ok: false as const, error })),
      hang,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

interface Fixture {
  map: BpfMap;
  reader: RingReader | PerfReader;
  /** Makes the program write one record. */
  produce(): void;
  /** Consumes what is there. */
  drain(): number;
  release(): void;
}

function ringFixture(): Fixture {
  const map = BpfMap.create(new MapSpec({ type: MapType.RingBuf, maxEntries: 4096 }));
  const prog = ringWriter(map.fd);
  const reader = new RingReader(map);
  return {
    map,
    reader,
    produce: () => testRun(prog, new Uint8Array(14 + 1)),
    drain: () => reader.drain(() => {}),
    release() {
      reader.close();
      map.close();
      closeFd(prog);
    },
  };
}

function perfFixture(): Fixture {
  const map = BpfMap.create(
    new MapSpec({
      type: MapType.PerfEventArray,
      keySize: 4,
      valueSize: 4,
      maxEntries: possibleCpus(),
    }),
  );
  const prog = perfWriter(map.fd);
  const reader = new PerfReader(map, { pagesPerCpu: 1 });
  return {
    map,
    reader,
    produce: () => testRun(prog, new Uint8Array(14 + 1)),
    drain: () => reader.drain(() => {}),
    release() {
      reader.close();
      map.close();
      closeFd(prog);
    },
  };
}

type Trigger = "map.close()" | "reader.close()" | "abort";
type Phase = "during the call" | "before the first call" | "after data arrived" | "twice";
type Call = "read()" | "wait()" | "for await";

const fixtures = { RingReader: ringFixture, PerfReader: perfFixture };
const callsOf = {
  RingReader: ["read()", "wait()", "for await"],
  PerfReader: ["wait()", "for await"],
} as const;
const triggers: Trigger[] = ["map.close()", "reader.close()", "abort"];
const phases: Phase[] = ["during the call", "before the first call", "after data arrived", "twice"];

/** One pending call: read() or wait(); wait() drains what it waited for. */
function call(f: Fixture, which: Call, signal: AbortSignal): Promise<unknown> {
  if (which === "read()") return (f.reader as RingReader).read({ signal });
  return f.reader.wait({ signal }).then((ready) => {
    if (ready) f.drain();
    return ready;
  });
}

/** What a call that a trigger ended must have given. */
function assertEndedBy(trigger: Trigger, outcome: Outcome) {
  if (outcome.ok) throw new Error(`expected a rejection, got ${String(outcome.value)}`);
  const error = outcome.error;
  if (trigger === "abort") {
    if (!(error instanceof DOMException)) throw new Error(`expected an AbortError: ${error}`);
    assertEquals(error.name, "AbortError");
  } else {
    if (!(error instanceof ClosedError)) throw new Error(`expected a ClosedError: ${error}`);
    if (trigger === "map.close()") assert(error.message.includes("the map was closed"));
  }
}

for (const [kind, make] of Object.entries(fixtures)) {
  for (const which of callsOf[kind as keyof typeof callsOf]) {
    for (const trigger of triggers) {
      for (const phase of phases) {
        kernelTest(`${kind}: ${trigger} ${phase} of ${which} settles it`, async () => {
          await assertNoFdLeak(async () => {
            const f = make();
            const controller = new AbortController();
            const fire = () => {
              if (trigger === "map.close()") f.map.close();
              else if (trigger === "reader.close()") f.reader.close();
              else controller.abort();
            };
            try {
              const label = `${which} (${trigger} ${phase})`;
              if (which === "for await") {
                await forAwaitCase(f, controller.signal, trigger, phase, fire, label);
              } else {
                if (phase === "before the first call") fire();
                if (phase === "after data arrived") {
                  f.produce();
                  const first = await settled(label, call(f, which, controller.signal));
                  assert(first.ok, "the record that arrived is delivered");
                  fire();
                }
                const pending = call(f, which, controller.signal);
                if (phase === "during the call") fire();
                if (phase === "twice") {
                  fire();
                  fire();
                }
                assertEndedBy(trigger, await settled(label, pending));
              }
              if (trigger !== "abort") {
                assert(f.reader.closed, "closing the map closes its reader");
                assertEndedBy(
                  trigger,
                  await settled("a later call", call(f, "wait()", controller.signal)),
                );
              }
            } finally {
              f.release();
            }
            // One macrotask for the runtime to report unhandled rejections, if any.
            await new Promise((resolve) => setTimeout(resolve, 0));
            assertEquals(unhandled, []);
          });
        });
      }
    }
  }
}

/** A for-await loop: a close ends it normally; an abort throws the reason out of it. */
async function forAwaitCase(
  f: Fixture,
  signal: AbortSignal,
  trigger: Trigger,
  phase: Phase,
  fire: () => void,
  label: string,
) {
  let records = 0;
  if (phase === "before the first call") fire();
  if (phase === "after data arrived") f.produce();
  const loop = (async () => {
    for await (const _ of f.reader.records({ signal })) {
      records++;
      if (phase === "after data arrived") fire(); // inside the loop, after a record
    }
  })();
  if (phase === "during the call") fire();
  if (phase === "twice") {
    fire();
    fire();
  }
  const outcome = await settled(label, loop);
  assertEquals(records, phase === "after data arrived" ? 1 : 0);
  if (trigger === "abort") assertEndedBy(trigger, outcome);
  else assert(outcome.ok, `a close ends the loop quietly: ${!outcome.ok && outcome.error}`);
}

for (const [kind, make] of Object.entries(fixtures)) {
  kernelTest(`${kind}: map.close() settles every call pending on the reader at once`, async () => {
    await assertNoFdLeak(async () => {
      const f = make();
      try {
        const never = new AbortController().signal;
        const calls = [call(f, "wait()", never), call(f, "wait()", never)];
        if (f.reader instanceof RingReader) calls.push(call(f, "read()", never));
        const loop = (async () => {
          for await (const _ of f.reader) throw new Error("no record was written");
        })();
        f.map.close();
        for (const [i, c] of calls.entries()) {
          assertEndedBy("map.close()", await settled(`call ${i}`, c));
        }
        assert((await settled("for await", loop)).ok);
      } finally {
        f.release();
      }
    });
  });

  kernelTest(`${kind}: aborting one of two waits leaves the other waiting for data`, async () => {
    await assertNoFdLeak(async () => {
      const f = make();
      try {
        const controller = new AbortController();
        const aborted = f.reader.wait({ signal: controller.signal });
        const other = f.reader.wait({ timeoutMs: 10_000 });
        controller.abort();
        assertEndedBy("abort", await settled("the aborted wait", aborted));
        f.produce();
        const outcome = await settled("the other wait", other);
        assert(outcome.ok && outcome.value === true, "the other wait saw the record");
        assertEquals(f.drain(), 1);
      } finally {
        f.release();
      }
    });
  });
}
