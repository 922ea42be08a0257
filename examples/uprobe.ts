// uprobe and uretprobe: every call of libc's getcwd(3) — who called it, with what buffer
// size, and whether it succeeded — sent through a ring buffer when it returns.
// Run: sudo deno run -A examples/uprobe.ts [--duration 10] [--libc /path/libc.so.6]
import { attachUprobe, attachUretprobe, codecFor, decodeValue, RingReader } from "../mod.ts";
import { durationArg, running } from "./_run.ts";
import { type Call, loadUprobe } from "./uprobe_bpf.ts";

const i = Deno.args.indexOf("--libc");
const libc = i >= 0 ? Deno.args[i + 1] : "/lib/x86_64-linux-gnu/libc.so.6";

using objs = loadUprobe();
using _enter = attachUprobe(objs.programs.enter_getcwd, libc, "getcwd");
using _exit = attachUretprobe(objs.programs.exit_getcwd, libc, "getcwd");
using reader = new RingReader(objs.maps.calls);
// Records are `struct call`, the value type of `in_flight`: decode them with its codec.
const codec = codecFor(objs.maps.in_flight.valueCodec?.type);
using run = running(durationArg(5));
for (;;) {
  const record = await reader.read({ signal: run.signal }).catch((e) => {
    if (run.signal.aborted) return undefined;
    throw e;
  });
  if (record === undefined) break;
  const call = decodeValue(codec, record) as Call;
  console.log(
    `getcwd: pid ${call.pid} ${call.comm} size ${call.size} ${call.returned ? "ok" : "failed"}`,
  );
}
