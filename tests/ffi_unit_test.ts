// Unit tests of the syscall layer against a fake kernel, and of the pieces around it.
import { assert, assertEquals, assertInstanceOf, assertThrows } from "@std/assert";
import {
  allocBuffer,
  Attr,
  type Backend,
  bpf,
  BpfCmd,
  bpfCmdName,
  cString,
  parseCpuList,
  possibleCpus,
  setBackend,
} from "../ffi.ts";
import {
  ClosedError,
  errnoName,
  FormatError,
  KeyExistError,
  KeyNotExistError,
  NotSupportedError,
  PermissionError,
  SyscallError,
  VerifierError,
} from "../errors.ts";
import { feature } from "../_internal/feature.ts";
import { FD } from "../_internal/fd.ts";
import { syscallNumbersFor } from "../_internal/syscall_numbers.ts";
import { kernelTest } from "./_harness.ts";

/** A fake kernel: a hash map keyed by u32, enough to drive the error mapping. */
function fakeMapKernel(): Backend & { calls: number[] } {
  const store = new Map<number, Uint8Array>();
  let nextAddress = 0x1000n;
  const calls: number[] = [];
  return {
    calls,
    address: () => (nextAddress += 0x100n),
    bpf(cmd: number, attr: Attr): number {
      calls.push(cmd);
      const key = attr.pointee(8);
      const k = key ? new DataView(key.buffer, key.byteOffset).getUint32(0, true) : -1;
      switch (cmd) {
        case BpfCmd.MAP_CREATE:
          return 42;
        case BpfCmd.MAP_LOOKUP_ELEM: {
          const v = store.get(k);
          if (!v) return -2;
          attr.pointee(16)!.set(v);
          return 0;
        }
        case BpfCmd.MAP_UPDATE_ELEM:
          if (attr.getU64(24) === 1n && store.has(k)) return -17;
          store.set(k, attr.pointee(16)!.slice());
          return 0;
        case BpfCmd.MAP_DELETE_ELEM:
          return store.delete(k) ? 0 : -2;
      }
      return -22;
    },
  };
}

