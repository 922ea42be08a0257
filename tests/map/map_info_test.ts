// Map info, field by field against `bpftool -j map show id N` and the kernel's fdinfo text
// (for what bpftool 7.1 does not print: map_extra), over maps of several kinds: BTF-typed hash,
// frozen .rodata, .bss, bloom filter (map_extra), per-CPU array and ring buffer.
import { assertEquals } from "@std/assert";
import { loadCollectionSpec } from "../../elf/mod.ts";
import { newCollection } from "../../prog/mod.ts";
import { BpfMap, type MapInfo, MapSpec, MapType, mapTypeName } from "../../map/mod.ts";
import { fdinfoFields, kernelTest, run, testdata } from "../_harness.ts";

interface BpftoolMap {
  id: number;
  type: string;
  name: string;
  flags: number;
  bytes_key: number;
  bytes_value: number;
  max_entries: number;
  bytes_memlock: number;
  frozen: number;
  btf_id?: number;
}

function assertAgrees(map: BpfMap, what: string): MapInfo {
  const info = map.info();
  const shown = JSON.parse(
    run("bpftool", ["-j", "map", "show", "id", String(info.id)]),
  ) as BpftoolMap;
  assertEquals(info.id, shown.id, what);
  assertEquals(mapTypeName(info.type).replace("BPF_MAP_TYPE_", "").toLowerCase(), shown.type);
  assertEquals(info.name, shown.name, what);
  assertEquals(info.flags, shown.flags, what);
  assertEquals(info.keySize, shown.bytes_key, what);
  assertEquals(info.valueSize, shown.bytes_value, what);
  assertEquals(info.maxEntries, shown.max_entries, what);
  assertEquals(info.memlock, shown.bytes_memlock, what);
  assertEquals(info.frozen, shown.frozen !== 0, what);
  assertEquals(info.btfId, shown.btf_id ?? 0, what);
  const fields = fdinfoFields(map.fd);
  assertEquals(info.mapExtra, BigInt(fields.map_extra), what);
  assertEquals(info.flags, Number(fields.map_flags), what);
  return info;
}

kernelTest("map info: fields agree with bpftool map show and fdinfo", async () => {
  const spec = await loadCollectionSpec(testdata("introspect_prog-el.o"));
  using coll = newCollection(spec);
  const hash = assertAgrees(coll.maps.lengths, "lengths");
  // The hash map's key and value types are the BTF's u32 and u64.
  assertEquals(hash.btfKeyTypeId !== 0 && hash.btfValueTypeId !== 0, true);
  const rodata = assertAgrees(coll.maps[".rodata"], ".rodata");
  assertEquals(rodata.frozen, true);
  assertEquals(assertAgrees(coll.maps[".bss"], ".bss").frozen, false);

  using bloom = BpfMap.create(
    new MapSpec({
      name: "info_bloom",
      type: MapType.BloomFilter,
      keySize: 0,
      valueSize: 4,
      maxEntries: 16,
      mapExtra: 3n,
    }),
  );
  assertEquals(assertAgrees(bloom, "bloom").mapExtra, 3n);
  using perCpu = BpfMap.create(
    new MapSpec({
      name: "info_percpu",
      type: MapType.PerCPUArray,
      keySize: 4,
      valueSize: 8,
      maxEntries: 4,
    }),
  );
  assertAgrees(perCpu, "per-CPU array");
  using ring = BpfMap.create(
    new MapSpec({ name: "info_ring", type: MapType.RingBuf, maxEntries: 4096 }),
  );
  assertAgrees(ring, "ring buffer");
  // Freezing shows at once.
  perCpu.freeze();
  assertEquals(assertAgrees(perCpu, "frozen per-CPU array").frozen, true);
});
