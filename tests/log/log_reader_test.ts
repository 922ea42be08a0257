// Typed logs end to end: testdata/log_kinds.c logs every argument kind include/ebpf_log.h
// supports from the values this test passes in the syscall program's context; the records
// read back must say what the documented formats make of those values. Oracles nobody here
// wrote: the WHATWG URL parser for IPv4/IPv6 text (RFC 5952), bpftool for enum names, the
// C source for line numbers.
import { assert, assertEquals } from "@std/assert";
import { kernelTest, run, testdata } from "../_harness.ts";
import {
  btf,
  FormatError,
  formatLogRecord,
  LogLevel,
  LogReader,
  type LogRecord,
  newCollection,
  parseCollectionSpec,
  parseLogFormats,
} from "../../mod.ts";

const OBJECT = testdata("log_kinds-el.o");
const bytes = Deno.readFileSync(OBJECT);

/** Offsets and sizes of `struct log_input`'s members, from the object's BTF. */
function inputLayout(): { size: number; at: Record<string, [number, number]> } {
  const spec = parseCollectionSpec(bytes);
  const s = spec.types!.typeByName("log_input", btf.Struct)!;
  const at: Record<string, [number, number]> = {};
  for (const m of s.members) at[m.name] = [m.offset / 8, btf.sizeof(m.type)];
  return { size: s.size, at };
}

/** The enum's names by value, as bpftool prints them. */
function enumNames(): Map<bigint, string> {
  const text = run("bpftool", ["btf", "dump", "file", OBJECT]);
  const block = text.slice(text.indexOf("ENUM 'log_color'")).split("\n[")[0];
  const names = new Map<bigint, string>();
  for (const m of block.matchAll(/'(\w+)' val=(-?\d+)/g)) names.set(BigInt(m[2]), m[1]);
  return names;
}

/**
 * The 1-based line where the call whose format starts with `head` ends (`__LINE__` in a
 * macro call over several lines), from the source.
 */
function lineOf(head: string): number {
  const lines = Deno.readTextFileSync(testdata("log_kinds.c")).split("\n");
  const start = lines.findIndex((l) => l.includes(`("${head}`));
  return lines.findIndex((l, i) => i >= start && l.trimEnd().endsWith(");")) + 1;
}

Deno.test("parseLogFormats: call sites, levels, lines and argument kinds of log_kinds", () => {
  for (const file of ["log_kinds-el.o", "log_kinds-eb.o"]) {
    const formats = [...parseLogFormats(Deno.readFileSync(testdata(file)))];
    assertEquals(formats.map((f) => [f.function, f.level, f.line]), [
      ["log_kinds", LogLevel.Info, lineOf("u8=")],
      ["log_kinds", LogLevel.Warn, lineOf("u32=")],
      ["log_kinds", LogLevel.Debug, lineOf("hex")],
      ["log_kinds", LogLevel.Error, lineOf("name=")],
      ["log_kinds", LogLevel.Trace, lineOf("ip4=")],
      ["log_kinds", LogLevel.Info, lineOf("no arguments")],
    ], file);
    assertEquals(
      formats.map((f) => f.args.map((a) => `${a.kind}${a.kind === "int" ? a.size * 8 : ""}`)),
      [
        ["int8", "int8", "int16", "int16"],
        ["int32", "int32", "int64", "int64"],
        ["int32", "int64", "bool"],
        ["str", "str", "pointer"],
        ["ipv4", "ipv6", "mac", "enum"],
        [],
      ],
      file,
    );
    assertEquals(formats[0].args.map((a) => a.signed), [false, true, false, true]);
  }
});

Deno.test("parseLogFormats: an object without typed logs has none", () => {
  assertEquals(parseLogFormats(Deno.readFileSync(testdata("asm_calls-el.o"))).size, 0);
});

