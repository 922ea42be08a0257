/**
 * `bpf2ts`: typed TypeScript bindings for a BPF C program, like cilium's bpf2go and
 * libbpf's skeletons. From a C file (compiled with clang-19 for both byte orders) or an ELF
 * object, it writes one module with the object(s) embedded, TypeScript types for the BTF
 * structs, unions and enums that maps and variables use, a typed handle for each map,
 * program and variable, and a `load<Name>()` function that creates the collection.
 *
 * ```sh
 * deno run -A jsr:@ebpf/ebpf/bpf2ts counter.c     # writes counter_bpf.ts next to it
 * deno run -A jsr:@ebpf/ebpf/bpf2ts counter.c --out src/counter.ts --name Counter
 * ```
 *
 * Paths are relative to the current directory. Needs `--allow-read`, `--allow-write` for
 * the output and `--allow-run` for clang.
 *
 * @module
 */

import { parseCollectionSpec } from "../elf/mod.ts";
import type { CollectionSpec } from "../prog/collection_spec.ts";
import { MapType } from "../map/map_type.ts";
import { docText, hasCodec, pascalCase, propertyKey, TsTypes, varType } from "./_ts_types.ts";

/** Options of {@linkcode generate}. */
export interface GenerateOptions {
  /** The base name of generated identifiers: `load<Name>()`, `<Name>Maps`, … */
  name: string;
  /** The little-endian object, if there is one. */
  little?: Uint8Array;
  /** The big-endian object, if there is one. */
  big?: Uint8Array;
  /** The module specifier the bindings import the library from. */
  importFrom: string;
  /** Where the object came from, for the header comment. */
  source: string;
}

/** The clang used for C sources. */
export const CLANG = "clang-19";

/** Maps whose BpfMap has a per-CPU value (an array of one value per possible CPU). */
const PER_CPU = new Set<number>([
  MapType.PerCPUHash,
  MapType.PerCPUArray,
  MapType.LRUCPUHash,
  MapType.PerCPUCgroupStorage,
]);

/** Maps that hold keys and values user space reads and writes through lookup/update. */
const KEYED = new Set<number>([
  MapType.Hash,
  MapType.Array,
  MapType.PerCPUHash,
  MapType.PerCPUArray,
  MapType.LRUHash,
  MapType.LRUCPUHash,
  MapType.LPMTrie,
  MapType.CgroupStorage,
  MapType.PerCPUCgroupStorage,
  MapType.SkStorage,
  MapType.InodeStorage,
  MapType.TaskStorage,
  MapType.CgroupStorageNew,
]);

function base64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

/** A string literal of base64 split over lines of at most 90 characters. */
function base64Literal(bytes: Uint8Array | undefined): string {
  if (bytes === undefined) return " undefined";
  const b = base64(bytes);
  const lines: string[] = [];
  for (let i = 0; i < b.length; i += 88) lines.push(JSON.stringify(b.slice(i, i + 88)));
  return "\n  " + (lines.length === 0 ? '""' : lines.join(" +\n  "));
}

