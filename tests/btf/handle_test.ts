// BPF_BTF_LOAD: written BTF of the testdata objects loads; probes; kernel BTF by id; errors.
import { assert, assertEquals, assertThrows } from "@std/assert";
import {
  Datasec,
  formatRaw,
  Func,
  type FuncProto,
  Int,
  Linkage,
  loadKernelSpec,
  loadSpec,
  marshalTypes,
  Member,
  parseSpec,
  sizeof,
  skipQualifiers,
  type Spec,
  Struct,
  Var,
  Void,
} from "../../btf/mod.ts";
import {
  btfFeatures,
  BtfHandle,
  kernelCompat,
  mapKernelBtf,
  mapKernelSpec,
} from "../../btf/handle.ts";
import { ClosedError, Errno, SyscallError } from "../../errors.ts";
import { BpfCmd, kernelBackend, setBackend } from "../../ffi.ts";
import { assertNoFdLeak, kernelTest, testdata } from "../_harness.ts";
import { assertSameLines, btfObjects } from "./_util.ts";

/**
 * Does what a loader does before BPF_BTF_LOAD: lays out the variables of data sections
 * clang left at size 0 (from the ELF symbol table, in a real loader), since the kernel
 * refuses empty sections and overlapping variables; and makes extern functions (kfuncs)
 * global, since the kernel refuses extern linkage
 * (the loader resolves externs first).
 */
function layoutDatasecs(spec: Spec): void {
  for (const t of spec.types()) {
    if ((t instanceof Func || t instanceof Var) && t.linkage === Linkage.Extern) {
      t.linkage = Linkage.Global;
      // A typeless ksym (`extern const void sym __ksym`) gets an int, as libbpf gives it.
      if (t instanceof Var && skipQualifiers(t.type) instanceof Void) {
        t.type = spec.typeByName("int", Int) ?? new Int("int", 4, 1);
      }
      // clang leaves the parameters of extern declarations unnamed; the kernel wants names.
      if (t instanceof Func) {
        for (const [i, p] of (t.type as FuncProto).params.entries()) p.name ||= `arg${i}`;
      }
    }
    if (!(t instanceof Datasec) || t.size !== 0) continue;
    // Functions (kfuncs) share .ksyms with variables; the kernel takes only variables there.
    t.vars = t.vars.filter((v) => v.type instanceof Var);
    let off = 0;
    for (const v of t.vars) {
      if (!(v.type instanceof Var)) continue;
      const size = sizeof(v.type.type);
      off = Math.ceil(off / 8) * 8;
      v.offset = off;
      v.size = size;
      off += size;
    }
    t.size = off;
  }
}

for (const obj of btfObjects()) {
  kernelTest(`written BTF of testdata/${obj} loads with BPF_BTF_LOAD`, async () => {
    const spec = loadSpec(testdata(obj));
    layoutDatasecs(spec);
    // Sections whose only entries are functions (.ksyms) stay empty: drop them.
    const types = [...spec.types()].filter((t) => !(t instanceof Datasec && t.size === 0));
    await assertNoFdLeak(() => {
      using h = BtfHandle.load(types);
      const info = h.info();
      assert(info.id > 0);
      assert(!info.kernelBtf);
      assertEquals(info.name, "");
      // What the kernel holds is what we wrote.
      const back = h.spec();
      assertEquals(back.typeCount, types.length);
      assertEquals(back.typeByName(types[0].name)?.kind ?? types[0].kind, types[0].kind);
      assertEquals(h.typeId(types[3]), 4);
    });
  });
}

kernelTest("every BTF feature probe succeeds on this kernel (6.18)", () => {
  for (const [name, probe] of Object.entries(btfFeatures)) {
    assert(probe.supported(), name);
    probe();
  }
  assertEquals(Object.values(kernelCompat()).filter(Boolean), []);
});