/** `bytes` with the first `from` after `after` replaced by `to` (same length). */
function patched(after: string, from: string, to: string): Uint8Array {
  const copy = bytes.slice();
  const text = new TextDecoder("latin1").decode(copy);
  const at = text.indexOf(from, text.indexOf(after));
  assert(at >= 0 && from.length === to.length);
  copy.set(new TextEncoder().encode(to), at);
  return copy;
}

Deno.test("parseLogFormats: a format that does not match its arguments is a FormatError", () => {
  const cases: [string, string, string, RegExp][] = [
    ["u8={} s8=", "{} s8", "xx s8", /3 placeholders for 4 arguments/],
    ["u8={} s8=", "{} s8", "{:q}8", /unknown placeholder \{:q\}/],
    ["name={} user=", "name={}", "name={x", /unclosed '\{'|unknown placeholder/],
    ["ip4={} ip6=", "4={} ", "{:x} ", /\{:x\} for a ipv4 argument/],
    ["no arguments", "no arg", "no }rg", /unmatched '\}'/],
  ];
  for (const [after, from, to, message] of cases) {
    let error: unknown;
    try {
      parseLogFormats(patched(after, from, to));
    } catch (e) {
      error = e;
    }
    assert(error instanceof FormatError, `${to}: ${error}`);
    assert(message.test((error as Error).message), (error as Error).message);
  }
});

const textEncoder = new TextEncoder();

interface Inputs {
  ints: Record<string, bigint>;
  flag: boolean;
  name: string;
  user: string;
  ip4: Uint8Array;
  ip6: Uint8Array;
  mac: Uint8Array;
  color: bigint;
}

function randomInputs(round: number, colors: bigint[]): Inputs {
  const r = crypto.getRandomValues(new Uint8Array(72));
  const v = new DataView(r.buffer);
  const ip6 = r.slice(32, 48);
  // Runs of zero groups where RFC 5952 compresses, at a different place each round.
  ip6.fill(0, 2 + 2 * round, 8 + 4 * round);
  return {
    ints: {
      u8: BigInt(v.getUint8(0)),
      s8: BigInt(v.getInt8(1)),
      u16: BigInt(v.getUint16(2)),
      s16: BigInt(v.getInt16(4)),
      u32: BigInt(v.getUint32(8)),
      s32: BigInt(v.getInt32(12)),
      u64: v.getBigUint64(16),
      s64: v.getBigInt64(24),
      ptr: v.getBigUint64(48),
    },
    flag: (r[6] & 1) === 1,
    name: `kernel-${round}-${r[7]}`,
    user: `user space ${round} ✓`,
    ip4: r.slice(56, 60),
    ip6,
    mac: r.slice(64, 70),
    color: colors[round % colors.length],
  };
}

/** The context bytes for `inputs`, laid out as the object's BTF says. */
function context(inputs: Inputs, userName: Uint8Array): Uint8Array {
  const { size, at } = inputLayout();
  const ctx = new Uint8Array(size);
  const v = new DataView(ctx.buffer);
  const little = true;
  for (const [name, value] of Object.entries(inputs.ints)) {
    const [off, n] = at[name];
    if (n === 1) v.setUint8(off, Number(BigInt.asUintN(8, value)));
    if (n === 2) v.setUint16(off, Number(BigInt.asUintN(16, value)), little);
    if (n === 4) v.setUint32(off, Number(BigInt.asUintN(32, value)), little);
    if (n === 8) v.setBigUint64(off, BigInt.asUintN(64, value), little);
  }
  v.setBigUint64(
    at.user_name[0],
    BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(userName))),
    little,
  );
  ctx.set(inputs.ip4, at.ip4[0]); // network order: the bytes as written
  ctx.set(inputs.ip6, at.ip6[0]);
  ctx.set(inputs.mac, at.mac[0]);
  v.setUint32(at.color[0], Number(inputs.color), little);
  v.setUint8(at.flag[0], inputs.flag ? 1 : 0);
  ctx.set(textEncoder.encode(inputs.name), at.name[0]);
  return ctx;
}

