// CO-RE relocation, kind by kind, against small target specs built here: field offsets
// with flavours and anonymous members, load size changes, bitfields (byte size, shifts,
// signedness), enums (32-bit signed, ENUM64), type existence/size/ids/matches, poisoning
// and its explanation, ambiguity, module BTF, and libbpf's error cases.
import { assert, assertEquals, assertThrows } from "@std/assert";
import {
  applyCoreRelocations,
  Array as ArrayType,
  calcCoreRelocations,
  CORE_FIXUP_META,
  CORE_POISON_META,
  CORE_RELO_META,
  CORE_TARGET_META,
  CoreCandidateCache,
  corePoisonOf,
  type CoreRelo,
  CoreRelocationError,
  CoreReloKind,
  type CoreTarget,
  type CoreTargets,
  describeCoreRelo,
  Enum,
  EnumValue,
  explainCorePoison,
  Fwd,
  Int,
  IntEncoding,
  marshalTypes,
  Member,
  parseSpec,
  Pointer,
  POISON_HELPER_ID,
  type Spec,
  Struct,
  type Type,
  Typedef,
  Union,
} from "../../btf/mod.ts";
import { asm } from "../../mod.ts";
import { findCandidates, findCandidatesOfAll, toCoreTargets } from "../../btf/core_candidates.ts";
import { essentialName } from "../../btf/helpers.ts";

const K = CoreReloKind;
const { R0, R1 } = asm;

const s32 = () => new Int("int", 4, IntEncoding.Signed);
const u32 = () => new Int("unsigned int", 4);
const u64 = () => new Int("long long unsigned int", 8);
const s64 = () => new Int("long long int", 8, IntEncoding.Signed);
const u8 = () => new Int("unsigned char", 1);

function target(...types: Type[]): Spec {
  return parseSpec(marshalTypes(types));
}

function relo(type: Type, accessor: string, kind: CoreReloKind, typeId = 1): CoreRelo {
  return { insnOffset: 0, typeId, type, accessor, kind };
}

/** A program of one relocated instruction (then `exit`), and its patched copy. */
function apply(
  ins: asm.Instruction,
  r: CoreRelo,
  targets: Spec | Spec[] | CoreTargets,
  cache?: CoreCandidateCache,
) {
  const prog = new asm.Instructions([asm.setMeta(ins, CORE_RELO_META, r), asm.Return()]);
  const before = prog.marshal("little");
  const out = applyCoreRelocations(prog, targets, { cache });
  // The input is never changed.
  assertEquals(prog.marshal("little"), before);
  return out;
}

/** The value a relocation gives, through a `mov r0, imm` carrying the local value. */
function value(
  r: CoreRelo,
  local: number,
  targets: Spec | Spec[] | CoreTargets,
  cache?: CoreCandidateCache,
): number {
  const out = apply(asm.Mov.Imm(R0, local), r, targets, cache);
  const ins = out.list[0];
  assertEquals(ins.opcode, asm.Mov.Imm(R0, 0).opcode, describeCoreRelo(r));
  return ins.imm;
}

// Local struct foo___v1 { int a; int b; }; target struct foo { long long x; int b; int a; }.
const localFoo = () =>
  new Struct("foo___v1", 8, [new Member("a", s32(), 0), new Member("b", s32(), 32)]);
const targetFoo = () =>
  new Struct("foo", 16, [
    new Member("x", s64(), 0),
    new Member("b", s32(), 64),
    new Member("a", s32(), 96),
  ]);

Deno.test("CO-RE field byte offset: flavoured local, matched by member name", () => {
  const t = target(targetFoo());
  assertEquals(value(relo(localFoo(), "0:1", K.FieldByteOffset), 4, t), 8);
  assertEquals(value(relo(localFoo(), "0:0", K.FieldByteOffset), 0, t), 12);
  // Array index in the root: &p[2].b.
  assertEquals(value(relo(localFoo(), "2:1", K.FieldByteOffset), 20, t), 2 * 16 + 8);
  // A load's offset is patched, its size kept.
  const out = apply(
    asm.LoadMem(R0, R1, 4, asm.Word),
    relo(localFoo(), "0:1", K.FieldByteOffset),
    t,
  );
  assertEquals([out.list[0].offset, out.list[0].opcode], [
    8,
    asm.LoadMem(R0, R1, 0, asm.Word).opcode,
  ]);
  assert(asm.getMeta(out.list[0], CORE_FIXUP_META));
  assertEquals(asm.getMeta(out.list[0], CORE_RELO_META), undefined);
});

