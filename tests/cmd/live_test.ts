// The live inspector against bpftool: for the programs, maps and BTF this test loads from
// testdata/live_inspect.c (and a raw tracepoint link), `prog list`, `map list`, `map dump`
// (a BTF-typed hash and a per-CPU array), `prog dump xlated`, `btf dump --raw` and
// `link list` (and `feature probe`) agree with `bpftool -j …` field by field, and
// `prog dump xlated` shows each C source line (checked against the source file) above the
// instructions it produced.
import { assert, assertEquals } from "@std/assert";
import { loadCollectionSpec } from "../../elf/mod.ts";
import * as asm from "../../asm/mod.ts";
import {
  type Collection,
  newCollection,
  Program,
  ProgramSpec,
  ProgramType,
} from "../../prog/mod.ts";
import { attachRawTracepoint } from "../../link/mod.ts";
import { linkList, linkShow } from "../../cmd/_live/link.ts";
import { feature } from "../../cmd/_live/feature.ts";
import { progDumpXlated, progList, progShow } from "../../cmd/_live/prog.ts";
import { mapDump, mapEntries, mapList, mapShow } from "../../cmd/_live/map.ts";
import { BpfMap, MapSpec, MapType } from "../../map/mod.ts";
import { BpfCmd, kernelBackend, possibleCpus, setBackend } from "../../ffi.ts";
import { Errno } from "../../errors.ts";
import { btfDump, btfList } from "../../cmd/_live/btf.ts";
import type { Options } from "../../cmd/_live/command.ts";
import { linkTypeName, mapTypeName, progTypeName } from "../../cmd/_live/names.ts";
import { kernelTest, run, testdata } from "../_harness.ts";
import { asRead, assertAgrees, bpftool, byId, parseExact } from "./_bpftool.ts";

const SOURCE = testdata("live_inspect.c");
const options = (o: Partial<Options> = {}): Options => ({
  json: true,
  linum: false,
  format: undefined,
  cgroup: undefined,
  ...o,
});

/** The test's collection, with entries in both maps. */
async function loaded(): Promise<Collection> {
  const coll = newCollection(await loadCollectionSpec(testdata("live_inspect-el.o")));
  coll.maps.flows.update(
    { addr: 0x0a000001, port: 53, proto: 17, pad: 0 },
    { packets: 5n, bytes: 300n, last_len: -3, tag: "ab" },
  );
  coll.maps.flows.update(
    { addr: 0xc0a80001, port: 443, proto: 6, pad: 0 },
    { packets: (1n << 63n) + 7n, bytes: 0n, last_len: 1500, tag: "tcp" },
  );
  // Slot 2 differs per CPU: CPU n holds n + 1, so a CPU mix-up shows.
  const perCpu = new Uint8Array(8 * possibleCpus());
  const view = new DataView(perCpu.buffer);
  for (let cpu = 0; cpu < possibleCpus(); cpu++) view.setBigUint64(cpu * 8, BigInt(cpu + 1), true);
  coll.maps.per_cpu_hits.update(2, perCpu);
  return coll;
}

/** The `off` field of each instruction of program `id`, as the kernel hands them out. */
function offsetsOf(id: number): number[] {
  using prog = Program.fromId(id);
  const x = prog.info().xlated;
  const v = new DataView(x.buffer, x.byteOffset, x.byteLength);
  const offs: number[] = [];
  // An imm64 load's second slot is not an instruction of its own.
  for (let at = 0; at < x.length; at += x[at] === 0x18 ? 16 : 8) {
    offs.push(v.getInt16(at + 2, true));
  }
  return offs;
}

const programIds = (c: Collection) => Object.values(c.programs).map((p) => p.info().id);
const mapIds = (c: Collection) => Object.values(c.maps).map((m) => m.info().id);