/** What each call site must print, from the documented formats. */
function expected(i: Inputs, names: Map<bigint, string>): string[] {
  const n = i.ints;
  const hex = (x: bigint, bits: number) => BigInt.asUintN(bits, x).toString(16);
  const ip6 = [...i.ip6].map((b) => b.toString(16).padStart(2, "0")).join("")
    .replace(/(.{4})(?!$)/g, "$1:");
  return [
    `u8=${n.u8} s8=${n.s8} u16=${n.u16} s16=${n.s16}`,
    `u32=${n.u32} s32=${n.s32} u64=${n.u64} s64=${n.s64}`,
    `hex ${hex(n.u32, 32)} ${hex(n.u64, 64).toUpperCase()} flag=${i.flag} {braces}`,
    `name=${i.name} user=${i.user} ptr=0x${n.ptr.toString(16).padStart(16, "0")}`,
    `ip4=${
      new URL(`http://${new DataView(i.ip4.buffer, i.ip4.byteOffset).getUint32(0)}/`).hostname
    } ` +
    `ip6=${new URL(`http://[${ip6}]/`).hostname.slice(1, -1)} ` +
    `mac=${[...i.mac].map((b) => b.toString(16).padStart(2, "0")).join(":")} ` +
    `color=${names.get(i.color)}`,
    "no arguments",
  ];
}

kernelTest("LogReader: records of every argument kind read back as the formats say", async () => {
  const names = enumNames();
  assertEquals([...names.values()], ["LOG_RED", "LOG_GREEN", "LOG_BLUE"]);
  using coll = newCollection(parseCollectionSpec(bytes));
  using logs = new LogReader(coll.maps.ebpf_logs, parseLogFormats(bytes));
  const prog = coll.programs.log_kinds;
  let lastTs = 0n;
  for (let round = 0; round < 3; round++) {
    const inputs = randomInputs(round, [...names.keys()]);
    const userName = textEncoder.encode(`${inputs.user}\0`);
    assertEquals(prog.run({ context: context(inputs, userName) }).retval, 0);
    const got: LogRecord[] = [];
    for await (const r of logs) {
      got.push(r);
      if (got.length === 6) break;
    }
    assertEquals(got.map((r) => r.message), expected(inputs, names), `round ${round}`);
    assertEquals(got.map((r) => r.levelName), ["INFO", "WARN", "DEBUG", "ERROR", "TRACE", "INFO"]);
    for (const r of got) {
      assertEquals(r.function, "log_kinds");
      assert(r.timestampNs >= lastTs && r.timestampNs > 0n);
      lastTs = r.timestampNs;
      assert(r.cpu >= 0 && r.cpu < navigator.hardwareConcurrency);
      assert(
        new RegExp(`^\\d+\\.\\d{6} ${r.levelName} log_kinds: `).test(formatLogRecord(r)),
        formatLogRecord(r),
      );
    }
    assertEquals(got[4].values[1], inputs.ip6);
    assertEquals(logs.drain(() => {}), 0);
  }
});

Deno.test("parseLogFormats: corrupt sections and BTF give a FormatError or a table, never more", () => {
  // A few random bytes anywhere (section data, BTF, headers), a run of 0xff, or a truncation.
  const seed = crypto.getRandomValues(new Uint32Array(1))[0];
  let state = seed;
  const next = () => (state = (state * 1103515245 + 12345) >>> 0);
  for (let i = 0; i < 500; i++) {
    const copy = bytes.slice();
    for (let n = 1 + (next() % 4); n > 0; n--) copy[next() % copy.length] = next() & 0xff;
    if (i % 5 === 0) copy.fill(0xff, next() % copy.length, (next() % copy.length) + 8);
    try {
      parseLogFormats(i % 50 === 49 ? copy.subarray(0, next() % copy.length) : copy);
    } catch (e) {
      assert(e instanceof FormatError, `seed ${seed}, round ${i}: ${(e as Error).stack}`);
    }
  }
});