Deno.test("CO-RE field through anonymous members, arrays and typedefs", () => {
  // Local: struct bar { int pad; union { int u; struct { int deep[4]; } s; }; }
  const inner = new Struct("", 16, [new Member("deep", new ArrayType(s32(), s32(), 4), 0)]);
  const un = new Union("", 16, [new Member("u", s32(), 0), new Member("s", inner, 0)]);
  const local = new Struct("bar", 20, [new Member("pad", s32(), 0), new Member("", un, 32)]);
  // Target: the union moved behind more fields and a typedef, the array longer.
  const tInner = new Struct("", 32, [
    new Member("x", s32(), 0),
    new Member("deep", new Typedef("deep_t", new ArrayType(s32(), s32(), 7)), 32),
  ]);
  const tUn = new Union("", 32, [new Member("s", tInner, 0), new Member("u", s32(), 0)]);
  const tgt = new Struct("bar", 48, [
    new Member("pad", s32(), 0),
    new Member("more", s64(), 64),
    new Member("", tUn, 128),
  ]);
  const t = target(tgt);
  // s.deep[3]: local 4 + 3*4 = 16; target 16 + 4 + 12 = 32.
  const r = relo(local, "0:1:1:0:3", K.FieldByteOffset);
  assertEquals(describeCoreRelo(r), "<byte_off> [1] struct bar.s.deep[3] (0:1:1:0:3 @ offset 16)");
  assertEquals(value(r, 16, t), 32);
  // An index past the target array's end does not match: poisoned.
  const far = new Struct("bar", 20, [
    new Member("pad", s32(), 0),
    new Member(
      "",
      new Union("", 40, [
        new Member(
          "s",
          new Struct("", 40, [new Member("deep", new ArrayType(s32(), s32(), 10), 0)]),
          0,
        ),
      ]),
      32,
    ),
  ]);
  const out = apply(asm.Mov.Imm(R0, 4 + 36), relo(far, "0:1:0:0:9", K.FieldByteOffset), t);
  assertEquals(out.list[0].imm, POISON_HELPER_ID);
});

Deno.test("CO-RE field byte size, exists, signed", () => {
  const t = target(targetFoo());
  assertEquals(value(relo(localFoo(), "0:1", K.FieldByteSize), 4, t), 4);
  assertEquals(value(relo(localFoo(), "0:1", K.FieldExists), 1, t), 1);
  assertEquals(value(relo(localFoo(), "0:1", K.FieldSigned), 1, t), 1);
  const gone = new Struct("foo___v2", 8, [new Member("c", s32(), 0)]);
  assertEquals(value(relo(gone, "0:0", K.FieldExists), 1, t), 0);
  // An unsigned target field.
  const t2 = target(new Struct("foo", 4, [new Member("b", u32(), 0)]));
  assertEquals(value(relo(localFoo(), "0:1", K.FieldSigned), 1, t2), 0);
  // A signed enum field counts as signed.
  const en = new Enum("e", 4, [new EnumValue("A", -1n)], true);
  const t3 = target(new Struct("foo", 4, [new Member("b", en, 0)]));
  const lEn = new Enum("e", 4, [new EnumValue("A", 1n)], false);
  const local = new Struct("foo", 4, [new Member("b", lEn, 0)]);
  assertEquals(value(relo(local, "0:0", K.FieldSigned), 0, t3), 1);
});

