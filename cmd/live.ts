/**
 * `live`: what the running kernel holds — programs, maps, links, BTF objects, network
 * attachments, features — as `bpftool` shows them, with map entries decoded through their
 * BTF. Tables for people; `--json` for tools, with bpftool's field names, so scripts written
 * against `bpftool -j` read it too.
 *
 * Unlike `inspect`, which only parses files, this asks the kernel: it needs `--allow-ffi`
 * (bpf(2)), root or CAP_BPF with CAP_SYS_ADMIN (listing objects by id), and reads /proc and
 * /sys, which Deno grants with `-A`. It says so in one line when it lacks any of them.
 *
 * ```sh
 * deno run -A jsr:@ebpf/ebpf/live prog list
 * deno run -A jsr:@ebpf/ebpf/live prog dump xlated 42 --linum   # with the C source lines
 * deno run -A jsr:@ebpf/ebpf/live map dump 7                   # keys and values decoded
 * deno run -A jsr:@ebpf/ebpf/live net --json
 * ```
 *
 * @module
 */

import { NotSupportedError, PermissionError, SyscallError } from "../errors.ts";
import { btf } from "./_live/btf.ts";
import { type Options, type Output, UsageError } from "./_live/command.ts";
import { feature } from "./_live/feature.ts";
import { link } from "./_live/link.ts";
import { map } from "./_live/map.ts";
import { net } from "./_live/net.ts";
import { toJson } from "./_live/output.ts";
import { writeStdout } from "./inspect.ts";
import { prog } from "./_live/prog.ts";

const USAGE = `Usage: live [--json] COMMAND
   as: deno run -A jsr:@ebpf/ebpf/live prog list

Shows what the running kernel holds, as bpftool does (--json: bpftool's JSON fields).

  prog list | show ID | dump xlated ID [--linum]   programs; their instructions with C source
  map  list | show ID | dump ID                     maps; entries decoded through their BTF
  link list | show ID                               bpf_links
  btf  list | dump ID [--raw | --c]                 BTF objects; types raw or as C
  net  [--cgroup PATH]                              XDP, tcx, netkit, tc and flow dissector
                                                    programs here; cgroup programs under PATH
  feature probe                                     what this kernel supports

Needs --allow-ffi and root (CAP_BPF and CAP_SYS_ADMIN); -A grants Deno what it reads.`;

/** A command group: runs one verb with its arguments. */
type Group = (verb: string | undefined, args: string[], options: Options) => Output;

const GROUPS: Record<string, Group> = { prog, map, link, btf, net, feature };

/** Splits the command line into words and options. */
function parse(args: string[]): { words: string[]; options: Options; help: boolean } {
  const options: Options = { json: false, linum: false, format: undefined, cgroup: undefined };
  const words: string[] = [];
  let help = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--json" || a === "-j") options.json = true;
    else if (a === "--linum") options.linum = true;
    else if (a === "--c" || a === "--raw") options.format = a === "--c" ? "c" : "raw";
    else if (a === "--cgroup") {
      if (i + 1 >= args.length) throw new UsageError("Option '--cgroup' needs a path");
      options.cgroup = args[++i];
    } else if (a === "-h" || a === "--help") help = true;
    else if (a.startsWith("-")) throw new UsageError(`Unknown option: '${a}'`);
    else words.push(a);
  }
  return { words, options, help };
}

/**
 * Why this process cannot ask the kernel, or undefined when it may try: without
 * `--allow-ffi` no syscall can be made at all.
 */
function missingPermission(): string | undefined {
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") {
    return "live needs --allow-ffi to ask the kernel (deno run -A …)";
  }
  return undefined;
}

/** The one line printed for an error, without a stack. */
function describe(e: unknown): string {
  if (e instanceof PermissionError) return `Permission denied: ${e.message}`;
  if (e instanceof Deno.errors.NotCapable) return `${(e as Error).message} (deno run -A …)`;
  if (e instanceof SyscallError || e instanceof NotSupportedError) return e.message;
  return e instanceof Error ? e.message : String(e);
}

/** Runs the command with `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parse(args);
  } catch (e) {
    console.error(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  const { words, options, help } = parsed;
  if (help || words.length === 0) {
    (help ? console.log : console.error)(USAGE);
    return help ? 0 : 2;
  }
  const group = GROUPS[words[0]];
  if (group === undefined) {
    console.error(`Unknown command: '${words[0]}'\n${USAGE}`);
    return 2;
  }
  const missing = missingPermission();
  if (missing !== undefined) {
    console.error(missing);
    return 1;
  }
  try {
    const out = group(words[1], words.slice(2), options);
    await writeStdout(`${options.json ? toJson(out.json) : out.text()}\n`);
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`${e.message}\n${USAGE}`);
      return 2;
    }
    console.error(describe(e));
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
