// trace_pipe: bpf_printk lines from a test run read back and parsed, the pid and message
// filters, a prompt close on abort, and the parser on line formats the kernel prints.
import { assert, assertEquals, assertRejects } from "@std/assert";
import { loadCollectionSpec } from "../../elf/mod.ts";
import { newCollection } from "../../prog/mod.ts";
import { parseTraceLine, TracePipe } from "../../link/mod.ts";
import { gettid } from "../../ffi.ts";
import { kernelTest, testdata } from "../_harness.ts";

const spec = () => loadCollectionSpec(testdata("trace_printk-el.o"));
/** A number no other run uses, so that lines of other processes never match. */
const nonce = () => crypto.getRandomValues(new Uint32Array(1))[0];
/** A deadline for a line that never comes: the pipe closes and the iteration ends. */
const deadline = () => AbortSignal.timeout(20_000);

kernelTest("trace_pipe: a bpf_printk line of a test run, parsed", async () => {
  using coll = newCollection(await spec());
  const n = nonce();
  coll.variables.nonce.set(n);
  using pipe = TracePipe.open({ contains: `ebpf trace_pipe test ${n}:`, signal: deadline() });
  assertEquals(coll.programs.say_hello.run().retval, 0);
  const { value: line } = await pipe.lines().next();
  if (!line) throw new Error("no line came before the deadline");
  assertEquals(line.message, `ebpf trace_pipe test ${n}: hello, -7 and world`);
  assertEquals(line.event, "bpf_trace_printk");
  // The test run happens on this thread: the kernel names it by its thread id and comm.
  assertEquals(line.pid, gettid());
  // Its comm, or "<...>" when the kernel's cache of comms (saved_cmdlines) lost this pid.
  const comm = Deno.readTextFileSync(`/proc/self/task/${gettid()}/comm`).trimEnd();
  assert(line.task === comm || line.task === "<...>", `task "${line.task}", comm "${comm}"`);
  assert(line.cpu >= 0 && line.cpu < navigator.hardwareConcurrency, `cpu ${line.cpu}`);
  const uptime = Number(Deno.readTextFileSync("/proc/uptime").split(" ")[0]);
  assert(line.timestamp > 0 && line.timestamp <= uptime + 1, `timestamp ${line.timestamp}`);
});

kernelTest("trace_pipe: lines of another pid or without the text are skipped", async () => {
  using coll = newCollection(await spec());
  const n = nonce();
  const tag = `ebpf trace_pipe test ${n}`;
  using pipe = TracePipe.open({
    pid: gettid(),
    contains: `${tag}: hello`,
    allEvents: true,
    signal: deadline(),
  });
  // Before this thread's line: the same text from another process, through trace_marker.
  const child = new Deno.Command("sh", {
    args: ["-c", `echo '${tag}: hello from sh' > ${pipeDir()}/trace_marker`],
  }).outputSync();
  assert(child.success, new TextDecoder().decode(child.stderr));
  // And a line of this thread without the text.
  coll.variables.nonce.set(n + 1);
  coll.programs.say_hello.run();
  coll.variables.nonce.set(n);
  coll.programs.say_hello.run();
  const { value: line } = await pipe.lines().next();
  assertEquals(line?.message, `${tag}: hello, -7 and world`);
  assertEquals(line?.pid, gettid());
});

/** Where tracefs is mounted (the pipe mounted it when it was missing). */
function pipeDir(): string {
  for (const dir of ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"]) {
    try {
      Deno.statSync(`${dir}/trace_marker`);
      return dir;
    } catch {
      // not there
    }
  }
  throw new Error("tracefs is not mounted");
}

kernelTest("trace_pipe: an abort ends a pending wait at once and closes the pipe", async () => {
  const controller = new AbortController();
  const pipe = TracePipe.open({ contains: `never printed ${nonce()}`, signal: controller.signal });
  const pending = pipe.lines().next();
  controller.abort();
  assertEquals(await pending, { done: true, value: undefined });
  assert(pipe.closed);
  // A loop's own signal throws its reason out of the loop; the pipe stays open.
  using again = TracePipe.open({ contains: `never printed ${nonce()}` });
  const loop = new AbortController();
  const next = again.lines({ signal: loop.signal }).next();
  loop.abort(new Error("stop"));
  await assertRejects(() => next, Error, "stop");
  assert(!again.closed);
});

Deno.test("parseTraceLine: the default format, with the irq-info flags column", () => {
  assertEquals(
    parseTraceLine(
      "            bash-8621    [001] ...1.   339.946232: tracing_mark_write: hello marker",
    ),
    {
      task: "bash",
      pid: 8621,
      cpu: 1,
      flags: "...1.",
      timestamp: 339.946232,
      event: "tracing_mark_write",
      message: "hello marker",
    },
  );
  const printk = parseTraceLine(
    "          <idle>-0       [000] d.h21 12345.678901: bpf_trace_printk: pkt len: 42",
  );
  assertEquals(
    [printk?.task, printk?.pid, printk?.flags, printk?.event, printk?.message],
    ["<idle>", 0, "d.h21", "bpf_trace_printk", "pkt len: 42"],
  );
});

Deno.test("parseTraceLine: without irq-info, and with record-tgid", () => {
  const bare = parseTraceLine(
    "            bash-8621    [001]    339.946232: tracing_mark_write: hello marker",
  );
  assertEquals([bare?.task, bare?.pid, bare?.cpu, bare?.flags], ["bash", 8621, 1, undefined]);
  assertEquals(bare?.timestamp, 339.946232);
  const unknownTgid = parseTraceLine(
    "            bash-8621    (-------) [001] ...1.   339.946232: tracing_mark_write: hello",
  );
  assertEquals([unknownTgid?.pid, unknownTgid?.tgid, unknownTgid?.flags], [
    8621,
    undefined,
    "...1.",
  ]);
  const tgid = parseTraceLine(
    "     python3-1990    (   1977) [000] ...1.   382.004899: tracing_mark_write: x",
  );
  assertEquals([tgid?.task, tgid?.pid, tgid?.tgid], ["python3", 1990, 1977]);
});

Deno.test("parseTraceLine: a task name with spaces and dashes", () => {
  const line = parseTraceLine(
    "   Web Content-2-14712   [001] ...1.  1486.058660: tracing_mark_write: comm-test-marker 31337",
  );
  assertEquals(
    [line?.task, line?.pid, line?.cpu, line?.message],
    ["Web Content-2", 14712, 1, "comm-test-marker 31337"],
  );
});

Deno.test("parseTraceLine: a pid whose comm the kernel no longer has", () => {
  const line = parseTraceLine(
    "           <...>-27781   [000] ...11  2201.330412: bpf_trace_printk: ebpf trace_pipe test 1",
  );
  assertEquals([line?.task, line?.pid, line?.flags], ["<...>", 27781, "...11"]);
});

Deno.test("parseTraceLine: lines that are not events", () => {
  assertEquals(parseTraceLine("CPU:1 [LOST 3 EVENTS]"), undefined);
  assertEquals(parseTraceLine("second line of a message"), undefined);
  assertEquals(parseTraceLine(""), undefined);
});
