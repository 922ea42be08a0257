import { assertEquals, assertThrows } from "@std/assert";
import { Array as BtfArray, Enum, EnumValue, Int, IntEncoding } from "../../btf/mod.ts";
import { kernelConfig, kernelVersionCode, writeKconfig } from "../../prog/_kconfig.ts";

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
