/**
 * testdata/core_kernel.c, relocated against this kernel's BTF by newCollection, run for
 * real: the syscall program by test run, the tracepoint program by a getppid() of ours.
 * Every value the programs wrote is checked against what vmlinux's BTF says.
 */

import { assert, assertEquals } from "@std/assert";
import { btf } from "../../mod.ts";
import { loadCollectionSpec } from "../../elf/mod.ts";
import { attachTracepoint } from "../../link/mod.ts";
import { newCollection } from "../../prog/mod.ts";
import { ensureTracefs, kernelTest, testdata } from "../_harness.ts";

// The OUT_* indexes of testdata/core_kernel.c, in order.
const OUT = Object.fromEntries(
  [
    "PID_OFF",
    "COMM_OFF",
    "GROUP_LEADER_OFF",
    "COMM_SIZE",
    "PID_SIZE",
    "PID_EXISTS",
    "NOSUCH_EXISTS",
    "NOSUCH_READ",
    "PID_SIGNED",
    "FLAGS_SIGNED",
    "PRECISE_IP_OFF",
    "PRECISE_IP_SIZE",
    "PRECISE_IP_LSHIFT",
    "PRECISE_IP_RSHIFT",
    "PRECISE_IP_SIGNED",
    "DEPTH_OFF",
    "DEPTH_SIZE",
    "DEPTH_LSHIFT",
    "DEPTH_RSHIFT",
    "DEPTH_SIGNED",
    "TYPE_ID_LOCAL",
    "TYPE_ID_KERNEL",
    "TYPEDEF_ID_KERNEL",
    "TASK_EXISTS",
    "NOSUCH_TYPE_EXISTS",
    "TASK_SIZE",
    "TASK_MATCHES",
    "TASK_BAD_MATCHES",
    "LIST_HEAD_MATCHES",
    "ENUM_RINGBUF_EXISTS",
    "ENUM_NO_SUCH_EXISTS",
    "ENUM_RINGBUF",
    "ENUM64_KERNEL",
    "ENUM64_EXISTS",
    "READ_PID",
    "READ_TGID",
    "READ_LEADER_PID",
    "READ_COMM",
    "READ_RESET_ON_FORK",
    "READ_COUNT",
  ].map((name, i) => [name, i]),
) as Record<string, number>;

/** A member found by a path through named and anonymous members: bit offset and the member. */
function member(type: btf.Type, path: string[]): { bitOffset: number; member: btf.Member } {
  const composite = btf.skipQualifiers(type) as btf.Struct | btf.Union;
  for (const m of composite.members) {
    if (m.name === path[0]) {
      if (path.length === 1) return { bitOffset: m.offset, member: m };
      const inner = member(m.type, path.slice(1));
      return { bitOffset: m.offset + inner.bitOffset, member: inner.member };
    }
    if (m.name === "") {
      try {
        const inner = member(m.type, path);
        return { bitOffset: m.offset + inner.bitOffset, member: inner.member };
      } catch { /* not in this anonymous member */ }
    }
  }
  throw new Error(`No member ${path.join(".")} in ${composite.name}`);
}

function enumValue(spec: btf.Spec, name: string): bigint {
  for (const t of spec.types()) {
    if (t instanceof btf.Enum) {
      const v = t.values.find((e) => e.name === name);
      if (v) return v.value;
    }
  }
  throw new Error(`No enumerator ${name}`);
}

/**
 * A bitfield relocation's four numbers must extract exactly the field's bits: a `size`-byte
 * load at `byteOff`, shifted left then right, keeps bits [bitOffset, bitOffset + bits).
 */
function assertBitfield(
  out: bigint[],
  prefix: string,
  field: { bitOffset: number; member: btf.Member },
) {
  const [off, size, lshift, rshift] = ["OFF", "SIZE", "LSHIFT", "RSHIFT"].map((k) =>
    Number(out[OUT[`${prefix}_${k}`]])
  );
  const bits = field.member.bitfieldSize;
  assert(bits > 0, `${prefix} is a bitfield`);
  assert(off * 8 <= field.bitOffset && field.bitOffset + bits <= (off + size) * 8, prefix);
  assertEquals(rshift, 64 - bits, `${prefix} rshift`);
  // Little-endian host: the field's low bit sits (bitOffset - 8*off) bits into the load.
  assertEquals(lshift, 64 - (field.bitOffset - off * 8) - bits, `${prefix} lshift`);
}