Deno.test("CO-RE load size follows the target for unsigned ints and pointers only", () => {
  const local = new Struct("sz", 8, [new Member("c", u32(), 0), new Member("s", s32(), 32)]);
  const tgt = new Struct("sz", 16, [new Member("c", u64(), 0), new Member("s", s64(), 64)]);
  const t = target(tgt);
  const ok = apply(asm.LoadMem(R0, R1, 0, asm.Word), relo(local, "0:0", K.FieldByteOffset), t);
  assertEquals(ok.list[0].opcode, asm.LoadMem(R0, R1, 0, asm.DWord).opcode);
  // A signed int changing size would read a wrong value: poisoned, with the reason.
  const bad = apply(asm.LoadMem(R0, R1, 4, asm.Word), relo(local, "0:1", K.FieldByteOffset), t);
  assertEquals([bad.list[0].opcode, bad.list[0].imm], [0x85, POISON_HELPER_ID]);
  assert(corePoisonOf(bad.list[0])!.reason.includes("size 8 in the target instead of 4"));
  // A mov of the offset (no memory access) is fine with any size change.
  assertEquals(value(relo(local, "0:1", K.FieldByteOffset), 4, t), 8);
});

Deno.test("CO-RE bitfields: byte offset and size of the load, shifts, signedness", () => {
  // Local: struct bf { unsigned a:3; int b:5; }.
  const local = new Struct("bf", 4, [
    new Member("a", u32(), 0, 3),
    new Member("b", s32(), 3, 5),
    new Member("q", u8(), 8, 6),
  ]);
  // Target: b at bit 39 (5 bits, int), q (unsigned char, 6 bits) at bit 5, straddling a
  // byte boundary so that a 2-byte load is needed.
  const tgt = new Struct("bf", 8, [
    new Member("q", u8(), 5, 6),
    new Member("pad", s32(), 0, 0),
    new Member("z", s32(), 32, 7),
    new Member("b", s32(), 39, 5),
  ]);
  const t = target(tgt);
  const v = (acc: string, kind: CoreReloKind, local = 0) =>
    value(relo(local_(), acc, kind), local, t);
  const local_ = () => local;
  assertEquals(v("0:1", K.FieldByteOffset), 4);
  assertEquals(v("0:1", K.FieldByteSize), 4);
  assertEquals(v("0:1", K.FieldLShiftU64), 64 - (39 + 5 - 32));
  assertEquals(v("0:1", K.FieldRShiftU64, 59), 59);
  assertEquals(v("0:1", K.FieldSigned, 1), 1);
  assertEquals(v("0:2", K.FieldByteOffset), 0);
  assertEquals(v("0:2", K.FieldByteSize), 2);
  assertEquals(v("0:2", K.FieldLShiftU64), 64 - 11);
  assertEquals(v("0:2", K.FieldRShiftU64, 58), 58);
  assertEquals(v("0:2", K.FieldSigned, 0), 0);
  // The right shift is checked against the instruction (it never depends on layout).
  assertThrows(() => v("0:1", K.FieldRShiftU64, 1), CoreRelocationError, "unexpected value");
  // A bitfield no 64-bit load can cover.
  const wide = target(new Struct("bf", 16, [new Member("b", s32(), 60, 5)]));
  assertThrows(
    () => value(relo(local, "0:1", K.FieldByteOffset), 0, wide),
    CoreRelocationError,
    "bitfield cannot be read with a 64-bit load",
  );
});

