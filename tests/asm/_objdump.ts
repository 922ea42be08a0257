// Runs llvm-objdump-19 as an oracle and parses its output into instruction lines.

/** One instruction line of llvm-objdump: raw offset (in slots) and text. */
export interface ObjdumpLine {
  offset: number;
  text: string;
}

export const OBJDUMP = "llvm-objdump-19";
export const OBJCOPY = "llvm-objcopy-19";

/** Why the llvm tools cannot run here, or undefined when they can. */
export function llvmMissing(): string | undefined {
  for (const tool of [OBJDUMP, OBJCOPY]) {
    try {
      const out = new Deno.Command(tool, { args: ["--version"], stdout: "null", stderr: "null" })
        .outputSync();
      if (!out.success) return `${tool} does not run`;
    } catch {
      return `${tool} is not installed`;
    }
  }
  return undefined;
}

function run(cmd: string, args: string[]): string {
  const out = new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).outputSync();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return new TextDecoder().decode(out.stdout);
}

/**
 * Disassembles every executable section of `path`. llvm-objdump 19 reads a big-endian BPF
 * object as host-endian unless told `--triple=bpfeb`, so the triple always follows the byte
 * order. Returns the instruction lines of each section, without llvm's `<symbol+offset>`
 * annotations of jump targets.
 */
export function objdump(
  path: string,
  order: "little" | "big",
  alu32 = false,
): Map<string, ObjdumpLine[]> {
  const args = ["-d", "--no-show-raw-insn", `--triple=${order === "big" ? "bpfeb" : "bpfel"}`];
  if (alu32) args.push("--mattr=+alu32");
  const text = run(OBJDUMP, [...args, path]);
  const sections = new Map<string, ObjdumpLine[]>();
  let current: ObjdumpLine[] | undefined;
  for (const line of text.split("\n")) {
    const header = /^Disassembly of section (.*):$/.exec(line);
    if (header) {
      current = [];
      sections.set(header[1], current);
      continue;
    }
    const m = /^\s*(\d+):\t(.*)$/.exec(line);
    if (m && current) {
      let insn = m[2];
      if (insn !== "<unknown>") insn = insn.replace(/ <[^<>]*>$/, "");
      current.push({ offset: Number(m[1]), text: insn });
    }
  }
  return sections;
}

/** Writes `bytes` as a new executable section `name` of a copy of `base`; returns the path. */
export function withSection(base: string, name: string, bytes: Uint8Array, dir: string): string {
  const bin = `${dir}/${name}.bin`;
  const out = `${dir}/${name}.o`;
  Deno.writeFileSync(bin, bytes);
  run(OBJCOPY, [
    "--add-section",
    `${name}=${bin}`,
    "--set-section-flags",
    `${name}=code,alloc`,
    base,
    out,
  ]);
  return out;
}
