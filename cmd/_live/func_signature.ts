/**
 * A function's C prototype as bpftool prints it above a function's translated instructions
 * (`btf_dumper_type_only`): `int live_tcx(struct __sk_buff * skb)`. Each type is followed by
 * a space and a pointer is its target then `* `, which is where the odd spacing comes from.
 *
 * @module
 */

import type { Spec, Type } from "../../btf/mod.ts";

/** Types nested deeper than this are not printed (a loop in hostile BTF ends here). */
const MAX_DEPTH = 32;

/**
 * The prototype of the function with BTF id `typeId` in `spec`, or `""` when the id is not
 * a type there or a type in it has no C spelling here (bpftool prints nothing then).
 */
export function funcSignature(spec: Spec, typeId: number): string {
  try {
    return typeOnly(spec.typeById(typeId), 0);
  } catch {
    return "";
  }
}

function typeOnly(t: Type, depth: number): string {
  if (depth > MAX_DEPTH) throw new RangeError("Type nests too deeply");
  const next = (u: Type) => typeOnly(u, depth + 1);
  switch (t.kind) {
    case "void":
      return "void ";
    case "int":
    case "typedef":
    case "float":
      return `${t.name} `;
    case "struct":
    case "union":
    case "enum":
      return `${t.kind} ${t.name} `;
    case "fwd":
      return `${t.fwdKind} ${t.name} `;
    case "array":
      return `${next(t.type)}[${t.nelems}]`;
    case "pointer":
      return `${next(t.target)}* `;
    case "volatile":
    case "const":
    case "restrict":
      return `${t.kind} ${next(t.type)}`;
    case "funcProto":
      return proto(t, undefined, next);
    case "func":
      if (t.type.kind !== "funcProto") throw new TypeError("FUNC without a prototype");
      return proto(t.type, t.name, next);
  }
  throw new TypeError(`No C spelling for BTF kind ${t.kind}`);
}

function proto(
  p: Extract<Type, { kind: "funcProto" }>,
  name: string | undefined,
  next: (t: Type) => string,
): string {
  let s = next(p.return) + (name ?? "") + "(";
  p.params.forEach((param, i) => {
    if (i > 0) s += ", ";
    if (param.type.kind === "void") {
      s += "...";
      return;
    }
    s += next(param.type);
    if (param.name !== "") s += param.name;
    // A prototype without parameter names loses the space after each type.
    else if (s.endsWith(" ")) s = s.slice(0, -1);
  });
  return s + ")";
}
