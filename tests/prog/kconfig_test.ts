import { assert, assertEquals, assertThrows } from "@std/assert";
import { gunzipSync, gzipSync } from "node:zlib";
import {
  Array as BtfArray,
  Const,
  Datasec,
  Enum,
  EnumValue,
  Int,
  IntEncoding,
  Struct,
  Typedef,
  Volatile,
} from "../../btf/mod.ts";
import {
  kconfigStorage,
  kernelConfig,
  kernelVersionCode,
  linuxVersionCode,
  parseU64,
  readKernelConfig,
  writeKconfig,
} from "../../prog/_kconfig.ts";
import { newCollection } from "../../prog/mod.ts";
import { NotSupportedError } from "../../errors.ts";
import { kernelTest, run, testdata } from "../_harness.ts";
import { loadSpec, noElfReader } from "./_elf_loader.ts";

Deno.test("kernelVersionCode follows KERNEL_VERSION() and caps the patch level", () => {
  assertEquals(kernelVersionCode("6.18.44-fc-v769"), (6 << 16) + (18 << 8) + 44);
  assertEquals(kernelVersionCode("5.4.300"), (5 << 16) + (4 << 8) + 255);
  assertEquals(kernelVersionCode("6.1"), (6 << 16) + (1 << 8));
  assertThrows(() => kernelVersionCode("linux"), Error);
});

Deno.test("kconfig values are encoded by their BTF type", () => {
  const cfg = kernelConfig();
  cfg.set("CONFIG_T_Y", "y");
  cfg.set("CONFIG_T_M", "m");
  cfg.set("CONFIG_T_NUM", "0x10");
  cfg.set("CONFIG_T_STR", '"hello"');
  const out = new Uint8Array(32);
  const tristate = new Enum("libbpf_tristate", 4, [
    new EnumValue("TRI_NO", 0n),
    new EnumValue("TRI_YES", 1n),
    new EnumValue("TRI_MODULE", 2n),
  ]);
  const bool = new Int("_Bool", 1, IntEncoding.Bool);
  const u32 = new Int("unsigned int", 4);
  const str = new BtfArray(new Int("char", 1, IntEncoding.Signed), u32, 8);
  writeKconfig("CONFIG_T_M", tristate, out, 0);
  writeKconfig("CONFIG_T_Y", bool, out, 4);
  writeKconfig("CONFIG_T_NUM", u32, out, 8);
  writeKconfig("CONFIG_T_STR", str, out, 12);
  assertEquals([...out.subarray(0, 20)], [
    2,
    0,
    0,
    0,
    1,
    0,
    0,
    0,
    16,
    0,
    0,
    0,
    104,
    101,
    108,
    108,
    111,
    0,
    0,
    0,
  ]);
  assertEquals(writeKconfig("CONFIG_T_ABSENT", u32, out, 0), false);
  assertThrows(() => writeKconfig("CONFIG_T_M", bool, out, 0), TypeError);
  assertThrows(() => writeKconfig("CONFIG_T_STR", u32, out, 0), TypeError);
  assertThrows(() => writeKconfig("CONFIG_T_NUM", u32, out, 30), RangeError);
});

Deno.test("LINUX_KERNEL_VERSION takes Ubuntu's and Debian's real patch level, as libbpf does", () => {
  // Examples from libbpf's get_kernel_version.
  assertEquals(
    linuxVersionCode({
      signature: "Ubuntu 5.4.0-12.15-generic 5.4.8\n",
      version: "#15-Ubuntu SMP Mon Jan 20 17:16:25 UTC 2020",
      release: "5.4.0-12-generic",
    }),
    (5 << 16) + (4 << 8) + 8,
  );
  assertEquals(
    linuxVersionCode({
      version: "#1 SMP Debian 4.19.260-1 (2022-09-29)",
      release: "4.19.0-22-amd64",
    }),
    (4 << 16) + (19 << 8) + 255,
  );
  assertEquals(
    linuxVersionCode({
      version: "#1 SMP PREEMPT_DYNAMIC Debian 6.1.55-1 (2023-09-29)",
      release: "6.1.0-13-amd64",
    }),
    (6 << 16) + (1 << 8) + 55,
  );
  // Elsewhere the release says it; a signature that does not parse is passed over.
  assertEquals(
    linuxVersionCode({ signature: "garbage", version: "#1 SMP", release: "6.18.44-fc-v1045" }),
    (6 << 16) + (18 << 8) + 44,
  );
});

Deno.test("kconfig numbers parse as strtoull(s, NULL, 0) parses them", () => {
  assertEquals(parseU64("250"), 250n);
  assertEquals(parseU64("0x10"), 16n);
  assertEquals(parseU64("010"), 8n);
  assertEquals(parseU64("0"), 0n);
  assertEquals(parseU64("-1"), (1n << 64n) - 1n);
  assertEquals(parseU64("12abc"), undefined);
  assertEquals(parseU64("08"), undefined);
  assertEquals(parseU64(""), undefined);
  assertEquals(parseU64("18446744073709551616"), undefined);
});