Deno.test("CO-RE enum values: 32-bit signed through mov, ENUM64 through ld_imm64", () => {
  const local = new Enum("color___mine", 4, [
    new EnumValue("RED___mine", 1n),
    new EnumValue("GONE", 2n),
  ]);
  const tgt = new Enum("color", 4, [new EnumValue("BLUE", 7n), new EnumValue("RED", -5n)], true);
  const t = target(tgt);
  assertEquals(value(relo(local, "0", K.EnumvalExists), 1, t), 1);
  assertEquals(value(relo(local, "1", K.EnumvalExists), 1, t), 0);
  assertEquals(value(relo(local, "0", K.EnumvalValue), 1, t), -5);
  const [fx] = calcCoreRelocations(
    new asm.Instructions([
      asm.setMeta(asm.Mov.Imm(R0, 1), CORE_RELO_META, relo(local, "0", K.EnumvalValue)),
    ]),
    t,
  );
  // As libbpf: the 32-bit value sign-extended to u64.
  assertEquals(fx.fixup.target, (1n << 64n) - 5n);

  const l64 = new Enum("big___x", 8, [new EnumValue("HUGE___x", 1n << 33n)], false, true);
  const t64 = target(
    new Enum("big", 8, [new EnumValue("HUGE", 0xffff_ffff_0000_0001n)], false, true),
  );
  const out = apply(asm.LoadImm(R0, 1n << 33n), relo(l64, "0", K.EnumvalValue), t64);
  assertEquals(asm.constant(out.list[0]) & 0xffff_ffff_ffff_ffffn, 0xffff_ffff_0000_0001n);
  // ENUM and ENUM64 are candidates for each other.
  const t32 = target(new Enum("big", 4, [new EnumValue("HUGE", 3n)]));
  assertEquals(
    asm.constant(apply(asm.LoadImm(R0, 1n << 33n), relo(l64, "0", K.EnumvalValue), t32).list[0]),
    3n,
  );
});

Deno.test("CO-RE missing enumerator value: ld_imm64 poisoned in both slots", () => {
  const local = new Enum("big___x", 8, [new EnumValue("NOPE", 1n << 33n)], false, true);
  const t = target(new Enum("big", 8, [new EnumValue("HUGE", 1n)], false, true));
  const out = apply(asm.LoadImm(R0, 1n << 33n), relo(local, "0", K.EnumvalValue), t);
  assertEquals(out.length, 3);
  assertEquals(out.slots, 3);
  for (const ins of out.list.slice(0, 2)) {
    assertEquals([ins.opcode, ins.imm], [0x85, POISON_HELPER_ID]);
    assertEquals(corePoisonOf(ins)!.reason, "enum value 'big___x::NOPE' not found in target 'big'");
  }
});

Deno.test("CO-RE type relocations: ids, exists, size", () => {
  const local = new Typedef("foo_t___a", localFoo());
  const tFoo = targetFoo();
  const t = target(s32(), new Typedef("foo_t", tFoo));
  const r = (kind: CoreReloKind) => relo(local, "0", kind, 42);
  assertEquals(value(r(K.TypeIdLocal), 42, t), 42);
  assertEquals(value(r(K.TypeIdTarget), 42, t), t.typeIdsByName("foo_t")[0]);
  assertEquals(value(r(K.TypeExists), 1, t), 1);
  assertEquals(value(r(K.TypeSize), 8, t), 16);
  const none = target(s32());
  assertEquals(value(r(K.TypeIdTarget), 42, none), 0);
  assertEquals(value(r(K.TypeExists), 1, none), 0);
  assertEquals(value(r(K.TypeSize), 8, none), 0);
  // A typedef is only a candidate for a typedef of the same essential name.
  assertEquals(value(relo(localFoo(), "0", K.TypeExists), 1, none), 0);
  // The found id comes with the spec it belongs to.
  const out = apply(asm.Mov.Imm(R0, 42), r(K.TypeIdTarget), t);
  const tgt = asm.getMeta(out.list[0], CORE_TARGET_META) as CoreTarget;
  assertEquals([tgt.spec, tgt.specIndex, tgt.typeId], [t, 0, out.list[0].imm]);
});

