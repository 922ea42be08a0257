// Kernel tests of kprobe_multi and kprobe.session links: programs of
// testdata/link_kprobe_multi.c on this process's getpid/getppid syscalls, their runs counted
// in a map per attach cookie, and the link's info checked against /proc/kallsyms.
import { assert, assertEquals } from "@std/assert";
import { attachKprobeMulti, type KprobeMultiLink, linkFeatureMissing } from "../../link/mod.ts";
import { type Collection, newCollection } from "../../prog/mod.ts";
import { assertNoFdLeak, ensureTracefs, kernelAtLeast, kernelTest, testdata } from "../_harness.ts";
import { getpid } from "./_deps.ts";
import { loadSpec } from "../prog/_elf_loader.ts";
import type { BpfMap } from "../../map/mod.ts";

const libc = Deno.dlopen("libc.so.6", { getppid: { parameters: [], result: "i32" } });
const GETPID = "__x64_sys_getpid";
const GETPPID = "__x64_sys_getppid";
const SESSION = { entries: 8, returns: 9, cookieKept: 10 };

/** Loads the named programs of the testdata object, counting for this process only. */
async function load(...only: string[]): Promise<Collection> {
  const coll = newCollection(await loadSpec(testdata("link_kprobe_multi-el.o")), { only });
  const tgid = new Uint8Array(8);
  new DataView(tgid.buffer).setBigUint64(0, BigInt(Deno.pid), true);
  coll.maps.config.update(0, tgid);
  return coll;
}

/** The u64 at `index` of a map, as bytes: the object's maps have BTF and decode values. */
function count(map: BpfMap, index: number): bigint {
  const v = map.lookupBytes(index);
  if (!v) throw new Error(`No counter ${index}`);
  return new DataView(v.buffer, v.byteOffset, 8).getBigUint64(0, true);
}

function calls(getpids: number, getppids: number): void {
  for (let i = 0; i < getpids; i++) getpid();
  for (let i = 0; i < getppids; i++) libc.symbols.getppid();
}

/** The address of a text symbol in /proc/kallsyms. */
function kallsyms(name: string): bigint {
  const m = new RegExp(`^([0-9a-f]+) [tT] ${name}$`, "m").exec(
    Deno.readTextFileSync("/proc/kallsyms"),
  );
  if (!m) throw new Error(`${name} is not in /proc/kallsyms`);
  return BigInt(`0x${m[1]}`);
}

/** Asserts `n` ≤ hits < `n` + 5: the process's other threads may make a few calls too. */
function assertAbout(hits: bigint, n: number, what: string): void {
  assert(hits >= BigInt(n) && hits < BigInt(n + 5), `${what}: ${hits} hits for ${n} calls`);
}

const x86 = () => Deno.build.arch === "x86_64" ? undefined : "syscall symbols are x86_64's";
const multiMissing = () => x86() ?? linkFeatureMissing("kprobeMulti");

kernelTest(
  "kprobe_multi: one program on getpid and getppid counts each per cookie; info agrees " +
    "with kallsyms; nothing after close",
  async () => {
    await assertNoFdLeak(async () => {
      using coll = await load("count_entry");
      const hits = coll.maps.hits;
      const link: KprobeMultiLink = attachKprobeMulti(coll.programs.count_entry, {
        symbols: [GETPID, GETPPID],
        cookies: [1n, 2n],
      });
      try {
        calls(40, 7);
        assertAbout(count(hits, 1), 40, "getpid, cookie 1");
        assertAbout(count(hits, 2), 7, "getppid, cookie 2");
        assertEquals(count(hits, 0), 0n, "every run had a cookie");
        const info = link.info();
        if (info.details.kind !== "kprobe_multi") throw new Error(`${info.details.kind} link`);
        if (kernelAtLeast("6.6")) {
          // Sorted by address, cookies following their functions (cookies from 6.9).
          const want = [[kallsyms(GETPID), 1n], [kallsyms(GETPPID), 2n]]
            .sort((a, b) => a[0] < b[0] ? -1 : 1);
          assertEquals(info.details.count, 2);
          assertEquals(info.details.addresses, want.map((p) => p[0]));
          if (kernelAtLeast("6.9")) assertEquals(info.details.cookies, want.map((p) => p[1]));
        }
      } finally {
        link.close();
      }
      const before = count(hits, 1);
      calls(10, 0);
      assertEquals(count(hits, 1), before, "a closed link runs nothing");
    });
  },
  { skipIf: multiMissing },
);

kernelTest("kprobe_multi: attaches by address as by symbol", async () => {
  using coll = await load("count_entry");
  using _link = attachKprobeMulti(coll.programs.count_entry, {
    addresses: [kallsyms(GETPPID)],
    cookies: [3n],
  });
  calls(0, 12);
  assertAbout(count(coll.maps.hits, 3), 12, "getppid by address");
}, { skipIf: multiMissing });

kernelTest("kprobe_multi: a pattern attaches every function it matches", async () => {
  // Debian's 6.18 lists the syscalls' __do_sys_ bodies in available_filter_functions, not
  // their __x64_sys_ wrappers (which attach by name all the same).
  const pattern = "__do_sys_getp*id";
  const listed = Deno.readTextFileSync(`${ensureTracefs()}/available_filter_functions`)
    .split("\n").map((l) => l.split(" ")[0]).filter((n) => /^__do_sys_getp.*id$/.test(n));
  assert(listed.includes("__do_sys_getpid") && listed.includes("__do_sys_getppid"), `${listed}`);
  using coll = await load("count_entry");
  using link = attachKprobeMulti(coll.programs.count_entry, { pattern });
  calls(20, 9);
  assertAbout(count(coll.maps.hits, 0), 29, "getpid and getppid through the pattern");
  const info = link.info();
  if (info.details.kind !== "kprobe_multi") throw new Error(`${info.details.kind} link`);
  assertEquals(info.details.count, new Set(listed).size);
  if (kernelAtLeast("6.6")) {
    const want = [...new Set(listed)].map(kallsyms).sort((a, b) => a < b ? -1 : 1);
    assertEquals(info.details.addresses, want);
  }
}, { skipIf: multiMissing });

kernelTest("kretprobe_multi: counts returns of getpid", async () => {
  using coll = await load("count_return");
  using link = attachKprobeMulti(coll.programs.count_return, {
    symbols: [GETPID],
    cookies: [4n],
    return: true,
  });
  calls(25, 0);
  assertAbout(count(coll.maps.hits, 4), 25, "getpid returns");
  const info = link.info();
  if (info.details.kind !== "kprobe_multi") throw new Error(`${info.details.kind} link`);
  if (kernelAtLeast("6.6")) assertEquals(info.details.addresses, [kallsyms(GETPID)]);
}, { skipIf: multiMissing });

kernelTest(
  "kprobe.session: one program runs at entry and at return of getpid, the return run " +
    "finding the cookie its entry stored",
  async () => {
    using coll = await load("session");
    using _link = attachKprobeMulti(coll.programs.session, { symbols: [GETPID], session: true });
    calls(30, 0);
    const hits = coll.maps.hits;
    const entries = count(hits, SESSION.entries);
    assertAbout(entries, 30, "session entries");
    // Our entries return 0 (run at return too); the other processes' return 1 (skip).
    assertEquals(count(hits, SESSION.returns), entries, "one return run per entry");
    assertEquals(count(hits, SESSION.cookieKept), entries, "each return saw its entry's cookie");
  },
  { skipIf: () => x86() ?? linkFeatureMissing("kprobeSession") },
);
