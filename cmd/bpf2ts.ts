/**
 * `bpf2ts`: typed TypeScript bindings for a BPF C program, like cilium's bpf2go and
 * libbpf's skeletons. From a C file (compiled with clang-19 for this host: its byte order,
 * `__TARGET_ARCH_*` and multiarch includes) or an ELF object, it writes one module with the
 * object embedded (DWARF stripped, base64), TypeScript types for the BTF structs, unions and
 * enums that maps and variables use, a typed handle for each map, program and variable, a
 * `load<Name>()` function that creates the collection, and `decode<Type>()` for each
 * `--type` (and each ring buffer declared with a value type), for ring and perf records.
 *
 * ```sh
 * deno run -A jsr:@ebpf/ebpf/bpf2ts counter.c     # writes counter_bpf.ts next to it
 * deno run -A jsr:@ebpf/ebpf/bpf2ts counter.c --out src/counter.ts --name Counter
 * deno run -A jsr:@ebpf/ebpf/bpf2ts events.c --type event  # EventsObjects… and decodeEvent()
 * ```
 *
 * Paths are relative to the current directory. Needs `--allow-read`, `--allow-write` for
 * the output and `--allow-run` for clang.
 *
 * @module
 */

import { parseCollectionSpec } from "../elf/mod.ts";
import { parseLogFormats } from "../log/mod.ts";
import type { CollectionSpec } from "../prog/collection_spec.ts";
import { isPerCPU, MapType } from "../map/map_type.ts";
import { HOST_BYTE_ORDER } from "../asm/mod.ts";
import { Enum, Struct, type Type, Typedef, Union } from "../btf/mod.ts";
import type { DecodedKind } from "../prog/bindings.ts";
import {
  docText,
  hasCodec,
  LINE_WIDTH,
  pascalCase,
  propertyKey,
  TsTypes,
  varType,
} from "./_ts_types.ts";

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
  /**
   * Named BTF types (struct, union, enum or typedef) to emit a TypeScript type and a
   * `decode<Type>()` for, as bpf2go's `-type`: for records of ring and perf buffers.
   */
  types?: string[];
}

/** The clang used for C sources. */
export const CLANG = "clang-19";

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

/**
 * A template literal of base64 in lines of 76 characters (`atob` skips the line breaks): one
 * token however big the object, where a `"…" + "…"` chain nests one expression per line and
 * overflows the type checker's stack for large objects.
 */
function base64Literal(bytes: Uint8Array | undefined): string {
  if (bytes === undefined) return "undefined";
  const b = base64(bytes);
  const lines: string[] = [];
  for (let i = 0; i < b.length; i += 76) lines.push(b.slice(i, i + 76));
  return "`\n" + lines.join("\n") + "\n`";
}

/** `head(args)tail` on one line when it fits, else one argument a line as deno fmt writes. */
function call(head: string, args: string[], tail: string, indent = ""): string {
  const line = `${head}(${args.join(", ")})${tail}`;
  if (line.length <= LINE_WIDTH || args.length === 0) return line;
  return `${head}(\n${args.map((a) => `${indent}  ${a},`).join("\n")}\n${indent})${tail}`;
}

/**
 * `head<args>tail` on one line when it fits, else one type argument a line; when even
 * `head<` is too long, a type alias's `= Generic<` goes on its own line, as deno fmt does.
 */
function generic(head: string, args: string[], tail: string, indent = ""): string {
  const line = `${head}<${args.join(", ")}>${tail}`;
  if (line.length <= LINE_WIDTH) return line;
  const at = head.indexOf(" = ");
  if (`${head}<`.length > LINE_WIDTH && at >= 0) {
    const inner = `${indent}  `;
    return `${head.slice(0, at)} =\n${inner}${head.slice(at + 3)}<\n` +
      `${args.map((a) => `${inner}  ${a}`).join(",\n")}\n${inner}>${tail}`;
  }
  return `${head}<\n${args.map((a) => `${indent}  ${a}`).join(",\n")}\n${indent}>${tail}`;
}

/** A named type the bindings decode: from `--type` or a ring buffer's value type. */
interface Decoded {
  kind: DecodedKind;
  cName: string;
  ts: string;
}