Deno.test("CO-RE type matches: libbpf's structural rules", () => {
  const m = (local: Type, ...targets: Type[]) =>
    value(relo(local, "0", K.TypeMatches), 1, target(...targets));
  const S = (name: string, ...members: [string, Type][]) =>
    new Struct(name, 16, members.map(([n, t], i) => new Member(n, t, i * 64)));
  // Members: every local one must exist by name, with a matching type; extra target ones are fine.
  assertEquals(m(S("t___a", ["x", s32()]), S("t", ["y", s64()], ["x", s32()])), 1);
  assertEquals(m(S("t___a", ["x", s32()]), S("t", ["x", u32()])), 0); // signedness
  assertEquals(m(S("t___a", ["x", s32()]), S("t", ["x", s64()])), 0); // size
  assertEquals(m(S("t___a", ["z", s32()]), S("t", ["x", s32()])), 0); // name
  // Arrays: same length and element.
  const arr = (n: number) => new ArrayType(u8(), s32(), n);
  assertEquals(m(S("t", ["a", arr(4)]), S("t", ["a", arr(4)])), 1);
  assertEquals(m(S("t", ["a", arr(4)]), S("t", ["a", arr(5)])), 0);
  // Behind a pointer, a struct matches a forward declaration of a struct, not of a union.
  assertEquals(
    m(S("t", ["p", new Pointer(S("o", ["q", s32()]))]), S("t", ["p", new Pointer(new Fwd("o"))])),
    1,
  );
  assertEquals(
    m(
      S("t", ["p", new Pointer(S("o", ["q", s32()]))]),
      S("t", ["p", new Pointer(new Fwd("o", "union"))]),
    ),
    0,
  );
  // ... but not outside a pointer, where members are compared.
  assertEquals(m(S("t", ["o", S("o", ["q", s32()])]), S("t", ["o", S("o", ["q", s64()])])), 0);
  assertEquals(
    m(
      S("t", ["p", new Pointer(S("o", ["q", s32()]))]),
      S("t", ["p", new Pointer(S("o", ["q", s64()]))]),
    ),
    1,
  );
  // Enums: local enumerators by name in the target, same size; values do not matter.
  const E = (size: number, ...names: string[]) =>
    new Enum("e", size, names.map((n, i) => new EnumValue(n, BigInt(i))));
  assertEquals(
    m(E(4, "A___x"), new Enum("e", 4, [new EnumValue("B", 0n), new EnumValue("A", 9n)])),
    1,
  );
  assertEquals(m(E(4, "A", "C"), E(4, "A", "B")), 0);
  assertEquals(m(E(4, "A"), E(8, "A")), 0);
  // Struct vs union is no match; type_exists is looser.
  assertEquals(m(S("t", ["x", s32()]), new Union("t", 4, [new Member("x", s32(), 0)])), 0);
});

Deno.test("CO-RE missing field: poisoned, explained from the verifier log", () => {
  const local = new Struct("foo___new", 8, [
    new Member("a", s32(), 0),
    new Member("added", s32(), 32),
  ]);
  const t = target(targetFoo());
  const prog = new asm.Instructions([
    asm.Mov.Imm(R0, 0),
    asm.LoadImm(R1, 1),
    asm.setMeta(
      asm.LoadMem(R0, R1, 4, asm.Word),
      CORE_RELO_META,
      relo(local, "0:1", K.FieldByteOffset),
    ),
    asm.Return(),
  ]);
  const out = applyCoreRelocations(prog, t);
  const p = asm.getMeta(out.list[2], CORE_POISON_META) as { message: string; index: number };
  assertEquals(p.index, 0);
  assertEquals(
    p.message,
    "CO-RE relocation #0: field 'foo___new.added' not found in target 'foo' " +
      "(<byte_off> [1] struct foo___new.added (0:1 @ offset 4))",
  );
  // The verifier shows the slot of the call: slot 3 (after the 2-slot imm64 load).
  const log = [
    "0: R1=ctx() R10=fp0",
    "0: (b7) r0 = 0                        ; R0_w=0",
    "1: (18) r1 = 0x1                      ; R1_w=1",
    "3: (85) call unknown#195896080",
    "invalid func unknown#195896080",
    "processed 3 insns",
  ].join("\n");
  assertEquals(explainCorePoison(out, log), [p.message]);
  assertEquals(explainCorePoison(out, ["invalid func unknown#195896080"]), [p.message]);
  assertEquals(explainCorePoison(out, "R1 invalid mem access 'scalar'"), []);
});

