// The non-bpf system calls of ffi.ts against the real kernel: mmap, epoll and eventfd,
// perf_event_open and ioctl, pid and tid.
import { assert, assertEquals, assertThrows } from "@std/assert";
import {
  allocBuffer,
  Attr,
  bpf,
  BpfCmd,
  closeFd,
  dupFd,
  epollCreate,
  EpollCtl,
  epollCtl,
  epollWait,
  eventFd,
  getpid,
  gettid,
  ioctl,
  kernelBackend,
  mmap,
  munmap,
  perfEventOpen,
  readFd,
  writeFd,
} from "../ffi.ts";
import { Errno, SyscallError } from "../errors.ts";
import { assertNoFdLeak, kernelTest, run } from "./_harness.ts";

const PROT_READ = 1;
const PROT_WRITE = 2;
const MAP_SHARED = 1;
const BPF_F_MMAPABLE = 1 << 10;

kernelTest("ffi: mmap of an mmapable ARRAY map is a live view", async () => {
  await assertNoFdLeak(() => {
    const fd = bpf(
      BpfCmd.MAP_CREATE,
      new Attr().u32(0, 2).u32(4, 4).u32(8, 8).u32(12, 512).u32(16, BPF_F_MMAPABLE),
    );
    try {
      const mapping = mmap(4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
      const view = new BigUint64Array(mapping.buffer);
      const key = allocBuffer(4);
      new DataView(key.buffer).setUint32(0, 3, true);
      const value = allocBuffer(8);
      new DataView(value.buffer).setBigUint64(0, 0xabcdefn, true);
      bpf(BpfCmd.MAP_UPDATE_ELEM, new Attr().u32(0, fd).pointer(8, key).pointer(16, value));
      assertEquals(view[3], 0xabcdefn, "a syscall update shows in the mapping");

      view[5] = 77n;
      new DataView(key.buffer).setUint32(0, 5, true);
      const out = allocBuffer(8);
      bpf(BpfCmd.MAP_LOOKUP_ELEM, new Attr().u32(0, fd).pointer(8, key).pointer(16, out));
      assertEquals(new DataView(out.buffer).getBigUint64(0, true), 77n, "a store shows in lookups");

      munmap(mapping);
      assertEquals(mapping.buffer.byteLength, 0, "the buffer is detached before munmap");
    } finally {
      closeFd(fd);
    }
  });
});

kernelTest("ffi: mmap failure is a SyscallError, not a null view", () => {
  const e = assertThrows(() => mmap(4096, PROT_READ, MAP_SHARED, 999_999), SyscallError);
  assertEquals(e.errno, Errno.EBADF);
  assertEquals(e.command, "mmap");
});

kernelTest("ffi: a nonblocking epoll wait wakes on an eventfd and times out", async () => {
  await assertNoFdLeak(async () => {
    const ep = epollCreate();
    const ev = eventFd();
    try {
      epollCtl(ep, EpollCtl.ADD, ev, 0x001, /* EPOLLIN */ 0x1234_5678_9abcn);
      const events = allocBuffer(16 * 4);
      assertEquals(await epollWait(ep, events, 4, 10), 0, "nothing ready: times out");

      // Wake it from a timer while the wait is pending: the event loop must stay free.
      const one = allocBuffer(8);
      new DataView(one.buffer).setBigUint64(0, 1n, true);
      const timer = setTimeout(() => writeFd(ev, one), 20);
      const n = await epollWait(ep, events, 4, 5000);
      clearTimeout(timer);
      assertEquals(n, 1);
      const dataOffset = Deno.build.arch === "x86_64" ? 4 : 8;
      assertEquals(new DataView(events.buffer).getBigUint64(dataOffset, true), 0x1234_5678_9abcn);

      const counter = allocBuffer(8);
      assertEquals(readFd(ev, counter), 8);
      assertEquals(new DataView(counter.buffer).getBigUint64(0, true), 1n);
      assertEquals(readFd(ev, counter), -Errno.EAGAIN, "drained nonblocking eventfd");
      epollCtl(ep, EpollCtl.DEL, ev, 0, 0n);
    } finally {
      closeFd(ev);
      closeFd(ep);
    }
  });
});

kernelTest("ffi: perf_event_open counts task clock and ioctl disables it", async () => {
  await assertNoFdLeak(() => {
    const attr = allocBuffer(128);
    const v = new DataView(attr.buffer);
    v.setUint32(0, 1, true); // PERF_TYPE_SOFTWARE
    v.setUint32(4, 128, true); // size
    v.setBigUint64(8, 1n, true); // PERF_COUNT_SW_TASK_CLOCK
    const fd = perfEventOpen(attr, { pid: 0, cpu: -1 });
    try {
      let x = 0;
      for (let i = 0; i < 1_000_000; i++) x += i % 7;
      assert(x > 0);
      const count = allocBuffer(8);
      assertEquals(readFd(fd, count), 8);
      const first = new DataView(count.buffer).getBigUint64(0, true);
      assert(first > 0n, "task clock advanced");

      ioctl(fd, 0x2401n); // PERF_EVENT_IOC_DISABLE
      readFd(fd, count);
      const stopped = new DataView(count.buffer).getBigUint64(0, true);
      for (let i = 0; i < 1_000_000; i++) x += i % 7;
      readFd(fd, count);
      assertEquals(new DataView(count.buffer).getBigUint64(0, true), stopped, "disabled: frozen");

      const dup = dupFd(fd, 100);
      assert(dup >= 100);
      closeFd(dup);
      assertThrows(() => ioctl(fd, 0xdead_0000n), SyscallError);
    } finally {
      closeFd(fd);
    }
  });
});

kernelTest("ffi: getpid and gettid", () => {
  assertEquals(getpid(), Deno.pid);
  // Deno may run JavaScript on a thread other than the process's first one.
  const tid = gettid();
  assert(Deno.statSync(`/proc/self/task/${tid}`).isDirectory, `thread ${tid} is ours`);
});

kernelTest("ffi: closeFd closes the fd it is given, and no other", () => {
  const keep = eventFd();
  const fd = eventFd();
  try {
    assert(Deno.readLinkSync(`/proc/self/fd/${fd}`).includes("eventfd"));
    closeFd(fd);
    assertThrows(() => Deno.readLinkSync(`/proc/self/fd/${fd}`), Deno.errors.NotFound);
    assert(Deno.readLinkSync(`/proc/self/fd/${keep}`).includes("eventfd"), "the other stays");
  } finally {
    closeFd(keep);
  }
});

kernelTest("ffi: buffer addresses are Deno's, before and after memset is bound", () => {
  // The backend takes its first addresses with UnsafePointer.of and later ones with
  // memset(buf, 0, 0): enough calls to cross over, on a view that starts inside its buffer.
  const buffer = new ArrayBuffer(64);
  const view = new Uint8Array(buffer, 24, 8);
  const want = Deno.UnsafePointer.value(Deno.UnsafePointer.of(view));
  assertEquals(want - Deno.UnsafePointer.value(Deno.UnsafePointer.of(new Uint8Array(buffer))), 24n);
  for (let i = 0; i < 40; i++) assertEquals(kernelBackend.address(view), want, `call ${i}`);
});

kernelTest("ffi: the first bpf() and close() calls of a process and the later ones agree", () => {
  // A fresh process: the first calls go through syscall(2)'s address, the later ones through
  // its trampoline; the kernel's errno of each must arrive either way.
  const fixture = new URL("./fixtures/first_syscalls.ts", import.meta.url).pathname;
  const out = JSON.parse(run(Deno.execPath(), ["run", "-A", fixture]));
  assertEquals(out.errnos.length, 40);
  out.errnos.forEach((errno: number, i: number) =>
    assertEquals(errno, i % 2 === 0 ? Errno.EBADF : Errno.EINVAL, `call ${i}`)
  );
  assertEquals(out.closed, Array(40).fill(true));
});
