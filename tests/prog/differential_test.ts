/**
 * Differential test against libbpf: every testdata object that `bpftool prog loadall` (Debian's
 * libbpf) loads here is loaded with `newCollection` too, and every program's translated
 * instructions, as the kernel reports them, must be identical — map references compared by
 * the map they name rather than by id.
 */
import { assert, assertEquals } from "@std/assert";
import { asm } from "../../mod.ts";
import { BpfMap, PinType } from "../../map/mod.ts";
import { newCollection, Program, type ProgramInfo } from "../../prog/mod.ts";
import { exists } from "../../_internal/pin.ts";
import { ensureBpffs, kernelTest, testdata } from "../_harness.ts";
import { loadSpec, noElfReader } from "./_elf_loader.ts";

/** Objects built for the host's byte order, with or without BTF. */
function objects(): string[] {
  const dir = testdata("");
  return [...Deno.readDirSync(dir)]
    .map((e) => e.name)
    .filter((n) => n.endsWith("-el.o"))
    .sort();
}

/** The map a map load refers to, by a name that libbpf and we agree on. */
function mapLabel(id: number, cache: Map<number, string>): string {
  let name = cache.get(id);
  if (name === undefined) {
    using map = BpfMap.fromId(id);
    const info = map.info();
    // libbpf names internal maps "<object prefix>.rodata"; we name them ".rodata".
    const dot = info.name.indexOf(".");
    name = `${dot >= 0 ? info.name.slice(dot) : info.name}/${info.type}/${info.valueSize}`;
    cache.set(id, name);
  }
  return name;
}

/** The xlated program as text with map ids replaced by their maps' names. */
function normalise(info: ProgramInfo, cache: Map<number, string>): string[] {
  const insns = asm.Instructions.unmarshal(info.xlated, "little");
  return insns.list.map((ins) => {
    if (
      ins.opcode === asm.LoadImm64Op &&
      (ins.src === asm.Pseudo.MapFD || ins.src === asm.Pseudo.MapValue)
    ) {
      return `ld_imm64 r${ins.dst} src=${ins.src} map=${mapLabel(ins.imm, cache)} off=${ins.immHi}`;
    }
    // A kernel address the verifier inlines for this one load (`prog->aux` passed to a kfunc's
    // `__prog` argument): it differs between any two loads, whoever loads.
    if (ins.opcode === asm.LoadImm64Op && ins.src === 0 && ins.immHi >>> 16 === 0xffff) {
      return `ld_imm64 r${ins.dst} kernel address`;
    }
    return `${ins.opcode} ${ins.dst} ${ins.src} ${ins.offset} ${ins.imm} ${ins.immHi}`;
  });
}

function bpftoolLoadall(obj: string, dir: string): string | undefined {
  const out = new Deno.Command("bpftool", {
    args: ["prog", "loadall", obj, dir],
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  return out.success ? undefined : new TextDecoder().decode(out.stderr);
}

kernelTest("newCollection loads every testdata program as libbpf does", async () => {
  const bpffs = ensureBpffs();
  const base = `${bpffs}/ebpf_diff_${Deno.pid}`;
  const compared: string[] = [];
  const rejected: string[] = [];
  for (const name of objects()) {
    const obj = testdata(name);
    const dir = `${base}_${name.replace(/[^A-Za-z0-9]/g, "_")}`;
    // libbpf pins LIBBPF_PIN_BY_NAME maps at the bpffs root, where bpftool gives no say:
    // those the object names and nobody had pinned before are this test's to remove.
    const spec = await loadSpec(obj).catch(() => undefined);
    const byName = Object.values(spec?.maps ?? {})
      .filter((m) => m.pinning === PinType.ByName)
      .map((m) => `${bpffs}/${m.name}`)
      .filter((path) => !exists(path));
    const failure = bpftoolLoadall(obj, dir);
    try {
      if (failure !== undefined) {
        rejected.push(name);
        continue;
      }
      using coll = newCollection(spec ?? await loadSpec(obj));
      const cache = new Map<number, string>();
      const pinned = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
      assertEquals(Object.keys(coll.programs).sort(), pinned, `programs of ${name}`);
      for (const prog of pinned) {
        using theirs = Program.loadPinned(`${dir}/${prog}`);
        const a = normalise(theirs.info(), cache);
        const b = normalise(coll.programs[prog].info(), cache);
        assertEquals(b, a, `xlated instructions of ${name}:${prog}`);
        compared.push(`${name}:${prog}`);
      }
    } finally {
      for (const path of [dir, ...byName]) {
        if (exists(path)) Deno.removeSync(path, { recursive: true });
      }
    }
  }
  console.log(`compared ${compared.length} programs; libbpf rejects: ${rejected.join(", ")}`);
  assert(compared.length >= 20, `only ${compared.length} programs compared`);
}, { skipIf: noElfReader });