Deno.test("CO-RE ambiguous candidates: an error when flavours disagree, fine when they agree", () => {
  const local = new Struct("amb", 4, [new Member("y", s32(), 0)]);
  const a = new Struct("amb___a", 8, [new Member("x", s32(), 0), new Member("y", s32(), 32)]);
  const b = new Struct("amb___b", 8, [new Member("y", s32(), 0), new Member("x", s32(), 32)]);
  assertThrows(
    () => value(relo(local, "0:0", K.FieldByteOffset), 0, target(a, b)),
    CoreRelocationError,
    "CO-RE relocation #0: field offset ambiguity: 0 != 32",
  );
  const c = new Struct("amb", 8, [new Member("x", s32(), 0), new Member("y", s32(), 32)]);
  assertEquals(value(relo(local, "0:0", K.FieldByteOffset), 0, target(a, c)), 4);
  // Same offset, different sizes: a decision ambiguity.
  const d = new Struct("amb___d", 16, [new Member("x", s32(), 0), new Member("y", s64(), 32)]);
  assertThrows(
    () => value(relo(local, "0:0", K.FieldByteSize), 4, target(a, d)),
    CoreRelocationError,
    "relocation decision ambiguity",
  );
});

Deno.test("CO-RE flavoured targets are found whether the string table is ASCII or not", () => {
  // "___" is searched natively in an ASCII string table (vmlinux's) and byte by byte in any
  // other: both must find the flavoured target, and only it.
  const local = new Struct("fl", 4, [new Member("y", s32(), 0)]);
  const flav = new Struct("fl___t", 8, [new Member("x", s32(), 0), new Member("y", s32(), 32)]);
  const other = new Struct("fl_x___t", 4, [new Member("y", s32(), 0)]);
  const accented = new Struct("naïve___é", 4, [new Member("y", s32(), 0)]);
  for (const types of [[other, flav], [accented, other, flav], [flav, accented]]) {
    assertEquals(value(relo(local, "0:0", K.FieldByteOffset), 0, target(...types)), 4);
  }
  // Without fl___t there is no candidate: the instruction is poisoned.
  const none = apply(asm.Mov.Imm(R0, 0), relo(local, "0:0", K.FieldByteOffset), [
    target(accented, other),
  ]);
  assert(corePoisonOf(none.list[0]) !== undefined);
});

Deno.test("CO-RE modules: searched only for types vmlinux lacks; ids name their spec", () => {
  const vmTypes = [s32(), targetFoo()];
  const vm = target(...vmTypes);
  const modType = new Struct("mod_only", 8, [new Member("m", vm.typeById(1), 32)]);
  const mod = parseSpec(marshalTypes([modType], { base: vm }), { base: vm });
  const local = new Struct("mod_only___l", 4, [new Member("m", s32(), 0)]);
  assertEquals(value(relo(local, "0:0", K.FieldByteOffset), 0, [vm, mod]), 4);
  const out = apply(asm.Mov.Imm(R0, 1), relo(local, "0", K.TypeIdTarget), [vm, mod]);
  const tgt = asm.getMeta(out.list[0], CORE_TARGET_META) as CoreTarget;
  assertEquals([tgt.spec, tgt.specIndex, tgt.typeId], [mod, 1, mod.firstTypeId]);
  // foo is in vmlinux: a module's foo is not considered (so no ambiguity arises).
  const mod2 = parseSpec(
    marshalTypes([new Struct("foo", 4, [new Member("b", vm.typeById(1), 0)])], { base: vm }),
    { base: vm },
  );
  assertEquals(value(relo(localFoo(), "0:1", K.FieldByteOffset), 4, [vm, mod2]), 8);
  assertEquals(value(relo(localFoo(), "0:1", K.FieldByteOffset), 4, [target(s32()), mod2]), 0);
});