/** The BTF types `--type` names. */
type Named = Struct | Union | Enum | Typedef;

const KINDS: [DecodedKind, typeof Struct | typeof Union | typeof Enum | typeof Typedef][] = [
  ["struct", Struct],
  ["union", Union],
  ["enum", Enum],
  ["typedef", Typedef],
];

function kindOf(t: Type): DecodedKind | undefined {
  return KINDS.find(([, c]) => t instanceof c)?.[0];
}

/**
 * The struct, union, enum or typedef called `name` in `spec`'s BTF. Where a struct and a
 * typedef share the name (`typedef struct event event`) the struct is meant.
 */
function namedType(spec: CollectionSpec, name: string, source: string): Named {
  if (spec.types === undefined) throw new TypeError(`--type ${name}: '${source}' has no BTF`);
  const found = spec.types.typesByName(name).filter((t) => kindOf(t) !== undefined);
  const tagged = found.filter((t) => !(t instanceof Typedef));
  const pick = tagged.length > 0 ? tagged : found;
  if (pick.length === 0) {
    throw new TypeError(
      `--type ${name}: no struct, union, enum or typedef '${name}' in the BTF of '${source}' ` +
        "(clang writes BTF only for types a global or function uses: declare " +
        `\`const struct ${name} *unused_${name} __attribute__((unused));\`)`,
    );
  }
  if (pick.length > 1) {
    throw new TypeError(
      `--type ${name}: ${pick.length} types are called '${name}' in '${source}' (` +
        pick.map((t) => kindOf(t)).join(", ") + ")",
    );
  }
  if (!hasCodec(pick[0])) {
    throw new TypeError(`--type ${name}: '${name}' has no value representation (incomplete?)`);
  }
  return pick[0] as Named;
}

