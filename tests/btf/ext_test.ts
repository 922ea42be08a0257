// .BTF.ext: func_info, line_info and CO-RE records of the testdata objects, as the C
// sources say they must be, in both byte orders; malformed sections.
import { assert, assertEquals, assertThrows } from "@std/assert";
import {
  CoreReloKind,
  Enum,
  Func,
  loadSpecAndExtInfos,
  parseExtInfos,
  Struct,
  Typedef,
} from "../../btf/mod.ts";
import { elfSections } from "../../btf/_elf.ts";
import { FormatError } from "../../errors.ts";
import { testdata } from "../_harness.ts";

const K = CoreReloKind;

/** One program per relocation kind in core_relos.c: [section, kind, root type, accessor]. */
const SINGLE: [string, number, string, string][] = [
  ["raw_tp/field_offset", K.FieldByteOffset, "core_flags", "0:3:1"],
  ["raw_tp/field_size", K.FieldByteSize, "core_flags", "0:4"],
  ["raw_tp/field_exists", K.FieldExists, "core_flags", "0:3:0"],
  ["raw_tp/field_signed", K.FieldSigned, "core_flags", "0:1"],
  ["raw_tp/field_lshift", K.FieldLShiftU64, "core_flags", "0:2"],
  ["raw_tp/field_rshift", K.FieldRShiftU64, "core_flags", "0:0"],
  ["raw_tp/type_id_local", K.TypeIdLocal, "core_flags", "0"],
  ["raw_tp/type_id_kernel", K.TypeIdTarget, "core_flags_t", "0"],
  ["raw_tp/type_exists", K.TypeExists, "core_inner", "0"],
  ["raw_tp/type_size", K.TypeSize, "core_flags", "0"],
  ["raw_tp/enum_value_exists", K.EnumvalExists, "core_color", "1"],
  ["raw_tp/enum_value", K.EnumvalValue, "core_color", "2"],
  ["raw_tp/type_matches", K.TypeMatches, "core_inner", "0"],
];

for (const endian of ["el", "eb"]) {
  Deno.test(`core_relos-${endian}.o: one CO-RE record of each kind, with its target`, () => {
    const { spec, extInfos: ext } = loadSpecAndExtInfos(testdata(`core_relos-${endian}.o`));
    assert(ext);
    const extInfos = ext!;
    const relos = extInfos.coreRelos;
    assertEquals(relos.size, SINGLE.length + 2);
    for (const [section, kind, root, accessor] of SINGLE) {
      const list = relos.get(section)!;
      assertEquals(list.length, 1, section);
      assertEquals([list[0].kind, list[0].type.name, list[0].accessor], [kind, root, accessor]);
      assertEquals(spec.typeById(list[0].typeId), list[0].type);
    }
    assertEquals(relos.get("raw_tp/type_id_kernel")![0].type.kind, "typedef");
    assert(relos.get("raw_tp/enum_value")![0].type instanceof Enum);
    // BPF_CORE_READ_BITFIELD(f, b): offset, size, lshift, signed and the two rshift branches.
    const bf = relos.get("raw_tp/read_bitfield")!;
    assertEquals(bf.map((r) => r.kind), [
      K.FieldByteOffset,
      K.FieldByteSize,
      K.FieldLShiftU64,
      K.FieldSigned,
      K.FieldRShiftU64,
      K.FieldRShiftU64,
    ]);
    assert(bf.every((r) => r.accessor === "0:1" && r.type.name === "core_flags"));
    assert(bf.every((r, i) => i === 0 || r.insnOffset > bf[i - 1].insnOffset));
    assert(bf.every((r) => r.insnOffset % 8 === 0));
    // f->arr[2] through preserve_access_index: member 4, element 2.
    const load = relos.get("raw_tp/plain_load")!;
    assertEquals(load.map((r) => [r.kind, r.accessor]), [[K.FieldByteOffset, "0:4:2"]]);
    assert(spec.typeByName("core_flags", Struct));
    assert(spec.typeByName("core_flags_t", Typedef));

    // One function per section, at its start.
    assertEquals(extInfos.funcInfos.size, 15);
    for (const [section, infos] of extInfos.funcInfos) {
      assertEquals(infos.length, 1);
      assertEquals(infos[0].insnOffset, 0);
      assert(infos[0].func instanceof Func);
      assertEquals(`raw_tp/${infos[0].func.name}`, section);
    }
    // Line info points into core_relos.c; every program has a line for its builtin.
    const lines = extInfos.lineInfos.get("raw_tp/field_offset")!;
    assertEquals(lines.length, 3);
    assert(lines.every((l) => l.fileName.endsWith("core_relos.c")));
    assert(lines.some((l) => l.line.includes("bpf_core_field_offset(f->inner.y)")));
    assertEquals(extInfos.lineInfos.get("raw_tp/read_bitfield")!.length, 9);
    assertEquals(extInfos.recordSizes, { funcInfo: 8, lineInfo: 16, coreRelo: 16 });
  });

  Deno.test(`maps_globals-${endian}.o: func and line info per section`, () => {
    const extInfos = loadSpecAndExtInfos(testdata(`maps_globals-${endian}.o`)).extInfos!;
    const funcs = [...extInfos.funcInfos].map(([s, f]) => [s, f.map((x) => x.func.name)]);
    assertEquals(funcs, [
      ["socket", ["count_packets"]],
      [".text", ["scale"]],
      ["tracepoint/syscalls/sys_enter_getpid", ["on_getpid"]],
    ]);
    assertEquals(extInfos.coreRelos.size, 0);
    const scale = extInfos.lineInfos.get(".text")!;
    assert(scale.some((l) => l.line.includes("return v * threshold + extra[v & 3];")));
    assert(scale.every((l) => l.lineNumber > 0));
  });
}

Deno.test("malformed .BTF.ext gives FormatErrors", () => {
  const bytes = Deno.readFileSync(testdata("core_relos-el.o"));
  const { sections } = elfSections(bytes);
  const { spec } = loadSpecAndExtInfos(testdata("core_relos-el.o"));
  const ext = sections.get(".BTF.ext")!.slice();
  parseExtInfos(ext, spec);
  const bad = (mutate: (v: DataView) => void, message?: string) => {
    const b = ext.slice();
    mutate(new DataView(b.buffer));
    assertThrows(() => parseExtInfos(b, spec), FormatError, message);
  };
  const funcOff = new DataView(ext.buffer).getUint32(8, true);
  const hdr = new DataView(ext.buffer).getUint32(4, true);
  bad((v) => v.setUint16(0, 0), "magic");
  bad((v) => v.setUint32(12, 1 << 24, true), "out of range");
  bad((v) => v.setUint32(hdr + funcOff, 4, true), "record size");
  bad((v) => v.setUint32(hdr + funcOff + 8, 1 << 20, true), "overrun");
  bad((v) => v.setUint32(hdr + funcOff + 4, 1 << 30, true), "String offset");
  bad((v) => v.setUint32(hdr + funcOff + 16, 1 << 20, true), "Type id");
  assertThrows(() => parseExtInfos(ext.subarray(0, 8), spec), FormatError);
  const be = loadSpecAndExtInfos(testdata("core_relos-eb.o")).spec;
  assertThrows(() => parseExtInfos(ext, be), FormatError, "byte order");
});
