// struct_ops from C: a TCP congestion control written as the kernel selftests write one
// (testdata/compat_struct_ops_cc*.c) is parsed into struct_ops MapSpecs, loaded by
// newCollection, registered (through a link for `.struct_ops.link`, by its value for
// `.struct_ops`) and chosen by a loopback TCP connection. Oracles: llvm-readelf for the
// relocations that plug programs into members, bpftool for the object's BTF and the
// kernel's view of the registered ops table, bpftool prog loadall (libbpf) for the loaded
// instructions, /proc for what TCP has registered.
import { assert, assertEquals, assertGreaterOrEqual, assertThrows } from "@std/assert";
import { asm, btf, type CollectionSpec, MapType, ProgramType } from "../../mod.ts";
import { newCollection, Program, type ProgramInfo, ProgramSpec } from "../../prog/mod.ts";
import {
  attachStructOps,
  linkFeatureMissing,
  registerStructOps,
  StructOpsLink,
  StructOpsRegistration,
} from "../../link/mod.ts";
import { NotSupportedError, SyscallError } from "../../errors.ts";
import { assertNoFdLeak, ensureBpffs, kernelTest, run, testdata } from "../_harness.ts";
import { getStringOpt, IPPROTO_TCP, setStringOpt, TCP_CONGESTION, tcpPair } from "../link/_libc.ts";
import { loadSpec } from "./_elf_loader.ts";

const LINKED = "compat_struct_ops_cc";
const LEGACY = "compat_struct_ops_cc_legacy";
const BPF_F_LINK = 1 << 13;
const AVAILABLE = "/proc/sys/net/ipv4/tcp_available_congestion_control";
const ALLOWED = "/proc/sys/net/ipv4/tcp_allowed_congestion_control";

const listed = (file: string) => Deno.readTextFileSync(file).trim().split(/\s+/);

/** The congestion control a new loopback connection gets when it asks for `name`. */
function connectWith(name: string): string {
  using tcp = tcpPair((fd) => setStringOpt(fd, IPPROTO_TCP, TCP_CONGESTION, name));
  return getStringOpt(tcp.client, IPPROTO_TCP, TCP_CONGESTION);
}

/** `relocation offset -> symbol` of one relocation section, as llvm-readelf prints it. */
function readelfRelocations(obj: string, section: string): Map<number, string> {
  const text = run("llvm-readelf-19", ["-r", obj]);
  const start = text.indexOf(`Relocation section '${section}'`);
  assert(start >= 0, `${obj} has ${section}`);
  const out = new Map<number, string>();
  for (const line of text.slice(start).split("\n").slice(2)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 5 || !/^[0-9a-f]{16}$/.test(f[0])) break;
    out.set(parseInt(f[0], 16), f[4]);
  }
  return out;
}

/** Member byte offsets of struct `name` in an object's BTF, as bpftool prints them. */
function bpftoolMembers(obj: string, name: string): Map<number, string> {
  const dump = run("bpftool", ["btf", "dump", "file", obj]);
  const at = dump.indexOf(`STRUCT '${name}'`);
  assert(at >= 0);
  const out = new Map<number, string>();
  for (const line of dump.slice(at).split("\n").slice(1)) {
    const m = /^\s+'(\w+)' type_id=\d+ bits_offset=(\d+)/.exec(line);
    if (!m) break;
    out.set(Number(m[2]) / 8, m[1]);
  }
  return out;
}