/** Generates the bindings module's source. */
export function generate(options: GenerateOptions): string {
  const host = (HOST_BYTE_ORDER === "little" ? options.little : options.big) ?? options.little ??
    options.big;
  if (host === undefined) throw new TypeError("Give at least one object");
  const spec: CollectionSpec = parseCollectionSpec(host);
  const N = pascalCase(options.name);
  const lower = N[0].toLowerCase() + N.slice(1);
  const own = [
    `${N}Maps`,
    `${N}Programs`,
    `${N}Variables`,
    `${N}Constants`,
    `${N}Objects`,
    `Load${N}Options`,
    "Uint8Array",
  ];
  const types = new TsTypes(own, N);

  const decoded = new Map<Type, Decoded>();
  const decode = (t: Named): Decoded => {
    let d = decoded.get(t);
    if (d === undefined) {
      d = { kind: kindOf(t)!, cName: t.name, ts: types.declare(t) };
      decoded.set(t, d);
    }
    return d;
  };
  for (const name of options.types ?? []) decode(namedType(spec, name, options.source));

  const mapLines: string[] = [];
  for (const [name, m] of Object.entries(spec.maps)) {
    let handle = "ebpf.BpfMap";
    let doc = `The \`${docText(name)}\` map`;
    let handleArgs: string[] = [];
    if (KEYED.has(m.type) && m.keySize > 0 && m.valueSize > 0) {
      const key = types.of(m.key, `${pascalCase(name)}Key`);
      let value = types.of(m.value, `${pascalCase(name)}Value`);
      if (isPerCPU(m.type) && value !== "Uint8Array") value = `${paren(value)}[]`;
      if (key !== "Uint8Array" || value !== "Uint8Array") {
        handle = "ebpf.TypedMap";
        handleArgs = [key, value];
        doc += isPerCPU(m.type) && value !== "Uint8Array" ? " (one value per possible CPU)" : "";
      }
    }
    // A ring buffer declared with `__type(value, struct event)` says what its records are.
    if (m.type === MapType.RingBuf && m.value !== undefined && hasCodec(m.value)) {
      const t = m.value as Type;
      if (kindOf(t) !== undefined && (t as Named).name !== "") {
        const d = decode(t as Named);
        doc += `: a ring buffer of \`${d.kind} ${d.cName}\` ({@linkcode decode${d.ts}})`;
      }
    }
    const head = `  readonly ${propertyKey(name)}: ${handle}`;
    mapLines.push(
      `  /** ${doc}. */\n` +
        (handleArgs.length > 0 ? generic(head, handleArgs, ";", "  ") : `${head};`),
    );
  }

  const progLines = Object.keys(spec.programs).map((name) =>
    `  /** The \`${docText(name)}\` program (section \`${
      docText(spec.programs[name].sectionName)
    }\`). */\n` +
    `  readonly ${propertyKey(name)}: ebpf.Program;`
  );

  const varLines: string[] = [];
  const constLines: string[] = [];
  for (const [name, v] of Object.entries(spec.variables)) {
    if (!(v.mapName in spec.maps)) continue;
    const t = varType(v.type);
    const ts = t !== undefined && hasCodec(t) ? types.of(t, pascalCase(name)) : "Uint8Array";
    varLines.push(
      `  /** \`${docText(name)}\` in \`${docText(v.mapName)}\`${
        v.constant ? " (read-only after load)" : ""
      }. */\n` +
        generic(`  readonly ${propertyKey(name)}: ebpf.Variable`, [ts], ";", "  "),
    );
    constLines.push(
      `  /** Initial value of \`${docText(name)}\`. */\n  ${propertyKey(name)}?: ${ts};`,
    );
  }

  const source = JSON.stringify(options.source);
  const out: string[] = [];
  out.push(
    `// Code generated by bpf2ts from ${docText(options.source)}. DO NOT EDIT.`,
    "",
    "/**",
    ` * Typed bindings for \`${docText(options.source)}\`: call {@linkcode load${N}} to create its`,
    " * maps and programs.",
    " *",
    " * @module",
    " */",
    "",
    `import * as ebpf from ${JSON.stringify(options.importFrom)};`,
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
    "/**",
    " * Values for global variables, set before load (`volatile const` ones become",
    " * constants).",
    " */",
    ...block(`${N}Constants`, constLines),
    "",
    `/** Options of {@linkcode load${N}}: initial values of global variables, and more. */`,
    generic(`export type Load${N}Options = ebpf.BoundLoadOptions`, [`${N}Constants`], ";"),
    "",
    "/**",
    ` * What {@linkcode load${N}} creates; close it (or \`using\`) to release`,
    " * everything.",
    " */",
    generic(`export type ${N}Objects = ebpf.BoundObjects`, [
      `${N}Maps`,
      `${N}Programs`,
      `${N}Variables`,
    ], ";"),
    "",
    `const OBJECT_LITTLE: string | undefined = ${base64Literal(options.little)};`,
    "",
    `const OBJECT_BIG: string | undefined = ${base64Literal(options.big)};`,
    "",
    `/** The embedded object for \`byteOrder\` (by default the host's). */`,
    call(`export function ${lower}Object`, ["byteOrder?: ebpf.ByteOrder"], ": Uint8Array {"),
    "  const objects = { little: OBJECT_LITTLE, big: OBJECT_BIG };",
    call("  return ebpf.embeddedObject", ["objects", source, "byteOrder"], ";", "  "),
    "}",
    "",
    "/**",
    " * The collection spec of the embedded object for this host, to change before",
    " * loading.",
    " */",
    call(`export function load${N}Spec`, [], ": ebpf.CollectionSpec {"),
    call("  return ebpf.parseCollectionSpec", [`${lower}Object()`], ";", "  "),
    "}",
    "",
    "/**",
    ` * Creates the maps and loads the programs of \`${docText(options.source)}\` (needs`,
    " * `--allow-ffi` and CAP_BPF). Values in `options.constants` are written before",
    " * load.",
    " *",
    " * @example",
    " * ```ts ignore",
    ` * using objs = load${N}();`,
    " * ```",
    " */",
    call(`export function load${N}`, [`options: Load${N}Options = {}`], `: ${N}Objects {`),
    call("  const objects = ebpf.loadBound", [`load${N}Spec()`, "options"], ";", "  "),
    `  return objects as unknown as ${N}Objects;`,
    "}",
    "",
  );
  if (parseLogFormats(host).size > 0) {
    const ring = "ebpf_logs" in spec.maps
      ? `ring: ebpf.BpfMap = objects.maps.${propertyKey("ebpf_logs")}`
      : "ring: ebpf.BpfMap";
    out.push(
      "/**",
      ` * The typed log of \`${docText(options.source)}\` (\`ebpf_log.h\`): records from \`ring\`,`,
      " * decoded and formatted with the object's own format strings and types. Close it",
      " * (or `using`) before the objects.",
      " *",
      " * @example",
      " * ```ts ignore",
      ` * using objs = load${N}();`,
      ` * using logs = open${N}Logs(objs);`,
      " * for await (const r of logs) console.log(ebpf.formatLogRecord(r));",
      " * ```",
      " */",
      call(`export function open${N}Logs`, [`objects: ${N}Objects`, ring], ": ebpf.LogReader {"),
      call(
        "  return new ebpf.LogReader",
        ["ring", `ebpf.parseLogFormats(${lower}Object())`],
        ";",
        "  ",
      ),
      "}",
      "",
    );
  }
  if (decoded.size > 0) {
    const list = [...decoded.values()].map((d) =>
      `  [${JSON.stringify(d.kind)}, ${JSON.stringify(d.cName)}],`
    );
    const head = `const decoders = ebpf.typeDecoders(load${N}Spec, ${source}, [`;
    out.push(
      "// Decoders of BTF types, for ring and perf buffer records: see typeDecoders().",
      ...(head.length <= LINE_WIDTH ? [head, ...list, "]);"] : [
        "const decoders = ebpf.typeDecoders(",
        `  load${N}Spec,`,
        `  ${source},`,
        "  [",
        ...list.map((l) => `  ${l}`),
        "  ],",
        ");",
      ]),
      "",
    );
  }
  [...decoded.values()].forEach((d, i) => {
    out.push(
      `/** Decodes one \`${d.kind} ${d.cName}\` from its bytes (a ring or perf buffer record). */`,
      call(`export function decode${d.ts}`, ["bytes: Uint8Array"], `: ${d.ts} {`),
      `  return decoders[${i}](bytes) as ${d.ts};`,
      "}",
      "",
    );
  });
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

/** The llvm-strip used to drop DWARF from objects before embedding them. */
export const LLVM_STRIP = "llvm-strip-19";

/**
 * Per host architecture (`Deno.build.arch`): the `__TARGET_ARCH_*` name `bpf_tracing.h`
 * wants (as libbpf's Makefiles derive it) and the Debian/Ubuntu multiarch triple whose
 * include directory holds `asm/types.h`.
 */
const HOST_TARGETS: Record<string, { arch: string; triple: string }> = {
  x86_64: { arch: "x86", triple: "x86_64-linux-gnu" },
  aarch64: { arch: "arm64", triple: "aarch64-linux-gnu" },
  riscv64: { arch: "riscv", triple: "riscv64-linux-gnu" },
  s390x: { arch: "s390", triple: "s390x-linux-gnu" },
  ppc64le: { arch: "powerpc", triple: "powerpc64le-linux-gnu" },
  loongarch64: { arch: "loongarch", triple: "loongarch64-linux-gnu" },
  arm: { arch: "arm", triple: "arm-linux-gnueabihf" },
};

/**
 * The clang flags for the machine programs will run on: `-D__TARGET_ARCH_<arch>` (unless
 * `userFlags` name a target arch already, to build for another machine) and the multiarch
 * include directory. None for an architecture not in the table.
 */
export function hostTargetFlags(
  arch: string = Deno.build.arch,
  userFlags: string[] = [],
): string[] {
  const t = HOST_TARGETS[arch];
  if (t === undefined) return [];
  const flags = [`-I/usr/include/${t.triple}`];
  if (!userFlags.some((f) => f.startsWith("-D__TARGET_ARCH_"))) {
    flags.unshift(`-D__TARGET_ARCH_${t.arch}`);
  }
  return flags;
}

/** Runs `cmd`; a missing tool is an error naming it and the package to install. */
function run(cmd: string, args: string[], what: string): Deno.CommandOutput {
  try {
    return new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).outputSync();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      const pkg = cmd.replace(/^llvm-[a-z]+/, "llvm");
      throw new Error(`Cannot ${what}: ${cmd} is not installed (apt-get install ${pkg})`, {
        cause: e,
      });
    }
    throw e;
  }
}

