// Programs and maps for the link tests, built with asm and loaded with Program.load (or a
// raw BPF_PROG_LOAD when the program needs an attach_btf_id, which Program.load lacks yet).
import * as asm from "../../asm/mod.ts";
import { allocBuffer, Attr, BpfCmd, bpfErrno, cString, run } from "./_deps.ts";
import { BpfMap, MapSpec, MapType } from "../../map/mod.ts";
import { AttachType, Program, ProgramSpec, ProgramType } from "../../prog/mod.ts";
import { loadKernelSpec } from "../../btf/mod.ts";
import type { Spec } from "../../btf/mod.ts";

const { R0, R1, R2, R3, R6, R10, DWord, Word } = asm;

/** An array map of `n` u64 counters. */
export function counters(n = 1, name = "counters"): BpfMap {
  return BpfMap.create(
    new MapSpec({ name, type: MapType.Array, keySize: 4, valueSize: 8, maxEntries: n }),
  );
}

/** The u64 counter at `index`. */
export function count(map: BpfMap, index = 0): bigint {
  const v = map.lookup(index);
  if (!v) throw new Error(`No counter ${index}`);
  return new DataView(v.buffer, v.byteOffset, 8).getBigUint64(0, true);
}

/** asm reference to a BpfMap. */
export function ref(map: BpfMap): asm.MapLike {
  return { fd: () => map.fd, name: "counters" };
}

/** `counters[index] += 1` (r1–r3 clobbered); jumps to `out` when the lookup fails. */
export function increment(map: BpfMap, index: number, label: string): asm.Instruction[] {
  return [
    asm.StoreImm(R10, -4, index, Word),
    asm.Mov.Reg(R2, R10),
    asm.Add.Imm(R2, -4),
    asm.LoadMapPtr(R1, ref(map)),
    asm.FnMapLookupElem.Call(),
    asm.JEq.Imm(R0, 0, label),
    asm.Mov.Imm(R1, 1),
    asm.Atomic.Add(R0, 0, R1, DWord),
  ];
}

/** Only continue when the current process is `pid`; else jump to `label`. */
export function onlyPid(pid: number, label: string): asm.Instruction[] {
  return [
    asm.FnGetCurrentPidTgid.Call(),
    asm.RSh.Imm(R0, 32),
    asm.JNE.Imm(R0, pid, label),
  ];
}

/** A program that counts its runs in `map[index]` when `pid` (if given) is running. */
export function countingInstructions(
  map: BpfMap,
  options: { pid?: number; index?: number; ret?: number; prelude?: asm.Instruction[] } = {},
): asm.Instructions {
  return new asm.Instructions([
    asm.Mov.Reg(R6, R1),
    ...(options.prelude ?? []),
    ...(options.pid !== undefined ? onlyPid(options.pid, "out") : []),
    ...increment(map, options.index ?? 0, "out"),
    asm.Label("out"),
    asm.Mov.Imm(R0, options.ret ?? 0),
    asm.Return(),
  ]);
}

/** Loads a program of `type` (GPL). */
export function load(
  type: ProgramType,
  instructions: asm.Instructions,
  attachType: AttachType = AttachType.None,
  name = "link_test",
): Program {
  return Program.load(
    new ProgramSpec({ name, type, attachType, instructions, license: "GPL" }),
  );
}

let kernelSpec: Spec | undefined;

/** vmlinux BTF, parsed once. */
export function vmlinux(): Spec {
  return kernelSpec ??= loadKernelSpec();
}

/** The id of the vmlinux type `name` of kind `kind`. */
export function btfId(name: string, kind: string): number {
  const spec = vmlinux();
  for (const id of spec.typeIdsByName(name)) {
    if (spec.typeById(id).kind === kind) return id;
  }
  throw new Error(`No ${kind} "${name}" in vmlinux BTF`);
}

/** The outcome of a raw load with an attach_btf_id. */
export type BtfLoad = { program: Program } | { errno: number; log: string };

/**
 * BPF_PROG_LOAD with `attach_btf_id` (vmlinux) set: Program.load does not set it yet.
 * Returns the program or the errno and verifier log.
 */
export function loadWithBtfId(
  type: ProgramType,
  attachType: AttachType,
  btfTypeId: number,
  instructions: asm.Instructions,
  flags = 0,
): BtfLoad {
  const bytes = instructions.marshal("little");
  const insns = allocBuffer(bytes.length);
  insns.set(bytes);
  const log = allocBuffer(1 << 20);
  const attr = new Attr()
    .u32(0, type)
    .u32(4, insns.length / 8)
    .pointer(8, insns)
    .pointer(16, cString("GPL"))
    .u32(24, 1)
    .u32(28, log.length)
    .pointer(32, log)
    .u32(44, flags)
    .u32(68, attachType)
    .u32(108, btfTypeId);
  const r = bpfErrno(BpfCmd.PROG_LOAD, attr);
  if (r >= 0) return { program: Program.fromFd(r, type, "btf_test") };
  const end = log.indexOf(0);
  return { errno: -r, log: new TextDecoder().decode(log.subarray(0, end < 0 ? 0 : end)) };
}

