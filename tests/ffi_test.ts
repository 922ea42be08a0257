// Kernel tests of ffi.ts alone: raw bpf_attr structs, no higher layer.
import { assert, assertEquals, assertInstanceOf, assertThrows } from "@std/assert";
import { allocBuffer, Attr, bpf, BpfCmd, closeFd } from "../ffi.ts";
import { KeyExistError, KeyNotExistError, SyscallError, VerifierError } from "../errors.ts";
import { assertNoFdLeak, kernelTest } from "./_harness.ts";
import { insn, loadRaw, Op, testRun } from "./_raw_prog.ts";

const BPF_MAP_TYPE_HASH = 1;
const BPF_MAP_TYPE_ARRAY = 2;
const BPF_PROG_TYPE_SOCKET_FILTER = 1;
const BPF_ANY = 0n;
const BPF_NOEXIST = 1n;

function createMap(type: number, keySize: number, valueSize: number, maxEntries: number) {
  const attr = new Attr().u32(0, type).u32(4, keySize).u32(8, valueSize).u32(12, maxEntries);
  return bpf(BpfCmd.MAP_CREATE, attr);
}

function u32(n: number): Uint8Array {
  const b = allocBuffer(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
}

function u64(n: bigint): Uint8Array {
  const b = allocBuffer(8);
  new DataView(b.buffer).setBigUint64(0, n, true);
  return b;
}

function update(fd: number, key: Uint8Array, value: Uint8Array, flags: bigint) {
  const attr = new Attr().u32(0, fd).pointer(8, key).pointer(16, value).u64(24, flags);
  bpf(BpfCmd.MAP_UPDATE_ELEM, attr);
}

function lookup(fd: number, key: Uint8Array, valueSize: number): Uint8Array {
  const value = allocBuffer(valueSize);
  const attr = new Attr().u32(0, fd).pointer(8, key).pointer(16, value);
  bpf(BpfCmd.MAP_LOOKUP_ELEM, attr);
  return value;
}

const loadSocketFilter = (program: number[][], logSize = 0) =>
  loadRaw(BPF_PROG_TYPE_SOCKET_FILTER, program, logSize);
const { MOV64_IMM, LDX_W, EXIT } = Op;
const ALU64_ADD_IMM = Op.ADD64_IMM;

kernelTest("ffi: ARRAY map update and lookup with raw attrs", async () => {
  await assertNoFdLeak(() => {
    const fd = createMap(BPF_MAP_TYPE_ARRAY, 4, 8, 4);
    try {
      update(fd, u32(2), u64(0x1122334455667788n), BPF_ANY);
      const got = new DataView(lookup(fd, u32(2), 8).buffer).getBigUint64(0, true);
      assertEquals(got, 0x1122334455667788n);
      // Array slots exist from the start and read as zero.
      assertEquals(new DataView(lookup(fd, u32(3), 8).buffer).getBigUint64(0, true), 0n);
      // An index past max_entries is ENOENT, as for a missing hash key.
      assertThrows(() => lookup(fd, u32(4), 8), KeyNotExistError);
      // Arrays refuse NOEXIST: every slot already exists.
      assertThrows(() => update(fd, u32(0), u64(1n), BPF_NOEXIST), KeyExistError);
    } finally {
      closeFd(fd);
    }
  });
});

kernelTest("ffi: HASH map gives KeyNotExistError and KeyExistError", async () => {
  await assertNoFdLeak(() => {
    const fd = createMap(BPF_MAP_TYPE_HASH, 4, 4, 16);
    try {
      const e = assertThrows(() => lookup(fd, u32(7), 4), KeyNotExistError);
      assertEquals(e.errno, 2);
      assertEquals(e.code, "ENOENT");
      assertEquals(e.command, "BPF_MAP_LOOKUP_ELEM");
      assertInstanceOf(e, SyscallError);

      update(fd, u32(7), u32(700), BPF_NOEXIST);
      assertEquals(new DataView(lookup(fd, u32(7), 4).buffer).getUint32(0, true), 700);
      const exists = assertThrows(() => update(fd, u32(7), u32(1), BPF_NOEXIST), KeyExistError);
      assertEquals(exists.code, "EEXIST");
      // The failed update left the value alone.
      assertEquals(new DataView(lookup(fd, u32(7), 4).buffer).getUint32(0, true), 700);

      const del = new Attr().u32(0, fd).pointer(8, u32(7));
      bpf(BpfCmd.MAP_DELETE_ELEM, del);
      assertThrows(() => bpf(BpfCmd.MAP_DELETE_ELEM, del), KeyNotExistError);
    } finally {
      closeFd(fd);
    }
  });
});

kernelTest("ffi: a hand-encoded socket filter loads and test-runs", async () => {
  await assertNoFdLeak(() => {
    const constant = loadSocketFilter([insn(MOV64_IMM, 0, 0, 0, 42), insn(EXIT, 0, 0, 0, 0)]);
    assert(constant.fd > 0, `load failed: errno ${constant.errno}`);
    try {
      assertEquals(testRun(constant.fd, new Uint8Array(64)).retval, 42);
    } finally {
      closeFd(constant.fd);
    }

    // r0 = skb->len + 1: the kernel builds an skb from the data and pulls the 14-byte
    // Ethernet header before a socket filter sees it.
    const len = loadSocketFilter([
      insn(LDX_W, 0, 1, 0, 0),
      insn(ALU64_ADD_IMM, 0, 0, 0, 1),
      insn(EXIT, 0, 0, 0, 0),
    ]);
    assert(len.fd > 0, `load failed: errno ${len.errno}`);
    try {
      for (const size of [64, 100, 1000]) {
        const data = allocBuffer(size);
        assertEquals(testRun(len.fd, data).retval, size - 14 + 1);
      }
    } finally {
      closeFd(len.fd);
    }
  });
});

kernelTest("ffi: a rejected program yields the verifier's log", () => {
  // exit without setting r0: the verifier refuses to return an uninitialised register.
  const rejected = loadSocketFilter([insn(EXIT, 0, 0, 0, 0)], 64 * 1024);
  assertEquals(rejected.fd, -1);
  assertEquals(rejected.errno, 13, "EACCES is the verifier's answer");
  assert(rejected.log.includes("R0 !read_ok"), rejected.log);

  const err = new VerifierError("BPF_PROG_LOAD", rejected.errno, rejected.log, false);
  assert(err.message.includes("R0 !read_ok"), err.message);
  assert(err.log.length >= 2);
  assertEquals(err.log.at(-1)?.startsWith("processed"), true);
});