Deno.test("struct_ops variables become STRUCT_OPS map specs naming their programs", async () => {
  for (
    const [base, section, variable, ccName, flags] of [
      [LINKED, ".struct_ops.link", "my_cc", "bpf_compat_cc", BPF_F_LINK],
      [LEGACY, ".struct_ops", "legacy_cc", "bpf_compat_ccl", 0],
    ] as const
  ) {
    for (const order of ["el", "eb"]) {
      const obj = testdata(`${base}-${order}.o`);
      const spec = await loadSpec(obj);
      const ms = spec.maps[variable];
      assert(ms, `${obj}: map named like the variable`);
      assertEquals(
        [ms.type, ms.keySize, ms.maxEntries, ms.flags],
        [MapType.StructOpsMap, 4, 1, flags],
      );
      const type = ms.value as btf.Struct;
      assert(type instanceof btf.Struct);
      assertEquals([type.name, ms.valueSize], ["tcp_congestion_ops", type.size]);

      // Each relocation of the section plugs the function it names into the member at its
      // offset: llvm-readelf gives the relocations, bpftool the member offsets.
      const relocs = readelfRelocations(obj, `.rel${section}`);
      const members = bpftoolMembers(obj, "tcp_congestion_ops");
      const expected: Record<string, unknown> = {};
      for (const [offset, symbol] of relocs) expected[members.get(offset)!] = symbol;
      assertEquals(Object.keys(expected).sort(), ["cong_avoid", "init", "ssthresh", "undo_cwnd"]);
      // Data members: decoded in the object's byte order.
      expected.flags = 1;
      expected.name = ccName;
      assertEquals(ms.contents.length, 1);
      assertEquals(ms.contents[0].key, new Uint8Array(4));
      assertEquals(ms.contents[0].value, expected);
      // A copied spec has members of its own.
      const copy = spec.copy();
      (copy.maps[variable].contents[0].value as Record<string, unknown>).name = "changed";
      assertEquals((ms.contents[0].value as Record<string, unknown>).name, ccName);

      for (const [member, program] of Object.entries(expected)) {
        if (member === "flags" || member === "name") continue;
        const ps = spec.programs[program as string];
        assertEquals(ps.type, ProgramType.StructOps);
        assertEquals(ps.attachTo, `tcp_congestion_ops:${member}`);
      }
    }
  }
});

const tcpCaMissing = () =>
  listed(AVAILABLE).length > 0 && Deno.statSync("/sys/kernel/btf/vmlinux").isFile
    ? undefined
    : "no kernel BTF";

/** `.struct_ops.link` maps need struct_ops links (6.4) besides the kernel's BTF. */
const structOpsLinkMissing = () => tcpCaMissing() ?? linkFeatureMissing("structOps");

/** The kernel's view of a registered struct_ops map's value, as bpftool dumps it. */
function bpftoolStructOps(mapId: number): Record<string, unknown> {
  const text = run("bpftool", ["struct_ops", "dump", "id", String(mapId), "-j"]).trim();
  const all = JSON.parse(text.startsWith("[") ? text : `[${text}]`);
  const value = all.find((o: Record<string, unknown>) => "bpf_struct_ops_tcp_congestion_ops" in o);
  return value.bpf_struct_ops_tcp_congestion_ops.data;
}

/** The counters the programs bump, by name, from `.bss`. */
function counters(spec: CollectionSpec, bss: Uint8Array): Record<string, bigint> {
  const v = new DataView(bss.buffer, bss.byteOffset, bss.byteLength);
  const out: Record<string, bigint> = {};
  for (const name of ["init_calls", "ssthresh_calls", "cong_avoid_calls", "undo_cwnd_calls"]) {
    out[name] = v.getBigUint64(spec.variables[name].offset, true);
  }
  return out;
}

kernelTest(
  "struct_ops: a .struct_ops.link congestion control from C is loaded, linked, used by a " +
    "TCP connection and unregistered when the link closes",
  async () => {
    const spec = await loadSpec(testdata(`${LINKED}-el.o`));
    const name = "bpf_compat_cc";
    assert(!listed(AVAILABLE).includes(name), "not registered before");
    await assertNoFdLeak(() => {
      using coll = newCollection(spec);
      const map = coll.maps.my_cc;
      assertEquals(map.type, MapType.StructOpsMap);
      assertEquals(map.flags & BPF_F_LINK, BPF_F_LINK);
      assert(!listed(AVAILABLE).includes(name), "filling a BPF_F_LINK map registers nothing");

      const link = attachStructOps(map);
      try {
        assert(link instanceof StructOpsLink);
        assert(listed(AVAILABLE).includes(name), "registered by the link");
        // The object's `.flags = TCP_CONG_NON_RESTRICTED` reached the kernel's struct.
        assert(listed(ALLOWED).includes(name), "flags copied: allowed to unprivileged sockets");

        // bpftool reads the registered table with the kernel's BTF: each member holds the
        // program the C source put there, and the data members their values.
        const data = bpftoolStructOps(map.info().id);
        for (const [member, prog] of Object.entries(spec.maps.my_cc.contents[0].value as object)) {
          if (member === "name" || member === "flags") continue;
          const id = coll.programs[prog as string].info().id;
          assert(
            String(data[member]).endsWith(`${prog}/prog_id:${id}`),
            `${member}: ${data[member]}`,
          );
        }
        assertEquals([data.name, data.flags], [name, 1]);
        assertEquals(data.release, "void (struct sock *) 0", "unset members stay empty");

        const before = counters(spec, coll.maps[".bss"].lookup(0) as Uint8Array);
        assertEquals(connectWith(name), name);
        const after = counters(spec, coll.maps[".bss"].lookup(0) as Uint8Array);
        assertGreaterOrEqual(after.init_calls - before.init_calls, 1n, "init ran for the client");
      } finally {
        link.close();
      }
      assert(!listed(AVAILABLE).includes(name), "unregistered when the link closes");
      assertThrows(() => connectWith(name), Error, "ENOENT");
    });
  },
  { skipIf: structOpsLinkMissing },
);