kernelTest(
  "kernelCompat asks one BTF load of a kernel with every kind, each probe otherwise",
  () => {
    // Fresh backends: probes are answered once per backend.
    const run = (refuseFirst: boolean) => {
      const loads: number[] = [];
      const restore = setBackend({
        bpf: (cmd, attr) => {
          if (cmd !== BpfCmd.BTF_LOAD) return kernelBackend.bpf(cmd, attr);
          loads.push(cmd);
          // The first load refused, as a kernel without one of the kinds refuses the blob.
          if (refuseFirst && loads.length === 1) return -Errno.EINVAL;
          return kernelBackend.bpf(cmd, attr);
        },
        address: kernelBackend.address,
      });
      try {
        return { compat: kernelCompat(), loads: loads.length };
      } finally {
        restore();
      }
    };
    const individually = Object.values(btfFeatures).map((p) => p.supported());
    assert(individually.every(Boolean));
    const fast = run(false);
    assertEquals([Object.values(fast.compat).filter(Boolean), fast.loads], [[], 1]);
    const slow = run(true);
    assertEquals(slow.compat, fast.compat);
    assertEquals(slow.loads, 1 + 7);
  },
);

kernelTest("compat output for old kernels still loads", () => {
  const spec = loadSpec(testdata("btf_kinds-el.o"));
  layoutDatasecs(spec);
  const types = [...spec.types()].filter((t) => !(t instanceof Datasec && t.size === 0));
  using h = BtfHandle.load(types, {
    compat: {
      replaceDeclTags: true,
      replaceTypeTags: true,
      replaceEnum64: true,
      replaceFloat: true,
      stripFuncLinkage: true,
    },
  });
  const back = h.spec();
  assertEquals(back.typesByName("member_tag").map((t) => t.kind), ["int"]);
  assertEquals(back.typeByName("big_signed")?.kind, "union");
});

kernelTest("the kernel's own BTF, by id, reads back equal to /sys/kernel/btf/vmlinux", () => {
  using h = BtfHandle.fromId(1);
  const info = h.info();
  assertEquals(info.name, "vmlinux");
  assert(info.kernelBtf);
  assertSameLines(formatRaw(h.spec()), formatRaw(loadKernelSpec()), "vmlinux by id");
});

kernelTest("a rejected blob throws SyscallError with the verifier's reason", () => {
  // A struct whose member lies beyond its size: the kernel's BTF checker refuses it.
  const int = new Int("int", 4, 1);
  const bad = new Struct("bad", 4, []);
  bad.members = [new Member("x", int, 64)];
  const e = assertThrows(() => BtfHandle.load([bad]), SyscallError);
  assertEquals(e.code, "EINVAL");
  assert(e.message.length > "BPF_BTF_LOAD failed: EINVAL".length, e.message);
  assertThrows(() => BtfHandle.fromId(0), RangeError);
});

kernelTest("raw bytes load as they are; a handle closes once and then refuses use", () => {
  const spec = loadSpec(testdata("socket_filter-el.o"));
  layoutDatasecs(spec);
  const h = BtfHandle.load(spec);
  const raw = h.spec();
  h.close();
  h.close();
  assert(h.closed);
  assertThrows(() => h.fd, ClosedError);
  assertThrows(() => h.info(), ClosedError);
  const again = BtfHandle.load(marshalTypes(raw.types()));
  assertEquals(again.spec().typeCount, raw.typeCount);
  again.close();
});

kernelTest(
  "vmlinux BTF maps equal to the file, shares the kernel spec cache, unmaps when collected",
  async () => {
    const path = "/sys/kernel/btf/vmlinux";
    const mappings = () =>
      Deno.readTextFileSync("/proc/self/maps").split("\n").filter((l) => l.endsWith(path)).length;
    const before = mappings();
    await assertNoFdLeak(async () => {
      let mapped = mapKernelBtf();
      // Kernels before 6.16 refuse the mapping; mapKernelSpec then reads the file.
      if (mapped === undefined) return;
      const read = Deno.readFileSync(path);
      assertEquals(mapped.length, read.length);
      assert(mapped.every((b, i) => b === read[i]), "mapped bytes differ from the file");
      assertEquals(parseSpec(mapped).typeCount, parseSpec(read).typeCount);
      assertEquals(mappings(), before + 1);
      mapped = undefined;
      // The FinalizationRegistry unmaps once the buffer is collected and the loop turns.
      const gc = (globalThis as { gc?: () => void }).gc;
      if (gc === undefined) return;
      // Until the mapping is gone; the deadline only bounds a registry that never runs.
      const deadline = Date.now() + 30_000;
      while (mappings() > before && Date.now() < deadline) {
        gc();
        await new Promise((r) => setTimeout(r, 0));
      }
      assertEquals(mappings(), before);
    });
    assert(mapKernelSpec() === loadKernelSpec());
  },
);
