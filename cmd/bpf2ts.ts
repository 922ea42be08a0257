/**
 * `bpf2ts`: typed TypeScript bindings for a BPF C program, like cilium's bpf2go and
 * libbpf's skeletons. From a C file (compiled with clang-19 for both byte orders) or an ELF
 * object, it writes one module with the object(s) embedded, TypeScript types for the BTF
 * structs, unions and enums that maps and variables use, a typed handle for each map,
 * program and variable, and a `load<Name>()` function that creates the collection.
 *
 * ```sh
 * deno task bpf2ts counter.c                       # writes counter_bpf.ts next to it
 * deno task bpf2ts counter.c --out src/counter.ts --name Counter --import @ebpf/ebpf
 * ```
 *
 * Needs `--allow-read`, `--allow-write` for the output and `--allow-run` for clang.
 *
 * @module
 */

import { parseCollectionSpec } from "../elf/mod.ts";
import type { CollectionSpec } from "../prog/collection_spec.ts";
import { MapType } from "../map/map_type.ts";
import { hasCodec, pascalCase, propertyKey, TsTypes, varType } from "./_ts_types.ts";

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
    `${N}Maps`,
    `${N}Programs`,
    `${N}Variables`,
    `${N}Constants`,
    `${N}Objects`,
    `Load${N}Options`,
    "BpfMap",
    "Collection",
    "CollectionOptions",
    "CollectionSpec",
    "Program",
    "Uint8Array",
  ];
  const types = new TsTypes(own, N);

  const mapLines: string[] = [];
  for (const [name, m] of Object.entries(spec.maps)) {
    let handle = "BpfMap";
    let doc = `The \`${name}\` map`;
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
    `  /** The \`${name}\` program (section \`${spec.programs[name].sectionName}\`). */\n` +
    `  readonly ${propertyKey(name)}: Program;`
  );

  const varLines: string[] = [];
  const constLines: string[] = [];
  for (const [name, v] of Object.entries(spec.variables)) {
    if (!(v.mapName in spec.maps)) continue;
    const t = varType(v.type);
    const ts = t !== undefined && hasCodec(t) ? types.of(t) : "Uint8Array";
    varLines.push(
      `  /** \`${name}\` in \`${v.mapName}\`${v.constant ? " (read-only after load)" : ""}. */\n` +
        `  readonly ${propertyKey(name)}: Variable<${ts}>;`,
    );
    constLines.push(`  /** Initial value of \`${name}\`. */\n  ${propertyKey(name)}?: ${ts};`);
  }

  const lib = JSON.stringify(options.importFrom);
  const out: string[] = [];
  out.push(
    `// Code generated by bpf2ts from ${options.source}. DO NOT EDIT.`,
    "",
    "/**",
    ` * Typed bindings for \`${options.source}\`: call {@linkcode load${N}} to create its maps and`,
    " * programs.",
    " *",
    " * @module",
    " */",
    "",
    "import {",
    "  type BpfMap,",
    "  type Codec,",
    "  codecFor,",
    "  type Collection,",
    "  type CollectionOptions,",
    "  type CollectionSpec,",
    "  decodeValue,",
    "  encodeValue,",
    "  newCollection,",
    "  parseCollectionSpec,",
    "  type Program,",
    `} from ${lib};`,
    "",
  );
  for (const d of types.declarations) out.push(d, "");
  out.push(
    "/** A map with keys `K` and values `V`, as the map's BTF codecs encode and decode them. */",
    "export type TypedMap<K, V> =",
    '  & Omit<BpfMap, "lookup" | "update" | "delete" | "keys" | "entries" | "lookupAndDelete">',
    "  & {",
    "    /** The value under `key`, or `undefined`. */",
    "    lookup(key: K, flags?: bigint): V | undefined;",
    "    /** Sets the value under `key` (`flags`: `UpdateFlags`). */",
    "    update(key: K, value: V, flags?: bigint): void;",
    "    /** Deletes `key`; false when it was absent. */",
    "    delete(key: K): boolean;",
    "    /** Every key. */",
    "    keys(): Generator<K>;",
    "    /** Every key and value. */",
    "    entries(): Generator<[K, V]>;",
    "    /** Looks up and deletes `key`. */",
    "    lookupAndDelete(key: K): V | undefined;",
    "  };",
    "",
    "/** A global variable of a loaded collection, read and written through its section's map. */",
    "export interface Variable<T> {",
    "  /** The variable's name. */",
    "  readonly name: string;",
    "  /** Whether programs see it as a constant (`.rodata`): then `set` fails after load. */",
    "  readonly constant: boolean;",
    "  /** The current value. */",
    "  get(): T;",
    "  /** Writes a new value (only for variables that are not constant). */",
    "  set(value: T): void;",
    "}",
    "",
    `/** The maps of \`${options.source}\`. */`,
    ...block(`${N}Maps`, mapLines),
    "",
    `/** The programs of \`${options.source}\`. */`,
    ...block(`${N}Programs`, progLines),
    "",
    `/** The global variables of \`${options.source}\`. */`,
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
    `export interface ${N}Objects extends Disposable {`,
    "  /** The underlying collection. */",
    "  readonly collection: Collection;",
    "  /** Maps by name. */",
    `  readonly maps: ${N}Maps;`,
    "  /** Programs by name. */",
    `  readonly programs: ${N}Programs;`,
    "  /** Global variables by name. */",
    `  readonly variables: ${N}Variables;`,
    "  /** Closes every map and program. */",
    "  close(): void;",
    "}",
    "",
    `const OBJECT_LITTLE: string | undefined =${base64Literal(options.little)};`,
    "",
    `const OBJECT_BIG: string | undefined =${base64Literal(options.big)};`,
    "",
    "const LITTLE_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;",
    'const HOST_ORDER: "little" | "big" = LITTLE_HOST ? "little" : "big";',
    "",
    `/** The embedded object for \`byteOrder\` (by default the host's). */`,
    `export function ${lower}Object(byteOrder: "little" | "big" = HOST_ORDER): Uint8Array {`,
    '  const b64 = byteOrder === "little" ? OBJECT_LITTLE : OBJECT_BIG;',
    "  if (b64 === undefined) {",
    `    throw new Error(\`The bindings of '${options.source}' have no \${byteOrder}-endian object\`);`,
    "  }",
    "  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));",
    "}",
    "",
    `/** The collection spec of the embedded object for this host, to change before loading. */`,
    `export function load${N}Spec(): CollectionSpec {`,
    `  return parseCollectionSpec(${lower}Object());`,
    "}",
    "",
    "function codecOf(type: unknown): Codec | undefined {",
    "  try {",
    "    return codecFor(type);",
    "  } catch {",
    "    return undefined;",
    "  }",
    "}",
    "",
    "function variableType(v: { type: unknown }): unknown {",
    "  return (v.type as { type?: unknown } | undefined)?.type;",
    "}",
    "",
    "function variable(spec: CollectionSpec, maps: Record<string, BpfMap>, name: string): unknown {",
    "  const v = spec.variables[name];",
    "  const codec = codecOf(variableType(v));",
    "  const map = maps[v.mapName];",
    "  const key = new Uint8Array(4);",
    "  const read = (): Uint8Array => {",
    "    const bytes = map.lookupBytes(key);",
    "    if (bytes === undefined) throw new Error(`Map '${v.mapName}' has no value`);",
    "    return bytes.slice();",
    "  };",
    "  return {",
    "    name,",
    "    constant: v.constant,",
    "    get(): unknown {",
    "      const bytes = read().subarray(v.offset, v.offset + v.size);",
    "      return codec ? decodeValue(codec, bytes) : bytes;",
    "    },",
    "    set(value: unknown): void {",
    "      const bytes = read();",
    "      bytes.set(codec ? encodeValue(codec, value, name) : value as Uint8Array, v.offset);",
    "      map.update(key, bytes);",
    "    },",
    "  };",
    "}",
    "",
    "/**",
    ` * Creates the maps and loads the programs of \`${options.source}\` (needs \`--allow-ffi\` and`,
    " * CAP_BPF). Values in `options.constants` are written before load.",
    " *",
    " * @example",
    " * ```ts ignore",
    ` * using objs = load${N}();`,
    " * ```",
    " */",
    `export function load${N}(options: Load${N}Options = {}): ${N}Objects {`,
    `  const spec = load${N}Spec();`,
    "  const { constants, ...collectionOptions } = options;",
    "  for (const [name, value] of Object.entries(constants ?? {})) {",
    "    const v = spec.variables[name];",
    "    if (v === undefined) throw new TypeError(`No variable '${name}'`);",
    "    const codec = codecOf(variableType(v));",
    "    v.set(codec ? encodeValue(codec, value, name) : value as Uint8Array);",
    "  }",
    "  const collection = newCollection(spec, collectionOptions);",
    "  const variables: Record<string, unknown> = {};",
    "  for (const name of Object.keys(spec.variables)) {",
    "    if (spec.variables[name].mapName in collection.maps) {",
    "      variables[name] = variable(spec, collection.maps, name);",
    "    }",
    "  }",
    "  return {",
    "    collection,",
    `    maps: collection.maps as unknown as ${N}Maps,`,
    `    programs: collection.programs as unknown as ${N}Programs,`,
    `    variables: variables as unknown as ${N}Variables,`,
    "    close: () => collection.close(),",
    "    [Symbol.dispose]: () => collection.close(),",
    "  };",
    "}",
    "",
  );
  return out.join("\n");
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

const USAGE =
  `Usage: deno task bpf2ts <file.c|file.o> [--out file.ts] [--name Name] [--import specifier]
       [--cflags "-DX=1 ..."]

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