/**
 * Drops DWARF (`.debug_*`) from the object at `path`, in place. `.BTF` and `.BTF.ext`
 * (types, line and CO-RE information) stay: they are what loading needs.
 */
function stripDebugInfo(path: string): void {
  const r = run(LLVM_STRIP, ["-g", path], `strip '${path}'`);
  if (!r.success) {
    throw new Error(`Cannot strip '${path}': ${new TextDecoder().decode(r.stderr).trim()}`);
  }
}

/**
 * Compiles a BPF C file for `target` with clang-19 for this host (see
 * {@linkcode hostTargetFlags}); returns the object's bytes, DWARF stripped.
 */
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
    const user = [...inFile, ...cflags];
    const args = ["-O2", "-g", "-target", target, ...hostTargetFlags(Deno.build.arch, user)];
    args.push(`-I${dirOf}`, ...user);
    // The typed-log header, where the package is on disk (a remote package: see main()).
    if (LOG_HEADER_URL.protocol === "file:") {
      args.push(`-I${new URL(".", LOG_HEADER_URL).pathname}`);
    }
    args.push("-c", path, "-o", out);
    const r = run(CLANG, args, `compile '${path}'`);
    if (!r.success) {
      throw new Error(
        `Cannot compile '${path}' for ${target}: ${new TextDecoder().decode(r.stderr).trim()}`,
      );
    }
    stripDebugInfo(out);
    return Deno.readFileSync(out);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