kernelTest(
  "struct_ops: a .struct_ops congestion control is inert until registered by its value, " +
    "and unregistered when the registration closes",
  async () => {
    const spec = await loadSpec(testdata(`${LEGACY}-el.o`));
    const name = "bpf_compat_ccl";
    await assertNoFdLeak(() => {
      using coll = newCollection(spec);
      const map = coll.maps.legacy_cc;
      assertEquals(map.flags & BPF_F_LINK, 0);
      assert(!listed(AVAILABLE).includes(name), "loading registers nothing, as in libbpf");
      assertThrows(() => attachStructOps(map), TypeError, "registerStructOps");

      const reg = registerStructOps(map);
      try {
        assert(reg instanceof StructOpsRegistration);
        assert(listed(AVAILABLE).includes(name), "registered by writing the value");
        assertThrows(() => reg.pin("/sys/fs/bpf/x"), NotSupportedError);
        const before = counters(spec, coll.maps[".bss"].lookup(0) as Uint8Array);
        assertEquals(connectWith(name), name);
        const after = counters(spec, coll.maps[".bss"].lookup(0) as Uint8Array);
        assertGreaterOrEqual(after.init_calls - before.init_calls, 1n, "init ran");
      } finally {
        reg.close();
      }
      reg.close(); // twice is fine
      assert(!listed(AVAILABLE).includes(name), "unregistered when closed");
      // The kernel fills a struct_ops map once: registering it again is refused (EBUSY).
      assertThrows(() => registerStructOps(map), SyscallError, "EBUSY");
      assert(!listed(AVAILABLE).includes(name));
    });
  },
  { skipIf: tcpCaMissing },
);

/** The xlated program with map ids replaced by map names (as the differential test does). */
function normalise(info: ProgramInfo): string[] {
  return asm.Instructions.unmarshal(info.xlated, "little").list.map((ins) => {
    if (ins.opcode === asm.LoadImm64Op && ins.src !== 0) {
      return `ld_imm64 r${ins.dst} src=${ins.src} off=${ins.immHi}`;
    }
    return `${ins.opcode} ${ins.dst} ${ins.src} ${ins.offset} ${ins.imm} ${ins.immHi}`;
  });
}