/** Generates the bindings module's source. */
export function generate(options: GenerateOptions): string {
  const host = options.little ?? options.big;
  if (host === undefined) throw new TypeError("Give at least one object");
  const spec: CollectionSpec = parseCollectionSpec(host);
  const N = pascalCase(options.name);
  const lower = N[0].toLowerCase() + N.slice(1);
  const own = [
    "TypedMap",
    "Variable",
    "BoundObjects",
    `${N}Maps`,
    `${N}Programs`,
    `${N}Variables`,
    `${N}Constants`,
    `${N}Objects`,
    `Load${N}Options`,
    "BpfMap",
    "CollectionOptions",
    "CollectionSpec",
    "Program",
    "Uint8Array",
  ];
  const types = new TsTypes(own, N);

  const mapLines: string[] = [];
  for (const [name, m] of Object.entries(spec.maps)) {
    let handle = "BpfMap";
    let doc = `The \`${docText(name)}\` map`;
    if (KEYED.has(m.type) && m.keySize > 0 && m.valueSize > 0) {
      const key = hasCodec(m.key) ? types.of(m.key) : "Uint8Array";
      let value = hasCodec(m.value) ? types.of(m.value) : "Uint8Array";
      if (PER_CPU.has(m.type) && value !== "Uint8Array") value = `${paren(value)}[]`;
      if (key !== "Uint8Array" || value !== "Uint8Array") {
        handle = `TypedMap<${key}, ${value}>`;
        doc += PER_CPU.has(m.type) && value !== "Uint8Array" ? " (one value per possible CPU)" : "";
      }
    }
    mapLines.push(`  /** ${doc}. */\n  readonly ${propertyKey(name)}: ${handle};`);
  }

  const progLines = Object.keys(spec.programs).map((name) =>
    `  /** The \`${docText(name)}\` program (section \`${
      docText(spec.programs[name].sectionName)
    }\`). */\n` +
    `  readonly ${propertyKey(name)}: Program;`
  );

  const varLines: string[] = [];
  const constLines: string[] = [];
  for (const [name, v] of Object.entries(spec.variables)) {
    if (!(v.mapName in spec.maps)) continue;
    const t = varType(v.type);
    const ts = t !== undefined && hasCodec(t) ? types.of(t) : "Uint8Array";
    varLines.push(
      `  /** \`${docText(name)}\` in \`${docText(v.mapName)}\`${
        v.constant ? " (read-only after load)" : ""
      }. */\n` +
        `  readonly ${propertyKey(name)}: Variable<${ts}>;`,
    );
    constLines.push(
      `  /** Initial value of \`${docText(name)}\`. */\n  ${propertyKey(name)}?: ${ts};`,
    );
  }

  const lib = JSON.stringify(options.importFrom);
  const out: string[] = [];
  out.push(
    `// Code generated by bpf2ts from ${docText(options.source)}. DO NOT EDIT.`,
    "",
    "/**",
    ` * Typed bindings for \`${
      docText(options.source)
    }\`: call {@linkcode load${N}} to create its maps and`,
    " * programs.",
    " *",
    " * @module",
    " */",
    "",
    "import {",
    "  type BoundObjects,",
    ...(mapLines.some((l) => l.endsWith(": BpfMap;")) ? ["  type BpfMap,"] : []),
    "  type CollectionOptions,",
    "  type CollectionSpec,",
    "  embeddedObject,",
    "  loadBound,",
    "  parseCollectionSpec,",
    ...(progLines.length > 0 ? ["  type Program,"] : []),
    ...(mapLines.some((l) => l.includes(": TypedMap<")) ? ["  type TypedMap,"] : []),
    ...(varLines.length > 0 ? ["  type Variable,"] : []),
    `} from ${lib};`,
    "",
  );
  for (const d of types.declarations) out.push(d, "");
  out.push(
    `/** The maps of \`${docText(options.source)}\`. */`,
    ...block(`${N}Maps`, mapLines),
    "",
    `/** The programs of \`${docText(options.source)}\`. */`,
    ...block(`${N}Programs`, progLines),
    "",
    `/** The global variables of \`${docText(options.source)}\`. */`,
    ...block(`${N}Variables`, varLines),
    "",
    `/** Values for global variables, set before load (\`volatile const\` ones become constants). */`,
    ...block(`${N}Constants`, constLines),
    "",
    `/** Options of {@linkcode load${N}}. */`,
    `export interface Load${N}Options extends CollectionOptions {`,
    "  /** Initial values of global variables. */",
    `  constants?: ${N}Constants;`,
    "}",
    "",
    `/** What {@linkcode load${N}} creates; close it (or \`using\`) to release everything. */`,
    ...typeAlias(`${N}Objects`, "BoundObjects", [`${N}Maps`, `${N}Programs`, `${N}Variables`]),
    "",
    `const OBJECT_LITTLE: string | undefined =${base64Literal(options.little)};`,
    "",
    `const OBJECT_BIG: string | undefined =${base64Literal(options.big)};`,
    "",
    `/** The embedded object for \`byteOrder\` (by default the host's). */`,
    `export function ${lower}Object(byteOrder?: "little" | "big"): Uint8Array {`,
    "  const objects = { little: OBJECT_LITTLE, big: OBJECT_BIG };",
    `  return embeddedObject(objects, ${JSON.stringify(options.source)}, byteOrder);`,
    "}",
    "",
    `/** The collection spec of the embedded object for this host, to change before loading. */`,
    `export function load${N}Spec(): CollectionSpec {`,
    `  return parseCollectionSpec(${lower}Object());`,
    "}",
    "",
    "/**",
    ` * Creates the maps and loads the programs of \`${
      docText(options.source)
    }\` (needs \`--allow-ffi\` and`,
    " * CAP_BPF). Values in `options.constants` are written before load.",
    " *",
    " * @example",
    " * ```ts ignore",
    ` * using objs = load${N}();`,
    " * ```",
    " */",
    `export function load${N}(options: Load${N}Options = {}): ${N}Objects {`,
    `  return loadBound(load${N}Spec(), options) as unknown as ${N}Objects;`,
    "}",
    "",
  );
  return out.join("\n");
}

/** `export type name = generic<args>;`, one argument per line when it is too long for deno fmt. */
function typeAlias(name: string, generic: string, args: string[]): string[] {
  const line = `export type ${name} = ${generic}<${args.join(", ")}>;`;
  if (line.length <= 100) return [line];
  return [
    `export type ${name} = ${generic}<`,
    ...args.map((a, i) => `  ${a}${i < args.length - 1 ? "," : ""}`),
    ">;",
  ];
}