kernelTest("live: prog list and prog show agree with bpftool -j prog show", async () => {
  using coll = await loaded();
  const ids = programIds(coll);
  const theirs = byId(bpftool("prog", "show"), ids);
  const ours = byId(asRead(progList().json), ids);
  assertEquals(ours.size, ids.length);
  assertEquals(theirs.size, ids.length);
  const agreement = { tolerance: { loaded_at: 1 }, names: { type: progTypeName } };
  for (const id of ids) {
    assertAgrees(ours.get(id)!, theirs.get(id)!, `prog list: program ${id}`, agreement);
    const one = asRead(progShow(id).json);
    assertAgrees(one, bpftool("prog", "show", "id", String(id)), `prog show ${id}`, agreement);
    // Its JIT-compiled functions, main program first, as /proc/kallsyms names them.
    assertEquals(one.functions[0].name, `bpf_prog_${one.tag}_${one.name}`);
    assertEquals(one.functions.length, 2, "the program and count_hit");
  }
});

kernelTest("live: map list and map show agree with bpftool -j map show", async () => {
  using coll = await loaded();
  coll.maps.per_cpu_hits.freeze();
  const ids = mapIds(coll);
  const theirs = byId(bpftool("map", "show"), ids);
  const ours = byId(asRead(mapList().json), ids);
  assertEquals(ours.size, ids.length);
  const agreement = { names: { type: mapTypeName } };
  for (const id of ids) {
    assertAgrees(ours.get(id)!, theirs.get(id)!, `map list: map ${id}`, agreement);
    assertAgrees(asRead(mapShow(id).json), theirs.get(id)!, `map show ${id}`, agreement);
  }
  // The frozen map says so, as bpftool does.
  assertEquals(ours.get(coll.maps.per_cpu_hits.info().id)!.frozen, 1);
});

kernelTest(
  "live: map dump of a BTF-typed hash and a per-CPU array agrees with bpftool",
  async () => {
    using coll = await loaded();
    for (const m of [coll.maps.flows, coll.maps.per_cpu_hits]) {
      const id = m.info().id;
      // Entries by key: a hash walk's order is the kernel's, the same for both, but the
      // comparison should not hang on it.
      const key = (e: { key: string[] }) => e.key.join(" ");
      const ours = new Map(asRead(mapDump(id).json).map((e: { key: string[] }) => [key(e), e]));
      const theirs: { key: string[] }[] = bpftool("map", "dump", "id", String(id));
      assertEquals(ours.size, theirs.length, `map ${m.name}: entry count`);
      assert(theirs.length > 0);
      for (const e of theirs) {
        const mine = ours.get(key(e)) as Record<string, unknown> | undefined;
        assert(mine, `map ${m.name}: bpftool has key ${key(e)}, we do not`);
        assertAgrees(mine!, e, `map ${m.name} key ${key(e)}`);
        assert("formatted" in e, "bpftool decoded the entry through the map's BTF");
      }
    }
  },
);

/** Our `prog dump xlated` of each program of `coll` against bpftool's, record for record. */
function assertXlatedAgrees(coll: Collection): void {
  for (const id of programIds(coll)) {
    const ours = asRead(progDumpXlated(["xlated", String(id)], options()).json);
    const theirs = bpftool("prog", "dump", "xlated", "id", String(id), "linum");
    assertEquals(ours.length, theirs.length, `program ${id}: instructions`);
    const offs = offsetsOf(id);
    theirs.forEach((t: Record<string, unknown>, i: number) => {
      // bpftool 7.1's disassembler predates the verifier's per-CPU address move (a mov
      // with off -1, Linux 6.7) and prints it as a plain move; newer ones print ours.
      const percpu = /^\(bf\) (r\d+) = &\(void __percpu \*\)\((r\d+)\)$/.exec(ours[i].disasm);
      if (percpu && offs[i] === -1 && t.disasm === `(bf) ${percpu[1]} = ${percpu[2]}`) {
        t = { ...t, disasm: ours[i].disasm };
      }
      assertAgrees(ours[i], t, `program ${id} instruction ${i}`);
    });
    // Every field of ours is bpftool's too: nothing invented.
    ours.forEach((o: Record<string, unknown>, i: number) =>
      assertEquals(Object.keys(o).sort(), Object.keys(theirs[i]).sort(), `instruction ${i}`)
    );
  }
}

