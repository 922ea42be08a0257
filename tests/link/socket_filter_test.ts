// SO_ATTACH_BPF/SO_DETACH_BPF on a real AF_UNIX datagram socket pair: the kernel runs the
// filter on each message the receiving socket gets, dropping what it returns 0 for. A
// datagram is queued (or dropped) within send(), so a non-blocking recv right after it
// sees the kernel's decision without waiting.
import { assertEquals, assertThrows } from "@std/assert";
import * as asm from "../../asm/mod.ts";
import { ProgramType } from "../../prog/mod.ts";
import { attachSocketFilter, detachSocketFilter } from "../../link/mod.ts";
import { SyscallError } from "../../errors.ts";
import { AF_UNIX, recv, send, SOCK_DGRAM, socketPair } from "./_libc.ts";
import { assertNoFdLeak, kernelTest } from "./_deps.ts";
import { load } from "./_progs.ts";

const { R0, R1, Word } = asm;
const text = (b: Uint8Array) => new TextDecoder().decode(b);
const bytes = (s: string) => new TextEncoder().encode(s);

/** Keeps 4-byte messages (skb->len, at offset 0 of __sk_buff), drops the others. */
function keepFourBytes() {
  return load(
    ProgramType.SocketFilter,
    new asm.Instructions([
      asm.LoadMem(R0, R1, 0, Word),
      asm.JEq.Imm(R0, 4, "keep"),
      asm.Mov.Imm(R0, 0),
      asm.Return(),
      asm.Label("keep"),
      asm.Mov.Imm(R0, -1),
      asm.Return(),
    ]),
  );
}

/** Sends each message from `a` and returns what `b` received of them. */
function through([a, b]: [number, number], ...messages: string[]): string[] {
  const got: string[] = [];
  for (const m of messages) {
    assertEquals(send(a, bytes(m)), m.length, "the sender never sees a filter's drop");
    const r = recv(b);
    if (r.length) got.push(text(r));
  }
  return got;
}

kernelTest(
  "attachSocketFilter: the kernel drops what the filter refuses, until detached",
  async () => {
    await assertNoFdLeak(() => {
      using pair = socketPair(AF_UNIX, SOCK_DGRAM);
      assertEquals(through(pair, "keep", "dropped!"), ["keep", "dropped!"], "no filter yet");
      {
        using prog = keepFourBytes();
        attachSocketFilter(pair[1], prog);
      }
      // The socket holds the program after the Program is closed.
      assertEquals(through(pair, "keep", "dropped!", "four"), ["keep", "four"]);
      // The filter is the receiver's: the other direction passes everything.
      assertEquals(through([pair[1], pair[0]], "back!"), ["back!"]);
      detachSocketFilter(pair[1]);
      assertEquals(through(pair, "keep", "dropped!"), ["keep", "dropped!"]);
      const none = assertThrows(() => detachSocketFilter(pair[1]), SyscallError);
      assertEquals(none.code, "ENOENT");
    });
  },
);

kernelTest("attachSocketFilter refuses other programs and non-sockets", () => {
  using filter = keepFourBytes();
  using xdp = load(ProgramType.XDP, new asm.Instructions([asm.Mov.Imm(R0, 2), asm.Return()]));
  using pair = socketPair(AF_UNIX, SOCK_DGRAM);
  assertThrows(() => attachSocketFilter(pair[0], xdp), TypeError, "use a socket_filter program");
  assertThrows(() => attachSocketFilter(-1, filter), RangeError);
  const file = Deno.openSync("/dev/null");
  try {
    // The fd of /dev/null, found the way Deno hides it: the newest fd in /proc/self/fd.
    const fds = [...Deno.readDirSync("/proc/self/fd")].map((e) => Number(e.name));
    const devNull = fds.filter((fd) => {
      try {
        return Deno.readLinkSync(`/proc/self/fd/${fd}`) === "/dev/null";
      } catch {
        return false;
      }
    });
    const e = assertThrows(() => attachSocketFilter(Math.max(...devNull), filter), SyscallError);
    assertEquals(e.code, "ENOTSOCK");
  } finally {
    file.close();
  }
});
