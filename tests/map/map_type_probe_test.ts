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
import { kernelAtLeast, kernelTest, openFdCount } from "../_harness.ts";

kernelTest("haveMapType: every map type as old as this kernel exists, and no newer one", () => {
  const before = openFdCount();
  const types = Object.entries(MapType).filter(([name]) => name !== "Unspecified");
  const missing = types.filter(([, type]) => !haveMapType(type)).map(([name]) => name);
  // The oracle is the version (6.18 has all of today's uapi; 6.1 lacks cgrp_storage, arena).
  const newer = types.filter(([, type]) => !kernelAtLeast(MAP_TYPE_MIN_KERNEL[type]))
    .map(([name]) => name);
  assertEquals(missing, newer);
  for (const [name, type] of types.filter(([, t]) => !haveMapType(t))) {
    const e = assertThrows(() => requireMapType(type), NotSupportedError);
    assertEquals(e.minKernel, MAP_TYPE_MIN_KERNEL[type], name);
  }
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