/** An interface of `lines`, or an empty record type (deno lint forbids empty interfaces). */
function block(name: string, lines: string[]): string[] {
  if (lines.length === 0) return [`export type ${name} = Record<string, never>;`];
  return [`export interface ${name} {`, ...lines, "}"];
}

function paren(t: string): string {
  return /^[A-Za-z0-9_]+$/.test(t) ? t : `(${t})`;
}

/** Compiles a BPF C file for `target` with clang-19; returns the object's bytes. */
export function compile(
  path: string,
  target: "bpfel" | "bpfeb",
  cflags: string[] = [],
): Uint8Array {
  const dir = Deno.makeTempDirSync({ prefix: "bpf2ts-" });
  try {
    const out = `${dir}/out.o`;
    const source = Deno.readTextFileSync(path);
    const inFile = /^\/\/ cflags: (.*)$/m.exec(source)?.[1]?.split(/\s+/).filter((f) => f) ?? [];
    const dirOf = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : ".";
    let r: Deno.CommandOutput;
    try {
      r = new Deno.Command(CLANG, {
        args: [
          "-O2",
          "-g",
          "-target",
          target,
          "-I/usr/include/x86_64-linux-gnu",
          `-I${dirOf}`,
          ...inFile,
          ...cflags,
          "-c",
          path,
          "-o",
          out,
        ],
        stdout: "piped",
        stderr: "piped",
      }).outputSync();
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        throw new Error(`Cannot compile '${path}': ${CLANG} is not installed`, { cause: e });
      }
      throw e;
    }
    if (!r.success) {
      throw new Error(
        `Cannot compile '${path}' for ${target}: ${new TextDecoder().decode(r.stderr).trim()}`,
      );
    }
    return Deno.readFileSync(out);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/** Objects for an input: both byte orders for C, the object (and its `-eb`/`-el` twin) for ELF. */
export function objectsFor(
  input: string,
  cflags: string[] = [],
): { little?: Uint8Array; big?: Uint8Array } {
  if (input.endsWith(".c")) {
    return { little: compile(input, "bpfel", cflags), big: compile(input, "bpfeb", cflags) };
  }
  const bytes = Deno.readFileSync(input);
  const order = parseCollectionSpec(bytes).byteOrder;
  const twinPath = input.replace(/-(el|eb)\.o$/, (_m, e) => (e === "el" ? "-eb.o" : "-el.o"));
  let twin: Uint8Array | undefined;
  if (twinPath !== input) {
    try {
      twin = Deno.readFileSync(twinPath);
    } catch {
      twin = undefined;
    }
  }
  return order === "little" ? { little: bytes, big: twin } : { big: bytes, little: twin };
}

const USAGE = `Usage: bpf2ts <file.c|file.o> [--out file.ts] [--name Name] [--import specifier]
       [--cflags "-DX=1 ..."]
   as: deno run -A jsr:@ebpf/ebpf/bpf2ts prog.c      (paths are relative to the current directory)

Writes typed TypeScript bindings for a BPF program: the object embedded (both byte orders
for C sources), types for its BTF structs, unions and enums, typed maps, programs and
variables, and load<Name>().

  --out     output file (default: <file>_bpf.ts next to the input)
  --name    base name of the generated identifiers (default: from the file name)
  --import  where the bindings import the library from (default: @ebpf/ebpf)
  --cflags  extra clang flags for C sources`;

/** Runs the command with `args`; returns the exit code. */
export function main(args: string[]): number {
  const opts: Record<string, string> = {};
  const inputs: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "-h" || a === "--help") {
      console.log(USAGE);
      return 0;
    }
    if (["--out", "--name", "--import", "--cflags"].includes(a)) {
      if (i + 1 >= args.length) {
        console.error(`Option '${a}' needs a value`);
        return 2;
      }
      opts[a.slice(2)] = args[++i];
    } else if (a.startsWith("-")) {
      console.error(`Unknown option: '${a}'\n${USAGE}`);
      return 2;
    } else inputs.push(a);
  }
  if (inputs.length !== 1) {
    console.error(USAGE);
    return 2;
  }
  const input = inputs[0];
  const stem = basename(input).replace(/(-(el|eb))?\.(c|o)$/, "");
  const out = opts.out ?? input.replace(/(-(el|eb))?\.(c|o)$/, "_bpf.ts");
  try {
    const objects = objectsFor(input, opts.cflags?.split(/\s+/).filter((f) => f) ?? []);
    const text = generate({
      name: opts.name ?? stem,
      ...objects,
      importFrom: opts.import ?? "@ebpf/ebpf",
      source: basename(input),
    });
    Deno.writeTextFileSync(out, text);
    console.log(`Wrote ${out}`);
    return 0;
  } catch (e) {
    console.error(`bpf2ts: ${(e as Error).message}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(main(Deno.args));