Deno.test("CO-RE modules: read only when a relocated type is missing from vmlinux", () => {
  const vm = target(s32(), targetFoo());
  const modType = new Struct("mod_only", 8, [new Member("m", vm.typeById(1), 32)]);
  const mod = parseSpec(marshalTypes([modType], { base: vm }), { base: vm });
  let reads = 0;
  const lazy: CoreTargets = { vmlinux: vm, modules: () => (reads++, [mod]) };
  const inVmlinux = relo(localFoo(), "0:1", K.FieldByteOffset);
  const inModule = relo(
    new Struct("mod_only___l", 4, [new Member("m", s32(), 0)]),
    "0:0",
    K.FieldByteOffset,
  );
  const cache = new CoreCandidateCache();
  assertEquals(value(inVmlinux, 4, lazy, cache), 8);
  assertEquals(reads, 0);
  assertEquals(value(inModule, 0, lazy, cache), 4);
  assertEquals(reads, 1);
  // The same targets object is the same targets for the cache; another one is not.
  assertThrows(() => value(inVmlinux, 4, { ...lazy }, cache), RangeError);
  // A spec and an array holding only it are the same targets.
  const single = new CoreCandidateCache();
  assertEquals(value(inVmlinux, 4, vm, single), 8);
  assertEquals(value(inVmlinux, 4, [vm], single), 8);
  assertThrows(
    () => applyCoreRelocations(new asm.Instructions(), { vmlinux: vm } as unknown as CoreTargets),
    TypeError,
  );
});

Deno.test("CO-RE errors libbpf refuses: bad access strings, wrong instructions, anonymous types", () => {
  const t = target(targetFoo());
  const bad = (r: CoreRelo, ins = asm.Mov.Imm(R0, 4)) =>
    assertThrows(() => apply(ins, r, t), CoreRelocationError);
  bad(relo(localFoo(), "0:5", K.FieldByteOffset)); // no member 5
  bad(relo(localFoo(), "0:x", K.FieldByteOffset));
  bad(relo(localFoo(), ":0", K.FieldByteOffset));
  bad(relo(localFoo(), "1", K.TypeSize)); // type relocations take "0"
  bad(relo(localFoo(), "0:1:0", K.FieldByteOffset)); // int has no members
  bad(relo(localFoo(), "0:1", K.FieldByteOffset), asm.Mov.Imm(R0, 5)); // not the local value
  bad(relo(localFoo(), "0:1", K.FieldByteOffset), asm.Mov.Reg(R0, R1)); // not an immediate
  bad(relo(localFoo(), "0:1", K.FieldByteOffset), asm.Return());
  bad(relo(new Struct("", 8, localFoo().members), "0:1", K.FieldByteOffset));
  assertThrows(() => applyCoreRelocations(new asm.Instructions(), []), TypeError);
  assertThrows(
    () => applyCoreRelocations(new asm.Instructions(), "x" as unknown as Spec),
    TypeError,
  );
  // Local type ids need no candidates, anonymous or not.
  const anon = new Struct("", 8, localFoo().members);
  assertEquals(value(relo(anon, "0", K.TypeIdLocal, 9), 9, t), 9);
});

Deno.test("CO-RE candidates narrow as libbpf's cache does", () => {
  // Two flavours of the same struct in the target: the first relocation matches only
  // one, so the second (which both would match, with different offsets) is not ambiguous.
  const local = new Struct("nar", 8, [new Member("only_a", s32(), 0), new Member("y", s32(), 32)]);
  const a = new Struct("nar___a", 8, [new Member("only_a", s32(), 0), new Member("y", s32(), 32)]);
  const b = new Struct("nar___b", 8, [new Member("y", s32(), 0)]);
  const t = target(a, b);
  const prog = new asm.Instructions([
    asm.setMeta(asm.Mov.Imm(R0, 0), CORE_RELO_META, relo(local, "0:0", K.FieldByteOffset)),
    asm.setMeta(asm.Mov.Imm(R0, 4), CORE_RELO_META, relo(local, "0:1", K.FieldByteOffset)),
  ]);
  const out = applyCoreRelocations(prog, t);
  assertEquals(out.list.map((i) => i.imm), [0, 4]);
  // Alone, the second relocation is ambiguous.
  const second = new asm.Instructions([prog.list[1]]);
  assertThrows(() => applyCoreRelocations(second, t), CoreRelocationError, "ambiguity");
});