kernelTest("prog: CO-RE of every kind against the kernel's BTF, run for real", () => {
  ensureTracefs();
  const kernel = btf.loadKernelSpec();
  const spec = loadCollectionSpec(testdata("core_kernel-el.o"));
  return spec.then((spec) => {
    spec.variables.target_tgid.set(Deno.pid);
    using coll = newCollection(spec);
    coll.programs.core_values.run();
    {
      using _link = attachTracepoint(coll.programs.core_read_task, "syscalls", "sys_enter_getppid");
      const libc = Deno.dlopen("libc.so.6", { getppid: { parameters: [], result: "i32" } });
      try {
        libc.symbols.getppid();
      } finally {
        libc.close();
      }
    }
    const bytes = coll.maps[".bss"].lookupBytes(0)!;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const out = Array.from({ length: bytes.length / 8 }, (_, i) => view.getBigUint64(i * 8, true));
    const at = (name: string) => out[OUT[name]];

    const task = kernel.typeByName("task_struct", btf.Struct)!;
    const pid = member(task, ["pid"]);
    assertEquals(at("PID_OFF"), BigInt(pid.bitOffset / 8));
    assertEquals(at("COMM_OFF"), BigInt(member(task, ["comm"]).bitOffset / 8));
    assertEquals(at("GROUP_LEADER_OFF"), BigInt(member(task, ["group_leader"]).bitOffset / 8));
    assertEquals(at("COMM_SIZE"), BigInt(btf.sizeof(member(task, ["comm"]).member.type)));
    assertEquals(at("PID_SIZE"), BigInt(btf.sizeof(pid.member.type)));
    assertEquals([at("PID_EXISTS"), at("NOSUCH_EXISTS"), at("NOSUCH_READ")], [1n, 0n, 0xdeadn]);
    assertEquals([at("PID_SIGNED"), at("FLAGS_SIGNED")], [1n, 0n]); // pid_t; unsigned int

    const attr = kernel.typeByName("perf_event_attr", btf.Struct)!;
    assertBitfield(out, "PRECISE_IP", member(attr, ["precise_ip"]));
    assertEquals(at("PRECISE_IP_SIGNED"), 0n);
    const depth = iterDepth(kernel);
    if (depth) {
      assertBitfield(out, "DEPTH", depth);
      assertEquals(at("DEPTH_SIGNED"), 1n);
    } else {
      // Before Linux 6.4: the field is missing, its relocations dead behind the check.
      const slots = ["OFF", "SIZE", "LSHIFT", "RSHIFT", "SIGNED"].map((s) => at(`DEPTH_${s}`));
      assertEquals(slots, [0n, 0n, 0n, 0n, 0n]);
    }

    const local = spec.types!.typeByName("task_struct___mine", btf.Struct)!;
    assertEquals(at("TYPE_ID_LOCAL"), BigInt(spec.types!.typeId(local)!));
    assertEquals(at("TYPE_ID_KERNEL"), BigInt(kernel.typeId(task)!));
    assertEquals(at("TYPEDEF_ID_KERNEL"), 0n); // the kernel has no typedef task_mine_t
    assertEquals([at("TASK_EXISTS"), at("NOSUCH_TYPE_EXISTS")], [1n, 0n]);
    assertEquals(at("TASK_SIZE"), BigInt(task.size));
    // task_struct___mine's comm is a BPF char, signed: it matches only a kernel whose char
    // is signed too (Linux 6.2 made the kernel's char unsigned everywhere).
    const kernelChar = kernel.typeByName("char", btf.Int)!;
    assertEquals(
      [at("TASK_MATCHES"), at("TASK_BAD_MATCHES"), at("LIST_HEAD_MATCHES")],
      [kernelChar.signed ? 1n : 0n, 0n, 1n],
    );

    assertEquals([at("ENUM_RINGBUF_EXISTS"), at("ENUM_NO_SUCH_EXISTS")], [1n, 0n]);
    assertEquals(at("ENUM_RINGBUF"), enumValue(kernel, "BPF_MAP_TYPE_RINGBUF"));
    assertEquals(at("ENUM64_KERNEL"), BigInt.asUintN(64, enumValue(kernel, "PERF_CONTEXT_KERNEL")));
    assertEquals(at("ENUM64_EXISTS"), 1n);

    // The tracepoint ran in this process's getppid(): a thread of ours, led by our pid.
    assert(at("READ_COUNT") >= 1n);
    assertEquals([at("READ_TGID"), at("READ_LEADER_PID")], [BigInt(Deno.pid), BigInt(Deno.pid)]);
    assert(at("READ_PID") > 0n);
    const comm = bytes.subarray(OUT.READ_COMM * 8, OUT.READ_COMM * 8 + 8);
    const name = new TextDecoder().decode(
      comm.subarray(0, comm.indexOf(0) < 0 ? 8 : comm.indexOf(0)),
    );
    // The comm of the thread that made the call (READ_PID is its thread id).
    const thread = Deno.readTextFileSync(`/proc/self/task/${at("READ_PID")}/comm`);
    assert(name.length > 0 && thread.startsWith(name), `${name} vs ${thread}`);
    assertEquals(at("READ_RESET_ON_FORK"), 0n);
  });
});

/** bpf_reg_state.iter.depth of the kernel (Linux 6.4 added it), or undefined. */
function iterDepth(kernel: btf.Spec) {
  const reg = kernel.typeByName("bpf_reg_state", btf.Struct)!;
  try {
    return member(reg, ["iter", "depth"]);
  } catch {
    return undefined;
  }
}
