// Link attach/close and an iterator pass through link/, next to the same syscalls in C
// (link_attach.c).
import { attachIter } from "../../link/mod.ts";
import { taskIter } from "../link/_progs.ts";

const OPS = 100;
const prog = taskIter(0x41);
const iter = attachIter(prog);

const c = Deno.dlopen(new URL(".build/link_attach.so", import.meta.url).pathname, {
  attach_close_loop: { parameters: ["i32", "i32"], result: "i32" },
  iter_read: { parameters: ["i32"], result: "i64" },
});

Deno.bench({
  name: `C: iterator link create + close [×${OPS}]`,
  group: "link_attach",
  baseline: true,
  fn() {
    if (c.symbols.attach_close_loop(prog.fd, OPS) !== 0) throw new Error("C attach failed");
  },
});

Deno.bench({
  name: `attachIter + close [×${OPS}]`,
  group: "link_attach",
  fn() {
    for (let i = 0; i < OPS; i++) attachIter(prog).close();
  },
});

Deno.bench({
  name: "C: iter/task pass (ITER_CREATE, read all, close)",
  group: "iter_read",
  baseline: true,
  fn() {
    if (c.symbols.iter_read(iter.fd) <= 0) throw new Error("C iter failed");
  },
});

const chunk = new Uint8Array(new ArrayBuffer(1 << 16));
Deno.bench({
  name: "IterLink.open + read into one buffer + close",
  group: "iter_read",
  fn() {
    using r = iter.open();
    let total = 0;
    for (let n; (n = r.read(chunk)) > 0;) total += n;
    if (total <= 0) throw new Error("no output");
  },
});

Deno.bench({
  name: "IterLink.open().readAll() (copies)",
  group: "iter_read",
  fn() {
    using r = iter.open();
    if (r.readAll().length <= 0) throw new Error("no output");
  },
});