/** Compiles a C file with gcc into a temporary directory; returns the binary's path. */
export function gcc(source: string, name: string, extra: string[] = []): string {
  const dir = Deno.makeTempDirSync({ prefix: "ebpf_link_" });
  const out = `${dir}/${name}`;
  run("gcc", ["-O1", "-g", "-fno-inline", "-o", out, source, ...extra]);
  return out;
}

export { run };

/** The byte offset of member `member` of vmlinux struct `struct`. */
export function memberOffset(struct: string, member: string): number {
  const spec = vmlinux();
  const t = spec.typeById(btfId(struct, "struct")) as unknown as {
    members: { name: string; offset: number }[];
  };
  const m = t.members.find((x) => x.name === member);
  if (!m) throw new Error(`No member ${struct}.${member}`);
  return m.offset / 8;
}

/**
 * An iter/task program: for each task writes its tgid (u32) followed by `tag` (a byte)
 * with bpf_seq_write. Returns the program, or throws with the verifier log.
 */
export function taskIter(tag: number): Program {
  const tgid = memberOffset("task_struct", "tgid");
  const insns = new asm.Instructions([
    asm.LoadMem(R6, R1, 0, DWord), // ctx->meta
    asm.LoadMem(asm.R7, R1, 8, DWord), // ctx->task
    asm.JEq.Imm(asm.R7, 0, "out"),
    asm.LoadMem(R2, asm.R7, tgid, Word),
    asm.StoreMem(R10, -8, R2, Word),
    asm.StoreImm(R10, -4, tag, Word),
    asm.LoadMem(R1, R6, 0, DWord), // meta->seq
    asm.Mov.Reg(R2, R10),
    asm.Add.Imm(R2, -8),
    asm.Mov.Imm(R3, 5),
    asm.FnSeqWrite.Call(),
    asm.Label("out"),
    asm.Mov.Imm(R0, 0),
    asm.Return(),
  ]);
  const r = loadWithBtfId(
    ProgramType.Tracing,
    AttachType.TraceIter,
    btfId("bpf_iter_task", "func"),
    insns,
  );
  if ("program" in r) return r.program;
  throw new Error(`iter/task load failed: errno ${r.errno}: ${r.log}`);
}

/** Decodes taskIter output: [tgid, tag] records of 5 bytes. */
export function taskRecords(bytes: Uint8Array): [number, number][] {
  if (bytes.length % 5 !== 0) throw new Error(`Output of ${bytes.length} bytes`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: [number, number][] = [];
  for (let i = 0; i < bytes.length; i += 5) out.push([v.getUint32(i, true), bytes[i + 4]]);
  return out;
}

/** `map[index] = reg` (reg must be r6–r9; r1–r3 clobbered). */
export function store(
  map: BpfMap,
  index: number,
  reg: asm.Register,
  label: string,
): asm.Instruction[] {
  return [
    asm.StoreImm(R10, -4, index, Word),
    asm.Mov.Reg(R2, R10),
    asm.Add.Imm(R2, -4),
    asm.LoadMapPtr(R1, ref(map)),
    asm.FnMapLookupElem.Call(),
    asm.JEq.Imm(R0, 0, label),
    asm.StoreMem(R0, 0, reg, DWord),
  ];
}

/**
 * Runs `cmd args`, a fixture that prints "ready" on stderr once it waits inside main for a
 * line on stdin, and resolves when it has: what the test attaches next sees main entered
 * already, on a busy machine too. `go()` sends the line and resolves to its stdout.
 */
export async function spawnWaiting(cmd: string, args: string[]) {
  const child = new Deno.Command(cmd, { args, stdin: "piped", stdout: "piped", stderr: "piped" })
    .spawn();
  const stdout = new Response(child.stdout).text();
  const errors = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let err = "";
  while (!err.includes("ready\n")) {
    const { value, done } = await errors.read();
    if (done) throw new Error(`${cmd} ended before it was ready: ${err}`);
    err += value;
  }
  return {
    pid: child.pid,
    async go(): Promise<string> {
      const w = child.stdin.getWriter();
      await w.write(new TextEncoder().encode("go\n"));
      await w.close();
      for (let r = await errors.read(); !r.done; r = await errors.read()) err += r.value;
      if (!(await child.status).success) throw new Error(err);
      return (await stdout).trim();
    },
  };
}
