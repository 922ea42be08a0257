// Objects that own an fd and Workers: posting a BpfMap, Program or Link (or structuredClone
// of one) throws a TypeError that says how to hand it over, instead of arriving as a plain
// object without methods; an fd given up with releaseFd() is opened in a real Worker with
// BpfMap.fromFd and used there, and the worker's close leaves the main thread's handle
// working.
import { assert, assertEquals, assertStringIncludes, assertThrows } from "@std/assert";
import * as asm from "../asm/mod.ts";
import { BpfMap, MapSpec, MapType } from "../map/mod.ts";
import { Program, ProgramSpec, ProgramType } from "../prog/mod.ts";
import { attachIter } from "../link/mod.ts";
import { ClosedError } from "../errors.ts";
import { kernelTest } from "./_harness.ts";
import { taskIter } from "./link/_progs.ts";

const arraySpec = new MapSpec({
  name: "worker",
  type: MapType.Array,
  keySize: 4,
  valueSize: 4,
  maxEntries: 4,
});

/** Sends `message` to a fresh worker running the map fixture and returns its one reply. */
async function askWorker(message: unknown): Promise<Record<string, unknown>> {
  const worker = new Worker(new URL("./fixtures/map_worker.ts", import.meta.url), {
    type: "module",
  });
  try {
    const reply = new Promise<Record<string, unknown>>((resolve, reject) => {
      worker.onmessage = (e) => resolve(e.data);
      worker.onerror = (e) => {
        e.preventDefault();
        reject(new Error(e.message));
      };
    });
    worker.postMessage(message);
    return await reply;
  } finally {
    worker.terminate();
  }
}

kernelTest(
  "workers: posting a BpfMap, Program or Link throws a TypeError saying what to do",
  async () => {
    using map = BpfMap.create(arraySpec);
    using prog = Program.load(
      new ProgramSpec({
        name: "worker",
        type: ProgramType.SocketFilter,
        instructions: new asm.Instructions([asm.Mov.Imm(asm.R0, 0), asm.Return()]),
        license: "GPL",
      }),
    );
    using it = taskIter(1);
    using link = attachIter(it);
    const worker = new Worker(new URL("./fixtures/map_worker.ts", import.meta.url), {
      type: "module",
    });
    try {
      for (
        const [what, obj, hint] of [
          ["BpfMap", map, "BpfMap.fromFd(fd)"],
          ["Program", prog, "Program.fromFd(fd)"],
          ["Link", link, "linkFromFd(fd)"],
        ] as const
      ) {
        const posted = assertThrows(() => worker.postMessage(obj), Error);
        assertStringIncludes(posted.message, `Cannot clone a ${what} (postMessage to a Worker`);
        assertStringIncludes(posted.message, hint);
        // Inside a collection or any other value, too.
        const nested = assertThrows(() => structuredClone({ objects: [obj] }), Error);
        assertStringIncludes(nested.message, `Cannot clone a ${what}`);
      }
      // The worker answers a plain message: it has started (its modules loaded and checked),
      // so terminating it leaves none of its start-up's files and pipes behind.
      const reply = new Promise((resolve) => worker.onmessage = resolve);
      worker.postMessage({});
      await reply;
    } finally {
      worker.terminate();
    }
    // JSON still gives the plain fields, as before the guard.
    assertEquals(JSON.parse(JSON.stringify(prog)), {
      type: ProgramType.SocketFilter,
      name: "worker",
    });
    // Still usable: the refusal took nothing away.
    map.update(0, 7);
    assertEquals(u32(map.lookup(0)!), 7);
  },
);

/** Whether `fd` is open in this process on the map with kernel id `mapId`. */
function holdsMap(fd: number, mapId: number): boolean {
  try {
    return new RegExp(`^map_id:\\s+${mapId}$`, "m").test(
      Deno.readTextFileSync(`/proc/self/fdinfo/${fd}`),
    );
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

kernelTest(
  "workers: a map's fd handed over with releaseFd is used and closed in a Worker",
  async () => {
    using map = BpfMap.create(arraySpec);
    const id = map.info().id;
    const fd = map.clone().releaseFd();
    assert(holdsMap(fd, id));
    const reply = await askWorker({ fd, key: 2, value: 0xbeef });
    assertEquals(reply.error, undefined, String(reply.error));
    assertEquals(reply.back, 0xbeef);
    assertEquals(reply.id, id, "the worker used the same kernel map");
    // The worker closed the fd it took over; ours stays open and sees its write.
    assert(!holdsMap(fd, id), "the worker's close closed the handed-over fd");
    assertEquals(u32(map.lookup(2)!), 0xbeef);

    // releaseFd moves the fd: the handle is closed, as after close(), and the fd is not.
    const moved = BpfMap.create(arraySpec);
    const movedId = moved.info().id;
    const movedFd = moved.releaseFd();
    assert(moved.closed);
    assertThrows(() => moved.lookup(0), ClosedError);
    assert(holdsMap(movedFd, movedId));
    const second = await askWorker({ fd: movedFd, key: 1, value: 5 });
    assertEquals(second.back, 5);
    assert(!holdsMap(movedFd, movedId));
  },
);

/** The u32 at the start of `bytes` (a view that may sit inside a larger buffer). */
function u32(bytes: Uint8Array): number {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, true);
}