kernelTest("live: prog dump xlated agrees with bpftool -j prog dump xlated … linum", async () => {
  using coll = await loaded();
  assertXlatedAgrees(coll);
  // Objects written to exercise the instruction set: ALU32, atomics (fetch, xchg, cmpxchg),
  // bpf-to-bpf calls and tail calls. (ISA v4 is left out: bpftool 7.1 predates its syntax.)
  for (const name of ["asm_alu32", "asm_atomics", "asm_calls"]) {
    using other = newCollection(await loadCollectionSpec(testdata(`${name}-el.o`)));
    assertXlatedAgrees(other);
  }
});

kernelTest("live: prog dump xlated shows the C source line above its instructions", async () => {
  using coll = await loaded();
  const source = Deno.readTextFileSync(SOURCE).split("\n");
  const id = coll.programs.live_tcx.info().id;
  const out = progDumpXlated(["xlated", String(id)], options({ json: false, linum: true }));
  const text = out.text().split("\n");
  // The prototype, then the first statement's line, then its first instruction.
  assertEquals(text[0], "int live_tcx(struct __sk_buff * skb):");
  assert(text[1].startsWith("; count_hit(1); [file:"), text[1]);
  assert(/^ {3}0: \(b7\) r1 = 1$/.test(text[2]), text[2]);
  // Each `; line [file:F line_num:N …]` is line N of the C file that was compiled.
  let checked = 0;
  for (const line of text) {
    const m = /^; (.*) \[file:(.*) line_num:(\d+) line_col:\d+\]$/.exec(line);
    if (!m) continue;
    // The path clang recorded: where the object was built, which need not be this checkout.
    assert(m[2].endsWith("/testdata/live_inspect.c"), `line info names ${m[2]}`);
    assertEquals(source[Number(m[3]) - 1].trim(), m[1], `line ${m[3]}`);
    checked++;
  }
  assert(checked >= 4, `${checked} source lines`);
  // Without --linum, the source alone.
  const plain = progDumpXlated(["xlated", String(id)], options({ json: false })).text();
  assert(plain.includes("\n; count_hit(1);\n   0: (b7) r1 = 1"), plain);
});

kernelTest(
  "live: btf dump --raw and btf list agree with bpftool -j btf; --c compiles",
  async () => {
    using coll = await loaded();
    const btfId = coll.programs.live_xdp.info().btfId;
    assert(btfId > 0);
    const ours = asRead(btfDump(btfId, options({ format: "raw" })).json);
    const theirs = bpftool("btf", "dump", "id", String(btfId));
    assertEquals(ours.types.length, theirs.types.length);
    theirs.types.forEach((t: Record<string, unknown>, i: number) =>
      assertAgrees(ours.types[i], t, `BTF ${btfId} type ${t.id}`)
    );
    // The programs and maps that use it, in ascending order (bpftool lists them as it found them).
    const sorted = (r: Record<string, unknown>) => ({
      ...r,
      prog_ids: (r.prog_ids as number[]).toSorted((a, b) => a - b),
      map_ids: (r.map_ids as number[]).toSorted((a, b) => a - b),
    });
    const list = byId(asRead(btfList().json), [btfId]).get(btfId)!;
    const bpftoolList = byId(bpftool("btf", "list"), [btfId]).get(btfId)!;
    assertAgrees(sorted(list), sorted(bpftoolList), `btf list: ${btfId}`);
    assertEquals((list.prog_ids as number[]).length, 2);
    // --c: declarations clang compiles, with the layouts the program was built with.
    const { c } = btfDump(btfId, options({ format: "c" })).json as { c: string };
    const file = Deno.makeTempFileSync({ suffix: ".c" });
    try {
      Deno.writeTextFileSync(
        file,
        `${c}\n_Static_assert(sizeof(struct flow_key) == 8, "key");\n` +
          `_Static_assert(sizeof(struct flow_stats) == 24, "value");\n` +
          `_Static_assert(__builtin_offsetof(struct flow_stats, tag) == 20, "tag");\n`,
      );
      run("clang-19", ["-fsyntax-only", "-target", "bpf", file]);
    } finally {
      Deno.removeSync(file);
    }
  },
);