kernelTest(
  "struct_ops: programs load as bpftool prog loadall (libbpf) loads them: same xlated " +
    "instructions and attach_btf_id",
  async () => {
    const obj = testdata(`${LEGACY}-el.o`);
    const dir = `${ensureBpffs()}/ebpf_struct_ops_diff_${Deno.pid}`;
    run("bpftool", ["prog", "loadall", obj, dir]);
    try {
      using coll = newCollection(await loadSpec(obj));
      const pinned = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
      assertEquals(Object.keys(coll.programs).sort(), pinned);
      const tcpCa = /^\[(\d+)\] STRUCT 'tcp_congestion_ops' /m.exec(
        run("bpftool", ["btf", "dump", "file", "/sys/kernel/btf/vmlinux"]),
      )!;
      assert(tcpCa !== null);
      for (const name of pinned) {
        using theirs = Program.loadPinned(`${dir}/${name}`);
        const a = theirs.info();
        const b = coll.programs[name].info();
        assertEquals(normalise(b), normalise(a), `xlated ${name}`);
        assertEquals([b.type, b.attachBtfId], [a.type, a.attachBtfId], name);
        assertEquals(b.attachBtfId, Number(tcpCa[1]), "the kernel's tcp_congestion_ops");
      }
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
  { skipIf: tcpCaMissing },
);

kernelTest(
  "struct_ops: a struct type the kernel lacks is NotSupportedError naming it",
  async () => {
    const spec = await loadSpec(testdata(`${LINKED}-el.o`));
    const ours = spec.maps.my_cc.value as btf.Struct;
    // The same ops table under a name no kernel registers.
    spec.maps.my_cc.value = new btf.Struct("no_such_cc_ops", ours.size, ours.members);
    for (const p of Object.values(spec.programs)) {
      p.attachTo = p.attachTo.replace("tcp_congestion_ops", "no_such_cc_ops");
    }
    await assertNoFdLeak(() => {
      const err = assertThrows(() => newCollection(spec), NotSupportedError, "no_such_cc_ops");
      assertEquals((err as NotSupportedError).feature, 'struct_ops "no_such_cc_ops"');
      // The program alone too: its attach target is what is missing, not a verifier matter.
      assertThrows(
        () => newCollection(spec, { only: ["cc_init"] }),
        NotSupportedError,
        "no_such_cc_ops",
      );
    });
  },
  { skipIf: tcpCaMissing },
);

kernelTest(
  "struct_ops: unplugged programs, members the kernel lacks and bad member values are " +
    "clear errors before any registration",
  async () => {
    await assertNoFdLeak(async () => {
      // A struct_ops program no variable names keeps its section suffix as attachTo; libbpf
      // fails to load such an object, and so do we, saying why.
      const unplugged = await loadSpec(testdata(`${LINKED}-el.o`));
      unplugged.programs.cc_init.attachTo = "cc_init";
      assertThrows(
        () => newCollection(unplugged, { only: ["cc_init"] }),
        TypeError,
        "no struct_ops map plugs it in",
      );

      // A member the kernel's struct lacks: fine when zero (libbpf skips it), else refused.
      const extra = await loadSpec(testdata(`${LINKED}-el.o`));
      const members = extra.maps.my_cc.contents[0].value as Record<string, unknown>;
      members.no_such_member = 0;
      newCollection(extra).close();
      members.no_such_member = 1;
      assertThrows(() => newCollection(extra), NotSupportedError, "no_such_member");
      delete members.no_such_member;

      // A name longer than the kernel's char array, a program that does not exist.
      members.name = "x".repeat(16);
      assertThrows(() => newCollection(extra), RangeError, "'name'");
      members.name = "bpf_compat_cc";
      members.init = "no_such_program";
      assertThrows(() => newCollection(extra), ReferenceError, "no_such_program");
    });
  },
  { skipIf: structOpsLinkMissing },
);

kernelTest(
  "struct_ops: Program.load alone resolves attachTo '<struct>:<member>' against kernel BTF",
  async () => {
    const tcpCa = Number(
      /^\[(\d+)\] STRUCT 'tcp_congestion_ops' /m.exec(
        run("bpftool", ["btf", "dump", "file", "/sys/kernel/btf/vmlinux"]),
      )![1],
    );
    const spec = (attachTo: string) =>
      new ProgramSpec({
        name: "ssthresh",
        type: ProgramType.StructOps,
        attachTo,
        license: "GPL",
        instructions: new asm.Instructions([asm.Mov.Imm(asm.R0, 10), asm.Return()]),
      });
    await assertNoFdLeak(() => {
      using prog = Program.load(spec("tcp_congestion_ops:ssthresh"));
      assertEquals(prog.info().attachBtfId, tcpCa);
      assertThrows(
        () => Program.load(spec("tcp_congestion_ops:name")),
        TypeError,
        "no function pointer",
      );
      assertThrows(
        () => Program.load(spec("tcp_congestion_ops:no_such_member")),
        NotSupportedError,
        "tcp_congestion_ops.no_such_member",
      );
      assertThrows(() => Program.load(spec("ssthresh")), TypeError, "no struct_ops map");
    });
  },
  { skipIf: tcpCaMissing },
);