function u32(n: number): Uint8Array {
  const b = allocBuffer(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
}

Deno.test("ffi unit: a fake backend drives bpf() and its error mapping", () => {
  const fake = fakeMapKernel();
  const restore = setBackend(fake);
  try {
    assertEquals(bpf(BpfCmd.MAP_CREATE, new Attr()), 42);
    const value = allocBuffer(4);
    const lookup = new Attr().u32(0, 42).pointer(8, u32(5)).pointer(16, value);
    const missing = assertThrows(() => bpf(BpfCmd.MAP_LOOKUP_ELEM, lookup), KeyNotExistError);
    assertEquals(missing.command, "BPF_MAP_LOOKUP_ELEM");

    const update = new Attr().u32(0, 42).pointer(8, u32(5)).pointer(16, u32(99)).u64(24, 1n);
    bpf(BpfCmd.MAP_UPDATE_ELEM, update);
    assertThrows(() => bpf(BpfCmd.MAP_UPDATE_ELEM, update), KeyExistError);
    bpf(BpfCmd.MAP_LOOKUP_ELEM, lookup);
    assertEquals(new DataView(value.buffer).getUint32(0, true), 99);

    const other = assertThrows(() => bpf(BpfCmd.PROG_LOAD, new Attr()), SyscallError);
    assertEquals(other.code, "EINVAL");
    assert(!(other instanceof KeyNotExistError));
    assertEquals(fake.calls.length, 6);
  } finally {
    restore();
  }
});

Deno.test("ffi unit: ENOENT outside map element commands is a plain SyscallError", () => {
  const restore = setBackend({ bpf: () => -2, address: () => 1n });
  try {
    const e = assertThrows(() => bpf(BpfCmd.OBJ_GET, new Attr()), SyscallError);
    assert(!(e instanceof KeyNotExistError));
    assertEquals(e.message, "BPF_OBJ_GET failed: ENOENT: no such file or directory");
  } finally {
    restore();
  }
});

Deno.test("ffi unit: Attr writes little-endian fields and holds pointed-at buffers", () => {
  const restore = setBackend({ bpf: () => 0, address: () => 0xdead_beef_0000n });
  try {
    const key = allocBuffer(4);
    const attr = new Attr(32).u32(0, 0xffffffff).i32(4, -2).u64(8, 1n << 40n).pointer(16, key);
    assertEquals([...attr.bytes.subarray(0, 8)], [255, 255, 255, 255, 254, 255, 255, 255]);
    assertEquals(attr.getU64(8), 1n << 40n);
    assertEquals(attr.getU64(16), 0xdead_beef_0000n);
    assertEquals(attr.pointee(16), key);
    attr.pointer(16, null);
    assertEquals(attr.getU64(16), 0n);
    assertEquals(attr.pointee(16), undefined);
    attr.pointer(16, key).reset();
    assert(attr.bytes.every((b) => b === 0));
    assertEquals(attr.pointee(16), undefined);
    // An empty buffer has no address to give: NULL.
    attr.pointer(24, new Uint8Array(0));
    assertEquals(attr.getU64(24), 0n);
  } finally {
    restore();
  }
});

Deno.test("ffi unit: cString is NUL-terminated UTF-8", () => {
  assertEquals([...cString("GPL")], [71, 80, 76, 0]);
  assertEquals([...cString("é")], [0xc3, 0xa9, 0]);
});

Deno.test("ffi unit: CPU lists", () => {
  assertEquals(parseCpuList("0\n"), 1);
  assertEquals(parseCpuList("0-1\n"), 2);
  assertEquals(parseCpuList("0-3,8-11"), 12);
  assertEquals(parseCpuList("0,2,5"), 6);
  assertThrows(() => parseCpuList(""), SyntaxError);
  assertThrows(() => parseCpuList("3-1"), SyntaxError);
  assertThrows(() => parseCpuList("a-b"), SyntaxError);
});

Deno.test("ffi unit: possible CPUs match the kernel's list and nproc bounds", () => {
  const text = Deno.readTextFileSync("/sys/devices/system/cpu/possible");
  assertEquals(possibleCpus(), parseCpuList(text));
  assert(possibleCpus() >= navigator.hardwareConcurrency);
});

Deno.test("ffi unit: syscall numbers come from the architecture table", () => {
  assertEquals(syscallNumbersFor("x86_64")?.bpf, 321);
  assertEquals(syscallNumbersFor("aarch64")?.bpf, 280);
  assertEquals(syscallNumbersFor("mips"), undefined);
  assertEquals(bpfCmdName(BpfCmd.PROG_LOAD), "BPF_PROG_LOAD");
  assertEquals(bpfCmdName(99), "bpf command 99");
});

Deno.test("ffi unit: feature probes are memoised per backend, errors are not", () => {
  let runs = 0;
  let answer = false;
  const probe = feature("BPF_FAKE_FEATURE", "9.9", () => {
    runs++;
    return answer;
  });
  const restore = setBackend({ bpf: () => 0, address: () => 0n });
  try {
    assertEquals(probe.supported(), false);
    assertEquals(probe.supported(), false);
    assertEquals(runs, 1);
    const e = assertThrows(() => probe(), NotSupportedError);
    assertEquals(e.feature, "BPF_FAKE_FEATURE");
    assertEquals(e.minKernel, "9.9");
    assertEquals(e.message, "BPF_FAKE_FEATURE is not supported (requires Linux 9.9)");
  } finally {
    restore();
  }
  // Another backend asks again.
  answer = true;
  const restore2 = setBackend({ bpf: () => 0, address: () => 0n });
  try {
    assertEquals(probe.supported(), true);
    assertEquals(runs, 2);
    probe();
  } finally {
    restore2();
  }

  let attempts = 0;
  const failing = feature("BPF_FLAKY", "1.0", () => {
    attempts++;
    throw new PermissionError("no", "CAP_BPF");
  });
  assertThrows(() => failing.supported(), PermissionError);
  assertThrows(() => failing.supported(), PermissionError);
  assertEquals(attempts, 2);
});

Deno.test("ffi unit: error classes carry what callers act on", () => {
  assertEquals(errnoName(1), "EPERM");
  assertEquals(errnoName(524), "ENOTSUPP");
  assertEquals(errnoName(4242), "E4242");
  const format = new FormatError("Truncated section header", 64);
  assertInstanceOf(format, SyntaxError);
  assertEquals(format.offset, 64);
  assertEquals(format.message, "Truncated section header (at byte offset 64)");

  const log = "0: (95) exit\nR0 !read_ok\nprocessed 1 insns (limit 1000000)\n\n";
  const v = new VerifierError("BPF_PROG_LOAD", 13, log, false);
  assertEquals(v.log, ["0: (95) exit", "R0 !read_ok", "processed 1 insns (limit 1000000)"]);
  assert(v.message.endsWith("0: (95) exit\nR0 !read_ok"), v.message);
  assertEquals(new VerifierError("BPF_PROG_LOAD", 22, "", true).log, []);
  assert(new VerifierError("X", 28, "a\nb", true).message.includes("log truncated"));
});

kernelTest("ffi: FD closes once, refuses use after close, and dups", () => {
  const raw = bpf(
    BpfCmd.MAP_CREATE,
    new Attr().u32(0, 2).u32(4, 4).u32(8, 4).u32(12, 1),
  );
  const fd = new FD(raw, "BpfMap");
  const copy = fd.dup();
  assert(copy.raw !== fd.raw);
  fd.close();
  fd.close();
  assert(fd.closed);
  const e = assertThrows(() => fd.raw, ClosedError);
  assertEquals(e.message, "Cannot use BpfMap: it is closed");
  // The duplicate still refers to the map: it can be closed on its own.
  {
    using owned = copy;
    assert(owned.raw > 0);
  }
  assert(copy.closed);
  assertThrows(() => new FD(-1), RangeError);
});
