// Errno names against the C headers (an oracle we did not write): every errno the kernel
// defines for user space has its own name and description, so that no bpf() failure prints
// as "E116: unknown error"; the kernel-internal codes that leak out of bpf() have theirs.
import { assert, assertEquals, assertNotEquals } from "@std/assert";
import { errnoMessage, errnoName, SyscallError } from "../errors.ts";

const HEADERS = ["/usr/include/asm-generic/errno-base.h", "/usr/include/asm-generic/errno.h"];

/** `#define ENAME number` lines of the errno headers, grouped by number. */
function headerErrnos(): Map<number, string[]> {
  const byNumber = new Map<number, string[]>();
  for (const file of HEADERS) {
    for (const m of Deno.readTextFileSync(file).matchAll(/^#define\s+(E\w+)\s+(\d+)\b/gm)) {
      const n = Number(m[2]);
      byNumber.set(n, [...(byNumber.get(n) ?? []), m[1]]);
    }
  }
  return byNumber;
}

Deno.test("errno names: every errno of the C headers has its name and a description", () => {
  const errnos = headerErrnos();
  assert(errnos.size > 120, `only ${errnos.size} errnos parsed from ${HEADERS}`);
  for (const [n, names] of errnos) {
    assert(names.includes(errnoName(n)), `${n}: ${errnoName(n)} is not one of ${names}`);
    assert(!errnoMessage(n).startsWith("unknown"), `${n}: ${errnoMessage(n)}`);
  }
});

Deno.test("errno names: the codes the issue saw, and kernel-internal ones", () => {
  const want: [number, string][] = [
    [116, "ESTALE"],
    [74, "EBADMSG"],
    [33, "EDOM"],
    [31, "EMLINK"],
    [40, "ELOOP"],
    [6, "ENXIO"],
    // include/linux/errno.h: never in libc, but bpf() returns them.
    [512, "ERESTARTSYS"],
    [524, "ENOTSUPP"],
    [525, "ETOOSMALL"],
  ];
  for (const [n, name] of want) {
    assertEquals(errnoName(n), name);
    assertNotEquals(errnoMessage(n), `unknown error ${n}`);
  }
  const e = new SyscallError("BPF_LINK_CREATE", 116);
  assertEquals(e.message, "BPF_LINK_CREATE failed: ESTALE: stale file handle");
  assertEquals(errnoName(4242), "E4242");
});