kernelTest("live: link list and link show agree with bpftool -j link show", () => {
  using prog = Program.load(
    new ProgramSpec({
      name: "live_raw_tp",
      type: ProgramType.RawTracepoint,
      instructions: new asm.Instructions([asm.Mov.Imm(asm.R0, 0), asm.Return()]),
      license: "GPL",
    }),
  );
  using link = attachRawTracepoint(prog, "sys_enter");
  const id = link.info().id;
  const theirs = byId(bpftool("link", "show"), [id]).get(id)!;
  const agreement = { names: { type: linkTypeName } };
  assertAgrees(byId(asRead(linkList().json), [id]).get(id)!, theirs, `link list: ${id}`, agreement);
  const shown = asRead(linkShow(id).json);
  assertAgrees(shown, bpftool("link", "show", "id", String(id)), `link show ${id}`, agreement);
  assertEquals([shown.type, shown.tp_name, shown.prog_id], [
    "raw_tracepoint",
    "sys_enter",
    prog.info().id,
  ]);
});

kernelTest("live: the command prints tables, and JSON that tools read as bpftool's", async () => {
  using coll = await loaded();
  const live = new URL("../../cmd/live.ts", import.meta.url).pathname;
  const cli = (...args: string[]) => {
    const out = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--no-check", live, ...args],
      stdout: "piped",
      stderr: "piped",
    }).outputSync();
    assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
    return new TextDecoder().decode(out.stdout);
  };
  const flows = String(coll.maps.flows.info().id);
  // A u64 beyond 2^53 survives printing exactly, as bpftool prints it.
  const dumped = parseExact(cli("map", "dump", flows, "--json"));
  const theirs = bpftool("map", "dump", "id", flows);
  const key = (e: { key: string[] }) => e.key.join(" ");
  assertEquals(
    new Map(dumped.map((e: { key: string[] }) => [key(e), e])),
    new Map(theirs.map((e: { key: string[] }) => [key(e), e])),
  );
  const table = cli("map", "dump", flows);
  assert(table.includes('"packets":9223372036854775815'), table);
  assert(table.endsWith("2 entries\n"), table);
  const xlated = cli("prog", "dump", "xlated", String(coll.programs.live_tcx.info().id));
  assert(xlated.startsWith("int live_tcx(struct __sk_buff * skb):\n; count_hit(1);\n"), xlated);
  const list = cli("prog", "list");
  assert(/^ *ID {2}TYPE {2}/.test(list), list);
  assert(list.includes("live_xdp"), list);
});

kernelTest("live: feature probe agrees with bpftool -j feature probe kernel", () => {
  const ours = asRead(feature("probe", [], options()).json);
  const theirs = bpftool("feature", "probe", "kernel");
  // Every program and map type bpftool knows, and its misc probes, answered the same.
  for (const section of ["program_types", "map_types", "misc"]) {
    assertAgrees(ours[section], theirs[section], `feature probe: ${section}`);
  }
});

kernelTest("live: map dump lists an entry the kernel will not show with the reason", () => {
  using m = BpfMap.create(
    new MapSpec({ type: MapType.Hash, keySize: 4, valueSize: 4, maxEntries: 2 }),
  );
  m.update(1, 2);
  // The kernel of a socket map or an offloaded map refuses lookups; here one that forwards
  // everything but lookups, which it answers EOPNOTSUPP.
  const restore = setBackend({
    bpf: (cmd, attr) =>
      cmd === BpfCmd.MAP_LOOKUP_ELEM ? -Errno.EOPNOTSUPP : kernelBackend.bpf(cmd, attr),
    address: (buffer) => kernelBackend.address(buffer),
  });
  let entries;
  try {
    entries = mapEntries(m);
  } finally {
    restore();
  }
  assertEquals(entries.length, 1);
  assertEquals(entries[0].key, ["0x01", "0x00", "0x00", "0x00"]);
  const value = (entries[0] as { value: { error: string } }).value;
  assert(value.error.includes("EOPNOTSUPP"), value.error);
});