Deno.test("kconfig storage is decided under typedefs and qualifiers, as libbpf's find_kcfg_type", () => {
  const uint = new Int("unsigned int", 4);
  const u32 = new Typedef("u32", new Typedef("__u32", uint));
  const bool = new Typedef("bool", new Int("_Bool", 1, IntEncoding.Bool));
  const u64 = new Typedef("u64", new Typedef("__u64", new Int("long long unsigned int", 8)));
  const char = new Int("char", 1, IntEncoding.Signed);
  assertEquals(kconfigStorage("X", u32), { kind: "int", size: 4, signed: false });
  assertEquals(kconfigStorage("X", new Const(new Volatile(u64))), {
    kind: "int",
    size: 8,
    signed: false,
  });
  assertEquals(kconfigStorage("X", new Const(bool)).kind, "bool");
  // Any one-byte int that is not a bool is a char, __u8 included.
  assertEquals(kconfigStorage("X", new Typedef("__u8", new Int("unsigned char", 1))).kind, "char");
  assertEquals(kconfigStorage("X", new BtfArray(new Const(char), uint, 8)), {
    kind: "string",
    size: 8,
    signed: false,
  });
  const tristate = new Enum("libbpf_tristate", 4, [new EnumValue("TRI_NO", 0n)]);
  assertEquals(kconfigStorage("X", new Typedef("tri", tristate)).kind, "tristate");
  // What libbpf refuses: other enums, int arrays, empty arrays, odd sizes.
  assertThrows(() => kconfigStorage("X", new Enum("other", 4, [])), TypeError);
  assertThrows(() => kconfigStorage("X", new BtfArray(uint, uint, 2)), TypeError);
  assertThrows(() => kconfigStorage("X", new BtfArray(char, uint, 0)), TypeError);
  assertThrows(() => kconfigStorage("X", new Int("__int128", 16)), TypeError);
});

Deno.test("kconfig values follow libbpf's rules for each storage", () => {
  const cfg = kernelConfig();
  cfg.set("CONFIG_T2_Y", "y");
  cfg.set("CONFIG_T2_BIG", "300");
  cfg.set("CONFIG_T2_NEG", "-2");
  cfg.set("CONFIG_T2_LONG", '"abcdefghij"');
  const out = new Uint8Array(16);
  const u8 = new Typedef("__u8", new Int("unsigned char", 1));
  const s8 = new Int("signed char", 1, IntEncoding.Signed);
  const u32 = new Typedef("__u32", new Int("unsigned int", 4));
  // An int cannot take y/n/m (libbpf: "implies bool, tristate, or char type"); a char gets
  // the letter itself.
  assertThrows(() => writeKconfig("CONFIG_T2_Y", u32, out, 0), TypeError);
  assert(writeKconfig("CONFIG_T2_Y", u8, out, 0));
  assertEquals(out[0], "y".charCodeAt(0));
  // Numbers must fit: 300 overflows a byte, -2 fits a signed one only.
  assertThrows(() => writeKconfig("CONFIG_T2_BIG", u8, out, 0), RangeError);
  assert(writeKconfig("CONFIG_T2_NEG", s8, out, 0));
  assertEquals(out[0], 0xfe);
  assertThrows(() => writeKconfig("CONFIG_T2_NEG", u8, out, 0), RangeError);
  // A long string is cut to fit with its NUL.
  const chars = new BtfArray(new Int("char", 1, IntEncoding.Signed), u32, 4);
  out.fill(0xff);
  assert(writeKconfig("CONFIG_T2_LONG", chars, out, 4));
  assertEquals([...out.subarray(4, 8)], [97, 98, 99, 0]);
});

