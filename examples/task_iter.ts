// Task iterator: lists every process (pid and command) from a BPF iterator, read like a file.
// Run: sudo deno run -A examples/task_iter.ts
import { attachIter } from "../mod.ts";
import { loadTaskIter } from "./task_iter_bpf.ts";

using objs = loadTaskIter();
using iter = attachIter(objs.programs.list_tasks);
const lines = iter.text().trimEnd().split("\n");
console.log(`${lines.length} processes:`);
console.log(lines.join("\n"));