Deno.test("CO-RE candidates: one search for many types finds what a walk over every type finds", () => {
  const names = [
    "fl",
    "fl___t",
    "fl___t___u",
    "fl_x___t",
    "fl____t",
    "fl___",
    "naïve",
    "naïve___é",
  ];
  const vmTypes: Type[] = names.map((n) => new Struct(n, 4, [new Member("y", s32(), 0)]));
  vmTypes.push(new Enum("fl___e", 4, [new EnumValue("A", 0n)]), new Typedef("fl", s32()));
  // A module whose own types reuse the base's names: their name offsets are the base's.
  const modNames = ["fl___m", "naïve", "mod_only", "mod_only___v"];
  const locals: Type[] = [
    "fl",
    "fl___l",
    "fl___t___l",
    "naïve___x",
    "mod_only___l",
    "nope",
    "fl_x",
    "fl___",
  ].map((n) => new Struct(n, 4, [new Member("y", s32(), 0)]));
  locals.push(new Enum("fl___le", 4, [new EnumValue("A", 0n)]));
  const make = () => {
    const vm = target(...vmTypes);
    const modTypes = modNames.map((n) => new Struct(n, 4, [new Member("y", vm.typeById(1), 0)]));
    const mod = parseSpec(marshalTypes([...modTypes, ...vmTypes], { base: vm }), { base: vm });
    return [vm, mod];
  };
  const ids = (found: { specIndex: number; id: number }[]) =>
    found.map((c) => `${c.specIndex}:${c.id}`);
  // The oracle: every type of each target walked, as libbpf walks them.
  const oracle = (local: Type, targets: Spec[]) => {
    const ess = essentialName(local.name);
    const out: string[] = [];
    for (const [i, spec] of targets.entries()) {
      if (i > 0 && out.length > 0) break;
      for (let id = spec.firstTypeId; id < spec.nextTypeId; id++) {
        const t = spec.typeById(id);
        if (essentialName(t.name) === ess && t.kind === local.kind) out.push(`${i}:${id}`);
      }
    }
    return out;
  };
  const targets = make();
  const expected = locals.map((l) => oracle(l, targets));
  assert(expected.some((e) => e.length > 1) && expected.some((e) => e[0]?.startsWith("1:")));
  // All at once: one scan of each target.
  assertEquals(findCandidatesOfAll(locals, toCoreTargets(make())).map(ids), expected);
  // One by one, after eight other searches: through the name index, as a process that
  // keeps searching new names does; then again, from what the first searches kept.
  const fresh = toCoreTargets(make());
  for (let i = 0; i < 8; i++) findCandidates(new Struct(`other${i}`, 4, []), fresh);
  assertEquals(locals.map((l) => ids(findCandidates(l, fresh))), expected);
  assertEquals(locals.map((l) => ids(findCandidates(l, fresh))), expected);
});

Deno.test("CO-RE candidates: a scan with more matches than its first room finds them all", () => {
  // Hundreds of exact and flavoured matches, and module types named by the base's strings:
  // the scan's match lists grow several times over.
  const vmTypes: Type[] = [];
  for (let i = 0; i < 150; i++) {
    vmTypes.push(new Struct(i % 3 === 0 ? `many___v${i}` : "many", 4, [new Member("y", s32(), 0)]));
  }
  const vm = target(...vmTypes);
  const modTypes = Array.from({ length: 120 }, () => new Struct("many", 4, []));
  const mod = parseSpec(marshalTypes(modTypes, { base: vm }), { base: vm });
  const walk = (spec: Spec, name: string) => {
    const out: number[] = [];
    for (let id = spec.firstTypeId; id < spec.nextTypeId; id++) {
      if (essentialName(spec.typeById(id).name) === name) out.push(id);
    }
    return out;
  };
  for (const spec of [vm, mod]) {
    const found = findCandidatesOfAll(
      [new Struct("many", 4, []), new Struct("many___l", 4, [])],
      toCoreTargets(spec),
    );
    const want = walk(spec, "many");
    assert(want.length >= 100);
    assertEquals(found.map((f) => f.map((c) => c.id)), [want, want]);
  }
});
