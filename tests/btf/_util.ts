// Shared helpers of the btf tests: the testdata objects, bpftool's output, and a structural
// comparison of two type graphs.
import {
  Array as ArrayType,
  Datasec,
  DeclTag,
  Enum,
  Float,
  Func,
  FuncProto,
  Fwd,
  Int,
  isQualifier,
  Struct,
  type Type,
  Typedef,
  Union,
  Var,
} from "../../btf/mod.ts";
import { run, testdata } from "../_harness.ts";

/** Every testdata object that carries BTF (both byte orders). */
export function btfObjects(): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync(testdata(""))) {
    if (e.name.endsWith(".o") && !e.name.includes("-nobtf-")) out.push(e.name);
  }
  return out.sort();
}

/** Whether bpftool is installed. */
export function haveBpftool(): boolean {
  try {
    run("bpftool", ["version"]);
    return true;
  } catch {
    return false;
  }
}

/** `bpftool btf dump file <path> [-B base] format raw`. */
export function bpftoolRaw(path: string, base?: string): string {
  const args = ["btf", "dump", "file", path];
  if (base) args.push("-B", base);
  return run("bpftool", [...args, "format", "raw"]);
}

/** Throws with the first differing line of two texts. */
export function assertSameLines(actual: string, expected: string, what: string): void {
  if (actual === expected) return;
  const a = actual.split("\n");
  const b = expected.split("\n");
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] !== b[i]) {
      throw new Error(
        `${what}: line ${i + 1} differs:\n  ours:    ${a[i]}\n  theirs:  ${b[i]}`,
      );
    }
  }
}

/**
 * Throws unless two type graphs are equal: same kinds, names, sizes, members, values and
 * references, compared pairwise (cycles are fine).
 */
export function assertTypesEqual(a: Type, b: Type, path = "type"): void {
  const seen = new Map<Type, Type>();
  const stack: [Type, Type, string][] = [[a, b, path]];
  const fail = (p: string, m: string) => {
    throw new Error(`${p}: ${m}`);
  };
  while (stack.length > 0) {
    const [x, y, p] = stack.pop()!;
    const s = seen.get(x);
    if (s !== undefined) {
      if (s !== y) fail(p, "reference goes to a different type");
      continue;
    }
    seen.set(x, y);
    if (x.kind !== y.kind) fail(p, `kind ${x.kind} != ${y.kind}`);
    if (x.name !== y.name) fail(p, `name "${x.name}" != "${y.name}"`);
    const push = (u: Type, v: Type, q: string) => stack.push([u, v, `${p}${q}`]);
    if (x instanceof Int) {
      const z = y as Int;
      if (
        x.size !== z.size || x.encoding !== z.encoding || x.bits !== z.bits ||
        x.bitOffset !== z.bitOffset
      ) fail(p, "int differs");
    } else if (x instanceof ArrayType) {
      const z = y as ArrayType;
      if (x.nelems !== z.nelems) fail(p, "nelems differ");
      push(x.type, z.type, "[]");
      push(x.index, z.index, "[index]");
    } else if (x instanceof Struct || x instanceof Union) {
      const z = y as Struct;
      if (x.size !== z.size || x.members.length !== z.members.length) fail(p, "layout differs");
      x.members.forEach((m, i) => {
        const n = z.members[i];
        if (m.name !== n.name || m.offset !== n.offset || m.bitfieldSize !== n.bitfieldSize) {
          fail(`${p}.${m.name}`, "member differs");
        }
        push(m.type, n.type, `.${m.name}`);
      });
    } else if (x instanceof Enum) {
      const z = y as Enum;
      if (x.size !== z.size || x.signed !== z.signed || x.is64 !== z.is64) fail(p, "enum differs");
      if (x.values.length !== z.values.length) fail(p, "enum values differ");
      x.values.forEach((v, i) => {
        if (v.name !== z.values[i].name || v.value !== z.values[i].value) fail(p, `${v.name}`);
      });
    } else if (x instanceof Fwd) {
      if (x.fwdKind !== (y as Fwd).fwdKind) fail(p, "fwd kind differs");
    } else if (x instanceof Func) {
      if (x.linkage !== (y as Func).linkage) fail(p, "linkage differs");
      push(x.type, (y as Func).type, "()");
    } else if (x instanceof FuncProto) {
      const z = y as FuncProto;
      if (x.params.length !== z.params.length) fail(p, "params differ");
      push(x.return, z.return, "->");
      x.params.forEach((q, i) => {
        if (q.name !== z.params[i].name) fail(p, "param name differs");
        push(q.type, z.params[i].type, `(${i})`);
      });
    } else if (x instanceof Var) {
      if (x.linkage !== (y as Var).linkage) fail(p, "linkage differs");
      push(x.type, (y as Var).type, ":");
    } else if (x instanceof Datasec) {
      const z = y as Datasec;
      if (x.size !== z.size || x.vars.length !== z.vars.length) fail(p, "datasec differs");
      x.vars.forEach((v, i) => {
        if (v.offset !== z.vars[i].offset || v.size !== z.vars[i].size) fail(p, "secinfo");
        push(v.type, z.vars[i].type, `{${i}}`);
      });
    } else if (x instanceof Float) {
      if (x.size !== (y as Float).size) fail(p, "float size differs");
    } else if (x instanceof DeclTag) {
      if (x.index !== (y as DeclTag).index) fail(p, "decl tag index differs");
      push(x.type, (y as DeclTag).type, "@");
    } else if (x instanceof Typedef || isQualifier(x)) {
      push(x.type, (y as Typedef).type, "~");
    } else if (x.kind === "pointer") {
      push((x as { target: Type }).target, (y as { target: Type }).target, "*");
    }
  }
}
