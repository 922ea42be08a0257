import { assert, assertEquals, assertThrows } from "@std/assert";
import { asm, BpfMap, btf, MapSpec, MapType, UpdateFlags, UserRingWriter } from "../../mod.ts";
import { BtfHandle } from "../../btf/handle.ts";
import { SyscallError } from "../../errors.ts";
import { allocBuffer, Attr, BpfCmd, bpfErrno, closeFd, cString } from "../../ffi.ts";
import { assertNoFdLeak, kernelTest } from "../_harness.ts";
import { testRun } from "../_raw_prog.ts";
import { mapRef, u32, u64 } from "./_types.ts";

const { R0, R1, R2, R3, R4, R5, R6, R10, Word, DWord } = asm;
const BPF_F_MMAPABLE = 1 << 10;

kernelTest("BpfMap.mmap: a live view of an mmap-able array shows program writes", async () => {
  await assertNoFdLeak(async () => {
    const m = BpfMap.create(
      new MapSpec({
        type: MapType.Array,
        keySize: 4,
        valueSize: 4,
        maxEntries: 16,
        flags: BPF_F_MMAPABLE,
      }),
    );
    const view = m.mmap();
    assertEquals(view.length, 16 * 8);
    assert(m.mmap().buffer === view.buffer, "one mapping per map");
    // User space writes are seen by syscalls (and programs)...
    new DataView(view.buffer).setUint32(3 * 8, 0xcafe, true);
    assertEquals(m.lookup(3), new Uint8Array([0xfe, 0xca, 0, 0]));
    // ...and a program's writes show in the view without a syscall.
    const { Program, ProgramSpec, ProgramType } = await import("../../prog/mod.ts");
    using prog = Program.load(
      new ProgramSpec({
        type: ProgramType.SocketFilter,
        license: "GPL",
        instructions: new asm.Instructions([
          asm.StoreImm(R10, -4, 5, Word),
          asm.Mov.Reg(R2, R10),
          asm.Add.Imm(R2, -4),
          asm.LoadMapPtr(R1, mapRef(m)),
          asm.FnMapLookupElem.Call(),
          asm.JEq.Imm(R0, 0, "out"),
          asm.StoreImm(R0, 0, 0x1234567, Word),
          asm.Label("out"),
          asm.Mov.Imm(R0, 0),
          asm.Return(),
        ]),
      }),
    );
    prog.run({ data: new Uint8Array(64) });
    assertEquals(new DataView(view.buffer).getUint32(5 * 8, true), 0x1234567);
    m.close();
    assertEquals(view.buffer.byteLength, 0, "closing the map detaches the view");
    using plain = BpfMap.create(
      new MapSpec({ type: MapType.Array, keySize: 4, valueSize: 4, maxEntries: 1 }),
    );
    assertThrows(() => plain.mmap(), TypeError);
  });
});

kernelTest("BpfMap: spin-lock values update and read with BPF_F_LOCK", () => {
  const lock = new btf.Struct("bpf_spin_lock", 4, [new btf.Member("val", u32, 0)]);
  const value = new btf.Struct("locked", 16, [
    new btf.Member("lock", lock, 0),
    new btf.Member("count", u32, 32),
    new btf.Member("total", u64, 64),
  ]);
  for (const type of [MapType.Hash, MapType.Array]) {
    using m = BpfMap.create(
      new MapSpec({ type, keySize: 4, valueSize: 16, maxEntries: 4, key: u32, value }),
    );
    m.update(1, { count: 1, total: 10n });
    m.update(1, { count: 2, total: 20n }, UpdateFlags.Lock);
    assertEquals(m.lookup(1, UpdateFlags.Lock), { count: 2, total: 20n });
    assertEquals(m.lookup(1), { count: 2, total: 20n });
  }
  // BPF_F_LOCK on a value without a lock is refused by the kernel.
  using plain = BpfMap.create(
    new MapSpec({ type: MapType.Hash, keySize: 4, valueSize: 8, maxEntries: 1 }),
  );
  assertThrows(() => plain.update(1, 1n, UpdateFlags.Lock), SyscallError);
});

/**
 * A socket filter that drains a user ring buffer with bpf_user_ringbuf_drain: the callback
 * reads each sample's first 8 bytes with bpf_dynptr_read and adds them to a sum on the
 * stack, which the program returns. Callbacks need BTF func_info, so this loads raw.
 */
