// struct_ops maps: created against the kernel's bpf_struct_ops_<name> value type, checked
// with bpftool (an independent reader of both the kernel's BTF and the map's info).
import { assert, assertEquals, assertThrows } from "@std/assert";
import { BpfMap, btf, MapSpec, MapType } from "../../mod.ts";
import { BtfHandle } from "../../btf/handle.ts";
import { NotSupportedError, SyscallError } from "../../errors.ts";
import { assertNoFdLeak, ensureBpffs, kernelTest, run } from "../_harness.ts";

const u64 = new btf.Int("u64", 8);
const int = new btf.Int("int", 4, btf.IntEncoding.Signed);

/** The user-side view of tcp_congestion_ops a BPF object would carry: a few members. */
function userCongestionOps(): btf.Struct {
  const fnPtr = new btf.Pointer(new btf.FuncProto(int, []));
  return new btf.Struct("tcp_congestion_ops", 32, [
    new btf.Member("ssthresh", fnPtr, 0),
    new btf.Member("cong_avoid", fnPtr, 64),
    new btf.Member("flags", u64, 128),
    new btf.Member("name", new btf.Array(new btf.Int("char", 1), int, 8), 192),
  ]);
}

/** The id and size bpftool reports for a type of the kernel's BTF. */
function bpftoolKernelType(name: string): { id: number; size: number } | undefined {
  const dump = run("bpftool", ["btf", "dump", "file", "/sys/kernel/btf/vmlinux"]);
  const m = new RegExp(`^\\[(\\d+)\\] STRUCT '${name}' size=(\\d+)`, "m").exec(dump);
  return m ? { id: Number(m[1]), size: Number(m[2]) } : undefined;
}

const skipIfNoTcpCa = () =>
  bpftoolKernelType("bpf_struct_ops_tcp_congestion_ops") === undefined
    ? "the kernel registers no tcp_congestion_ops struct_ops"
    : undefined;

kernelTest("struct_ops map: created with the kernel's value type and size", async () => {
  const kernel = bpftoolKernelType("bpf_struct_ops_tcp_congestion_ops")!;
  const dir = `${ensureBpffs()}/ebpf_struct_ops_${Deno.pid}`;
  Deno.mkdirSync(dir, { recursive: true });
  try {
    await assertNoFdLeak(() => {
      const spec = new MapSpec({
        name: "tcp_ca_ops",
        type: MapType.StructOpsMap,
        keySize: 4,
        valueSize: 32, // the object's view; the kernel's wrapper is bigger
        maxEntries: 1,
        value: userCongestionOps(),
      });
      using m = BpfMap.create(spec);
      assertEquals([m.keySize, m.valueSize, m.maxEntries], [4, kernel.size, 1]);
      assertEquals(spec.valueSize, 32, "the spec is left as it was");
      const info = m.info();
      assertEquals(info.type, MapType.StructOpsMap);
      assertEquals(info.valueSize, kernel.size);
      assertEquals(info.btfVmlinuxValueTypeId, kernel.id);
      assertEquals([info.btfKeyTypeId, info.btfValueTypeId], [0, 0]);
      assert(info.btfId > 0, "the map holds a BTF object of ours");

      // bpftool reads the map's info on its own.
      const shown = JSON.parse(run("bpftool", ["map", "show", "id", String(info.id), "-j"]));
      assertEquals(shown.type, "struct_ops");
      assertEquals(shown.bytes_value, kernel.size);
      assertEquals(shown.name, "tcp_ca_ops");

      // An unregistered ops table reads back as zeros; keys other than 0 do not exist.
      const value = m.lookup(0)!;
      assertEquals(value.length, kernel.size);
      assert(value.every((b) => b === 0));
      assertEquals(m.lookup(1), undefined);

      // Pinned and reopened, it is the same map with the same sizes.
      const path = `${dir}/ops`;
      m.pin(path);
      try {
        using again = BpfMap.loadPinned(path);
        assertEquals([again.type, again.valueSize], [MapType.StructOpsMap, kernel.size]);
        assertEquals(again.info().id, info.id);
      } finally {
        BpfMap.unpin(path);
      }
    });
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}, { skipIf: skipIfNoTcpCa });

kernelTest("struct_ops map: caller-given value type id and BTF fd are used as given", async () => {
  const kernel = bpftoolKernelType("bpf_struct_ops_tcp_congestion_ops")!;
  await assertNoFdLeak(() => {
    using handle = BtfHandle.load([u64]);
    using m = BpfMap.create(
      new MapSpec({
        name: "given",
        type: MapType.StructOpsMap,
        keySize: 4,
        valueSize: kernel.size,
        maxEntries: 1,
      }),
      { btf: { fd: handle.fd, keyTypeId: 0, valueTypeId: 0, vmlinuxValueTypeId: kernel.id } },
    );
    const info = m.info();
    assertEquals(info.btfVmlinuxValueTypeId, kernel.id);
    assertEquals(info.btfId, handle.info().id);
  });
}, { skipIf: skipIfNoTcpCa });

kernelTest("struct_ops map: bad specs are typed errors and leak no fd", async () => {
  await assertNoFdLeak(() => {
    const base = { name: "bad", type: MapType.StructOpsMap, keySize: 4, maxEntries: 1 };
    // No value type, or one that is not a named struct.
    assertThrows(() => BpfMap.create(new MapSpec(base)), TypeError, "named BTF struct");
    assertThrows(() => BpfMap.create(new MapSpec({ ...base, value: u64 })), TypeError);
    // A struct_ops the kernel does not have.
    const err = assertThrows(
      () => BpfMap.create(new MapSpec({ ...base, value: new btf.Struct("no_such_ops", 8, []) })),
      NotSupportedError,
      "bpf_struct_ops_no_such_ops",
    ) as NotSupportedError;
    assertEquals(err.feature, 'struct_ops "no_such_ops"');
    // The kernel's checks: one entry, 4-byte keys.
    if (skipIfNoTcpCa() === undefined) {
      const value = userCongestionOps();
      assertThrows(
        () => BpfMap.create(new MapSpec({ ...base, maxEntries: 2, value })),
        SyscallError,
        "EINVAL",
      );
      assertThrows(
        () => BpfMap.create(new MapSpec({ ...base, keySize: 8, value })),
        SyscallError,
        "EINVAL",
      );
    }
  });
});

kernelTest("struct_ops map: 1,000 create/close cycles leak no fd", async () => {
  const value = userCongestionOps();
  await assertNoFdLeak(() => {
    for (let i = 0; i < 1000; i++) {
      const m = BpfMap.create(
        new MapSpec({ name: "cycle", type: MapType.StructOpsMap, value }),
      );
      m.close();
    }
  });
}, { skipIf: skipIfNoTcpCa });
