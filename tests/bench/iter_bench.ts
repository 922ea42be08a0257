// A BPF iterator pass (examples/task_iter.c: one line per task) read to its end the ways users
// write it: `for await` over `IterReader.stream()` (one read(2) a 64 KiB chunk, at most one chunk
// queued), `readAll()`, and `IterLink.text()`, next to C reading the iterator's fd with read(2)
// in 64 KiB chunks (iter_read.c), same run. Most of a pass is the kernel running the program.
import { attachIter } from "../../mod.ts";
import { loadTaskIter } from "../../examples/task_iter_bpf.ts";

const GROUP = "iter";

const c = Deno.dlopen(new URL(".build/iter_read.so", import.meta.url).pathname, {
  iter_read_all: { parameters: ["i32"], result: "i64" },
});

const objs = loadTaskIter();
const link = attachIter(objs.programs.list_tasks);
let sink = 0;

Deno.bench({
  name: "C: bpf_iter_create + read(2) to the end, 64 KiB chunks",
  group: GROUP,
  baseline: true,
  fn() {
    const n = c.symbols.iter_read_all(link.fd);
    if (n <= 0n) throw new Error(`read ${n}`);
    sink += Number(n);
  },
});

Deno.bench({
  name: "for await (const chunk of link.open().stream())",
  group: GROUP,
  async fn() {
    for await (const chunk of link.open().stream()) sink += chunk.length;
  },
});

Deno.bench({
  name: "link.open().readAll()",
  group: GROUP,
  fn() {
    using reader = link.open();
    sink += reader.readAll().length;
  },
});

Deno.bench({
  name: "link.text()",
  group: GROUP,
  fn() {
    sink += link.text().length;
  },
});

addEventListener("unload", () => {
  link.close();
  objs.close();
  if (sink < 0) console.log(sink);
});