function drainer(ring: BpfMap): { fd: number; log: string } {
  const insns = new asm.Instructions([
    asm.StoreImm(R10, -8, 0, DWord),
    asm.LoadMapPtr(R1, mapRef(ring)),
    asm.LoadFuncPtr(R2, "cb"),
    asm.Mov.Reg(R3, R10),
    asm.Add.Imm(R3, -8),
    asm.Mov.Imm(R4, 0),
    asm.FnUserRingbufDrain.Call(),
    asm.LoadMem(R0, R10, -8, DWord),
    asm.Return(),
    asm.Label("cb"),
    asm.Mov.Reg(R6, R2),
    asm.Mov.Reg(R3, R1),
    asm.Mov.Reg(R1, R10),
    asm.Add.Imm(R1, -8),
    asm.Mov.Imm(R2, 8),
    asm.Mov.Imm(R4, 0),
    asm.Mov.Imm(R5, 0),
    asm.FnDynptrRead.Call(),
    asm.JNE.Imm(R0, 0, "skip"),
    asm.LoadMem(R1, R10, -8, DWord),
    asm.LoadMem(R2, R6, 0, DWord),
    asm.Add.Reg(R2, R1),
    asm.StoreMem(R6, 0, R2, DWord),
    asm.Label("skip"),
    asm.Mov.Imm(R0, 0),
    asm.Return(),
  ]);
  const code = insns.marshal("little");
  const bytes = allocBuffer(code.length);
  bytes.set(code);
  const int = new btf.Int("int", 4, btf.IntEncoding.Signed);
  const long = new btf.Int("long", 8, btf.IntEncoding.Signed);
  const ptr = new btf.Pointer(new btf.Void());
  const main = new btf.Func(
    "main",
    new btf.FuncProto(int, [new btf.FuncParam("ctx", ptr)]),
    btf.Linkage.Static,
  );
  const cb = new btf.Func(
    "cb",
    new btf.FuncProto(long, [new btf.FuncParam("dynptr", ptr), new btf.FuncParam("ctx", ptr)]),
    btf.Linkage.Static,
  );
  using handle = BtfHandle.load([main, cb]);
  const funcInfo = allocBuffer(16);
  const fv = new DataView(funcInfo.buffer);
  fv.setUint32(0, 0, true);
  fv.setUint32(4, handle.typeId(main)!, true);
  fv.setUint32(8, 11, true); // the slot of "cb"
  fv.setUint32(12, handle.typeId(cb)!, true);
  const log = allocBuffer(1 << 16);
  const attr = new Attr()
    .u32(0, 1) // BPF_PROG_TYPE_SOCKET_FILTER
    .u32(4, code.length / 8)
    .pointer(8, bytes)
    .pointer(16, cString("GPL"))
    .u32(24, 1)
    .u32(28, log.length)
    .pointer(32, log)
    .u32(72, handle.fd)
    .u32(76, 8)
    .pointer(80, funcInfo)
    .u32(88, 2);
  const r = bpfErrno(BpfCmd.PROG_LOAD, attr);
  return { fd: r, log: new TextDecoder().decode(log.subarray(0, Math.max(0, log.indexOf(0)))) };
}

kernelTest("UserRingWriter: samples written from user space are drained by a program", async () => {
  await assertNoFdLeak(() => {
    using ring = BpfMap.create(new MapSpec({ type: MapType.UserRingbuf, maxEntries: 4096 }));
    const prog = drainer(ring);
    assert(prog.fd >= 0, prog.log);
    try {
      using writer = new UserRingWriter(ring);
      assertEquals(writer.available, 4096);
      for (const v of [1n, 2n, 4n, 8n, 16n]) {
        const sample = writer.reserve(12)!;
        new DataView(sample.buffer, sample.byteOffset).setBigUint64(0, v, true);
        writer.submit(sample);
      }
      const discarded = writer.reserve(8)!;
      discarded.fill(0xff);
      writer.discard(discarded);
      assertThrows(() => writer.submit(discarded), TypeError);
      assertThrows(() => writer.submit(new Uint8Array(8)), TypeError);
      assertEquals(writer.available, 4096 - 5 * 24 - 16);
      assertEquals(testRun(prog.fd, new Uint8Array(64)).retval, 31, "1+2+4+8+16, discard skipped");
      assertEquals(writer.available, 4096, "the kernel consumed every sample");
      // Fill the ring: reserve gives undefined, not an overwrite.
      let n = 0;
      while (writer.write(new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0]))) n++;
      assertEquals(n, 4096 / 16);
      assertEquals(testRun(prog.fd, new Uint8Array(64)).retval, n);
      assertThrows(() => writer.reserve(8192), RangeError);
      assertThrows(() => writer.reserve(0), RangeError);
    } finally {
      closeFd(prog.fd);
    }
  });
});
