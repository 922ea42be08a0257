import { assert, assertEquals, assertThrows } from "@std/assert";
import {
  haveMapType,
  MAP_TYPE_MIN_KERNEL,
  MapType,
  mapTypeName,
  requireMapType,
} from "../../mod.ts";
import { NotSupportedError } from "../../errors.ts";
import { setBackend } from "../../ffi.ts";
import { kernelTest, openFdCount } from "../_harness.ts";

kernelTest("haveMapType: every map type of today's uapi exists on this kernel", () => {
  const before = openFdCount();
  const missing = Object.entries(MapType)
    .filter(([name, type]) => name !== "Unspecified" && !haveMapType(type))
    .map(([name]) => name);
  assertEquals(missing, []);
  assertEquals(openFdCount(), before, "probes close what they create");
});

Deno.test("haveMapType: EINVAL from the kernel means not supported", () => {
  const restore = setBackend({ bpf: () => -22, address: () => 1n });
  try {
    assertEquals(haveMapType(MapType.RingBuf), false);
    const e = assertThrows(() => requireMapType(MapType.RingBuf), NotSupportedError);
    assertEquals(e.feature, "BPF_MAP_TYPE_RINGBUF");
    assertEquals(e.minKernel, "5.8");
  } finally {
    restore();
  }
  assertThrows(() => haveMapType(99 as MapType), RangeError);
});

Deno.test("map types: names and first kernels cover every type", () => {
  for (const type of Object.values(MapType)) {
    assert(mapTypeName(type).startsWith("BPF_MAP_TYPE_"), mapTypeName(type));
    assert(MAP_TYPE_MIN_KERNEL[type]);
  }
  assertEquals(mapTypeName(MapType.LRUCPUHash), "BPF_MAP_TYPE_LRU_PERCPU_HASH");
  assertEquals(mapTypeName(1234), "map type 1234");
});
