// Stress tests of the syscall layer: many calls, errno on every failure, and buffers that
// are reachable only through an attr surviving forced garbage collection.
import { assert, assertEquals } from "@std/assert";
import { allocBuffer, Attr, bpf, BpfCmd, bpfErrno, closeFd, cString } from "../ffi.ts";
import { Errno } from "../errors.ts";
import { kernelTest, openFdCount, REQUIRE_KERNEL } from "./_harness.ts";

const gc = (globalThis as { gc?: () => void }).gc;

function createArray(valueSize: number, maxEntries: number): number {
  return bpf(
    BpfCmd.MAP_CREATE,
    new Attr().u32(0, 2).u32(4, 4).u32(8, valueSize).u32(12, maxEntries),
  );
}

kernelTest("ffi: 100,000 bpf() calls leak no fd and read errno on every failure", () => {
  const fd = createArray(8, 4);
  try {
    const key = allocBuffer(4);
    const value = allocBuffer(8);
    const attr = new Attr().u32(0, fd).pointer(8, key).pointer(16, value);
    const keys = new DataView(key.buffer);
    const badFd = new Attr().u32(0, 999_999).pointer(8, key).pointer(16, value);
    const before = openFdCount();
    let failures = 0;
    for (let i = 0; i < 100_000; i++) {
      // Every third call names a key past max_entries (ENOENT), every seventh a bad fd
      // (EBADF); the rest succeed. Each failure must carry its own errno.
      const past = i % 3 === 0;
      keys.setUint32(0, past ? 4 + (i % 5) : i % 4, true);
      if (i % 7 === 0) {
        const r = bpfErrno(BpfCmd.MAP_LOOKUP_ELEM, badFd);
        if (r !== -Errno.EBADF) throw new Error(`call ${i}: expected EBADF, got ${r}`);
        failures++;
        continue;
      }
      const r = bpfErrno(BpfCmd.MAP_LOOKUP_ELEM, attr);
      const expected = past ? -Errno.ENOENT : 0;
      if (r !== expected) throw new Error(`call ${i}: expected ${expected}, got ${r}`);
      if (past) failures++;
    }
    assert(failures > 40_000);
    assertEquals(openFdCount(), before);
  } finally {
    closeFd(fd);
  }
});

/** Builds an attr whose key and value buffers are referenced by nothing but the attr. */
function lookupAttr(fd: number, index: number, valueSize: number): Attr {
  const key = allocBuffer(4);
  new DataView(key.buffer).setUint32(0, index, true);
  return new Attr().u32(0, fd).pointer(8, key).pointer(16, allocBuffer(valueSize));
}

/** Allocates and drops buffers of the sizes the freed ones had, to reuse their memory. */
function churn(): number {
  let sum = 0;
  for (let i = 0; i < 2000; i++) {
    const b = new Uint8Array(new ArrayBuffer(64 + (i % 8) * 8));
    b[0] = 0xee;
    sum += b[0];
  }
  return sum;
}

kernelTest("ffi: buffers held only by an attr survive forced GC", () => {
  if (!gc) {
    if (REQUIRE_KERNEL) throw new Error("Run with --v8-flags=--expose-gc");
    return;
  }
  const valueSize = 64;
  const entries = 32;
  const fd = createArray(valueSize, entries);
  try {
    // Fill each slot with a pattern derived from its index.
    for (let i = 0; i < entries; i++) {
      const key = allocBuffer(4);
      new DataView(key.buffer).setUint32(0, i, true);
      const value = allocBuffer(valueSize).fill((i * 7 + 1) & 0xff);
      bpf(BpfCmd.MAP_UPDATE_ELEM, new Attr().u32(0, fd).pointer(8, key).pointer(16, value));
    }
    for (let round = 0; round < 20; round++) {
      const attrs = Array.from({ length: entries }, (_, i) => lookupAttr(fd, i, valueSize));
      gc();
      churn();
      for (const attr of attrs) bpf(BpfCmd.MAP_LOOKUP_ELEM, attr);
      gc();
      churn();
      attrs.forEach((attr, i) => {
        const key = attr.pointee(8)!;
        const value = attr.pointee(16)!;
        assertEquals(new DataView(key.buffer).getUint32(0, true), i, "key intact");
        const want = (i * 7 + 1) & 0xff;
        assert(value.every((b) => b === want), `value of slot ${i} intact in round ${round}`);
      });
    }
  } finally {
    closeFd(fd);
  }
});

kernelTest("ffi: a verifier log buffer held only by an attr survives forced GC", () => {
  if (!gc) {
    if (REQUIRE_KERNEL) throw new Error("Run with --v8-flags=--expose-gc");
    return;
  }
  for (let round = 0; round < 10; round++) {
    const attr = rejectedLoadAttr(16 * 1024);
    gc();
    churn();
    assertEquals(bpfErrno(BpfCmd.PROG_LOAD, attr), -Errno.EACCES);
    gc();
    churn();
    const log = attr.pointee(32)!;
    const text = new TextDecoder().decode(log.subarray(0, log.indexOf(0)));
    assert(text.includes("R0 !read_ok"), `round ${round}: ${text}`);
    // The kernel writes the NUL-terminated log and leaves the rest of the buffer alone.
    assert(log.subarray(log.indexOf(0)).every((b) => b === 0), "log tail untouched");
  }
});

/** A PROG_LOAD attr for "exit" alone, with every buffer reachable only through the attr. */
function rejectedLoadAttr(logSize: number): Attr {
  const insns = allocBuffer(8);
  insns[0] = 0x95; // exit
  return new Attr()
    .u32(0, 1) // socket filter
    .u32(4, 1)
    .pointer(8, insns)
    .pointer(16, cString("GPL"))
    .u32(24, 1)
    .u32(28, logSize)
    .pointer(32, allocBuffer(logSize));
}