/** `bytes` with DWARF stripped (through a temporary file). */
function stripped(bytes: Uint8Array): Uint8Array {
  const dir = Deno.makeTempDirSync({ prefix: "bpf2ts-" });
  try {
    Deno.writeFileSync(`${dir}/in.o`, bytes);
    stripDebugInfo(`${dir}/in.o`);
    return Deno.readFileSync(`${dir}/in.o`);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

function readIfExists(path: string): Uint8Array | undefined {
  try {
    return Deno.readFileSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/** `include/ebpf_log.h`, the typed-log header shipped with the package. */
export const LOG_HEADER_URL: URL = new URL("../include/ebpf_log.h", import.meta.url);

/**
 * Writes a copy of the typed-log header (`ebpf_log.h`) into `dir`, read from wherever the
 * package is (a local checkout, or JSR over the network); returns its path.
 */
export async function writeLogHeader(dir: string): Promise<string> {
  const res = await fetch(LOG_HEADER_URL);
  if (!res.ok) throw new Error(`Cannot read ${LOG_HEADER_URL}: HTTP ${res.status}`);
  const text = await res.text();
  await Deno.mkdir(dir, { recursive: true });
  const path = `${dir}/ebpf_log.h`;
  await Deno.writeTextFile(path, text);
  return path;
}

/** Which objects to embed: the host's byte order (the default), one of them, or both. */
export type ByteOrderChoice = "host" | "little" | "big" | "both";

/**
 * Objects for an input, DWARF stripped: compiled for the chosen byte order(s) from C; for an
 * ELF object, the object or its `-el.o`/`-eb.o` twin of each chosen order.
 */
export function objectsFor(
  input: string,
  cflags: string[] = [],
  byteOrder: ByteOrderChoice = "host",
): { little?: Uint8Array; big?: Uint8Array } {
  const orders = byteOrder === "both"
    ? ["little", "big"] as const
    : [byteOrder === "host" ? HOST_BYTE_ORDER : byteOrder] as const;
  const out: { little?: Uint8Array; big?: Uint8Array } = {};
  if (input.endsWith(".c")) {
    for (const o of orders) out[o] = compile(input, o === "little" ? "bpfel" : "bpfeb", cflags);
    return out;
  }
  const bytes = Deno.readFileSync(input);
  const order = parseCollectionSpec(bytes).byteOrder;
  const twinPath = input.replace(/-(el|eb)\.o$/, (_m, e) => (e === "el" ? "-eb.o" : "-el.o"));
  for (const o of orders) {
    if (o === order) {
      out[o] = stripped(bytes);
      continue;
    }
    const twin = twinPath === input ? undefined : readIfExists(twinPath);
    if (twin === undefined) {
      const hint = byteOrder === "host" ? ` (give --byte-order ${order} to embed it)` : "";
      throw new Error(
        `'${input}' is ${order}-endian and there is no ${o}-endian twin` +
          (twinPath === input ? "" : ` '${twinPath}'`) + hint,
      );
    }
    out[o] = stripped(twin);
  }
  return out;
}

const USAGE = `Usage: bpf2ts <file.c|file.o> [--out file.ts] [--name Name] [--import specifier]
       [--cflags "-DX=1 ..."] [--type NAME]... [--byte-order host|little|big|both]
   as: deno run -A jsr:@ebpf/ebpf/bpf2ts prog.c      (paths are relative to the current directory)

Writes typed TypeScript bindings for a BPF program: the object embedded (DWARF stripped),
types for the BTF structs, unions and enums its maps and variables use, typed maps,
programs and variables, and load<Name>(). C is compiled for this host: its byte order,
-D__TARGET_ARCH_<arch> and the multiarch include directory.

  --out         output file (default: <file>_bpf.ts next to the input)
  --name        base name of the generated identifiers (default: from the file name)
  --import      where the bindings import the library from (default: @ebpf/ebpf)
  --cflags      extra clang flags for C sources
  --type        a struct, union, enum or typedef to emit a type and decode<Type>() for,
                such as the records a ring or perf buffer carries (repeatable)
  --byte-order  the objects to embed: the host's (default), little, big or both
  --log-header DIR  write the typed-log header ebpf_log.h into DIR and exit (C sources
                find it without this: bpf2ts adds it to clang's include path)

An object whose programs log through ebpf_log.h gets open<Name>Logs(), a LogReader.`;

/** Runs the command with `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const opts: Record<string, string> = {};
  const types: string[] = [];
  const inputs: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "-h" || a === "--help") {
      console.log(USAGE);
      return 0;
    }
    const valued = ["--out", "--name", "--import", "--cflags", "--type", "--byte-order"];
    if ([...valued, "--log-header"].includes(a)) {
      if (i + 1 >= args.length) {
        console.error(`Option '${a}' needs a value`);
        return 2;
      }
      if (a === "--type") types.push(args[++i]);
      else opts[a.slice(2)] = args[++i];
    } else if (a.startsWith("-")) {
      console.error(`Unknown option: '${a}'\n${USAGE}`);
      return 2;
    } else inputs.push(a);
  }
  if (opts["log-header"] !== undefined) {
    console.log(`Wrote ${await writeLogHeader(opts["log-header"])}`);
    return 0;
  }
  if (inputs.length !== 1) {
    console.error(USAGE);
    return 2;
  }
  const byteOrder = opts["byte-order"] ?? "host";
  if (!["host", "little", "big", "both"].includes(byteOrder)) {
    console.error(`--byte-order: '${byteOrder}' is not host, little, big or both`);
    return 2;
  }
  const input = inputs[0];
  const stem = basename(input).replace(/(-(el|eb))?\.(c|o)$/, "");
  const out = opts.out ?? input.replace(/(-(el|eb))?\.(c|o)$/, "_bpf.ts");
  let headerDir: string | undefined;
  try {
    const cflags = opts.cflags?.split(/\s+/).filter((f) => f) ?? [];
    if (input.endsWith(".c") && LOG_HEADER_URL.protocol !== "file:") {
      headerDir = await Deno.makeTempDir({ prefix: "bpf2ts-" });
      await writeLogHeader(headerDir);
      cflags.push(`-I${headerDir}`);
    }
    const objects = objectsFor(input, cflags, byteOrder as ByteOrderChoice);
    const text = generate({
      name: opts.name ?? stem,
      ...objects,
      importFrom: opts.import ?? "@ebpf/ebpf",
      source: basename(input),
      types,
    });
    Deno.writeTextFileSync(out, text);
    console.log(`Wrote ${out}`);
    return 0;
  } catch (e) {
    console.error(`bpf2ts: ${(e as Error).message}`);
    return 1;
  } finally {
    if (headerDir !== undefined) await Deno.remove(headerDir, { recursive: true });
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