Deno.test("the kernel configuration comes from /boot, else /proc/config.gz, else a typed error", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const boot = `${dir}/config-6.18.0`;
    const proc = `${dir}/config.gz`;
    Deno.writeFileSync(
      proc,
      gzipSync(new TextEncoder().encode("CONFIG_FROM_PROC=y\n# CONFIG_OFF is not set\n")),
    );
    // /boot missing: /proc/config.gz, gunzipped.
    let cfg = readKernelConfig([boot, proc]);
    assertEquals(cfg.get("CONFIG_FROM_PROC"), "y");
    assertEquals(cfg.has("CONFIG_OFF"), false);
    // /boot first when it is there, plain text.
    Deno.writeTextFileSync(boot, "CONFIG_FROM_BOOT=250\n");
    cfg = readKernelConfig([boot, proc]);
    assertEquals([...cfg], [["CONFIG_FROM_BOOT", "250"]]);
    // Neither: NotSupportedError naming both paths.
    const err = assertThrows(
      () => readKernelConfig([`${dir}/none`, `${dir}/none.gz`]),
      NotSupportedError,
    );
    assert(err.message.includes(`${dir}/none.gz`), err.message);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

/** The running kernel's configuration, read here rather than through the loader. */
function configOfThisKernel(): Map<string, string> {
  let text: string;
  try {
    text = Deno.readTextFileSync(`/boot/config-${run("uname", ["-r"]).trim()}`);
  } catch {
    text = new TextDecoder().decode(gunzipSync(Deno.readFileSync("/proc/config.gz")));
  }
  const out = new Map<string, string>();
  for (const m of text.matchAll(/^(CONFIG_\w+)=(.*)$/gm)) out.set(m[1], m[2]);
  return out;
}

/** The `.kconfig` value libbpf (bpftool loadall) makes of `object`, in a private bpffs dir. */
function libbpfKconfig(
  object: string,
): { bytes: number[]; formatted: Record<string, unknown>; flags: number } {
  const dir = `/sys/fs/bpf/kconfig_test_${Deno.pid}`;
  Deno.mkdirSync(dir);
  try {
    run("bpftool", ["prog", "loadall", object, `${dir}/progs`, "pinmaps", `${dir}/maps`]);
    const pin = [...Deno.readDirSync(`${dir}/maps`)].find((e) => e.name.endsWith("kconfig"))!;
    const [entry] = JSON.parse(
      run("bpftool", ["-j", "map", "dump", "pinned", `${dir}/maps/${pin.name}`]),
    );
    const formatted: Record<string, unknown> = {};
    for (const v of entry.formatted.value[".kconfig"]) Object.assign(formatted, v);
    const { flags } = JSON.parse(
      run("bpftool", ["-j", "map", "show", "pinned", `${dir}/maps/${pin.name}`]),
    );
    return { bytes: entry.value.map(Number), formatted, flags };
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

kernelTest(
  "kconfig externs typed through vmlinux.h typedefs and qualifiers get the kernel's values",
  async () => {
    const object = testdata("compat_kconfig_typedefs-el.o");
    const spec = await loadSpec(object);
    using coll = newCollection(spec);
    assertEquals(coll.programs.read_kconfig_typedefs.run({ data: new Uint8Array(64) }).retval, 0);

    // What the program saw, field by field of its `struct seen`.
    const bss = coll.maps[".bss"].lookup(0) as Uint8Array;
    const view = new DataView(bss.buffer, bss.byteOffset);
    const seen: Record<string, number | bigint | string> = {};
    for (const m of spec.types!.typeByName("seen", Struct)!.members) {
      const at = m.offset / 8;
      if (m.name === "hostname") {
        const bytes = bss.subarray(at, at + 16);
        seen[m.name] = new TextDecoder().decode(bytes.subarray(0, bytes.indexOf(0)));
      } else if (m.name === "hz") seen[m.name] = view.getBigUint64(at, true);
      else if (m.name === "log_buf_shift") seen[m.name] = view.getInt32(at, true);
      else seen[m.name] = view.getUint32(at, true);
    }

    const config = configOfThisKernel();
    const tri = (v: string | undefined) => (v === "y" ? 1 : v === "m" ? 2 : 0);
    const libbpf = libbpfKconfig(object);
    // Debian keeps the stable patch level in `uname -v` ("… Debian 6.1.192-1 …"), which libbpf
    // reads since 1.2; bpftool's libbpf 1.1 gives x.y.0 there. Elsewhere both give the same.
    const debian = /Debian (\d+)\.(\d+)\.(\d+)/.exec(
      Deno.readTextFileSync("/proc/sys/kernel/version"),
    );
    const kernelVersion = debian
      ? (Number(debian[1]) << 16) + (Number(debian[2]) << 8) + Math.min(Number(debian[3]), 255)
      : libbpf.formatted.LINUX_KERNEL_VERSION as number;
    if (debian) {
      const at = spec.types!.typeByName(".kconfig", Datasec)!.vars
        .find((v) => (v.type as { name: string }).name === "LINUX_KERNEL_VERSION")!.offset;
      const patched = new Uint8Array(libbpf.bytes);
      new DataView(patched.buffer).setUint32(at, kernelVersion, true);
      libbpf.bytes = [...patched];
    }
    assertEquals(seen, {
      // Virtual values: what libbpf computes.
      kernel_version: kernelVersion,
      has_cookie: libbpf.formatted.LINUX_HAS_BPF_COOKIE ? 1 : 0,
      bpf_syscall: config.get("CONFIG_BPF_SYSCALL") === "y" ? 1 : 0,
      never_set: 0,
      hz: BigInt(config.get("CONFIG_HZ")!),
      log_buf_shift: Number(config.get("CONFIG_LOG_BUF_SHIFT") ?? 0),
      bpf_jit: tri(config.get("CONFIG_BPF_JIT")),
      tristate_unset: 0,
      bpf_events: config.get("CONFIG_BPF_EVENTS")?.charCodeAt(0) ?? 0,
      hostname: (config.get("CONFIG_DEFAULT_HOSTNAME") ?? '""').slice(1, -1).slice(0, 15),
    });
    // And the whole .kconfig map, byte for byte, as libbpf lays it out and fills it.
    assertEquals([...(coll.maps[".kconfig"].lookup(0) as Uint8Array)], libbpf.bytes);
    // Created as libbpf creates it: read-only to programs, and mmapable.
    assertEquals(coll.maps[".kconfig"].info().flags, libbpf.flags);
  },
  { skipIf: noElfReader },
);
