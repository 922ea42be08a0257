/**
 * `deno task test` runs this first, so that the README's one command passes on a machine
 * that has only Node.js: it installs the tools the tests build and compare with (when any is
 * missing: one apt-get line saying which packages), and mounts bpffs and tracefs when they
 * are not mounted. Run again, it finds everything and does nothing.
 *
 * ```sh
 * deno run -A tests/setup.ts          # what `deno task test` does first
 * deno run -A tests/setup.ts --check  # only say what is missing
 * ```
 *
 * @module
 */

import { BPFFS, ensureMounted, isMounted, TRACEFS } from "../_internal/mounts.ts";

/** A Debian package and what shows it is installed: commands on PATH, or files. */
interface Requirement {
  package: string;
  commands?: string[];
  files?: string[][];
  why: string;
}

/** What the tests need beyond Deno, by Debian/Ubuntu package. */
export const REQUIREMENTS: Requirement[] = [
  { package: "clang-19", commands: ["clang-19"], why: "builds BPF C (testdata, fixtures)" },
  {
    package: "llvm-19",
    commands: ["llvm-objdump-19", "llvm-readelf-19", "llvm-readobj-19", "llvm-objcopy-19"],
    why: "oracles for the assembler and ELF reader",
  },
  { package: "bpftool", commands: ["bpftool"], why: "oracle for loaded programs and BTF" },
  {
    package: "libbpf-dev",
    files: [["/usr/include/bpf/bpf_helpers.h"]],
    why: "BPF C headers, and libbpf as a baseline",
  },
  { package: "gcc", commands: ["gcc"], why: "builds uprobe and USDT targets" },
  { package: "binutils", commands: ["readelf"], why: "oracle for ELF notes" },
  { package: "iproute2", commands: ["ip", "tc"], why: "network namespaces, XDP and tc tests" },
  { package: "kmod", commands: ["depmod"], why: "kernels unpacked for the kernel matrix" },
  {
    package: "systemtap-sdt-dev",
    files: [["/usr/include/x86_64-linux-gnu/sys/sdt.h", "/usr/include/sys/sdt.h"]],
    why: "USDT probes in test targets",
  },
];

function onPath(command: string): boolean {
  const dirs = (Deno.env.get("PATH") ?? "").split(":").concat(["/usr/sbin", "/sbin"]);
  return dirs.some((dir) => {
    try {
      return Deno.statSync(`${dir}/${command}`).isFile;
    } catch {
      return false;
    }
  });
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** The packages whose commands or files are missing here. */
export function missingPackages(): string[] {
  return REQUIREMENTS.filter((r) =>
    !(r.commands ?? []).every(onPath) || !(r.files ?? []).every((alts) => alts.some(exists))
  ).map((r) => r.package);
}

function isRoot(): boolean {
  return Deno.uid() === 0;
}

function apt(args: string[]): void {
  const out = new Deno.Command("apt-get", {
    args,
    env: { DEBIAN_FRONTEND: "noninteractive" },
    stdout: "null",
    stderr: "piped",
  }).outputSync();
  if (!out.success) {
    throw new Error(
      `apt-get ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr).trim()}`,
    );
  }
}

/** Installs what is missing and mounts what is unmounted; returns the problems left. */
export function setup(checkOnly: boolean): string[] {
  const problems: string[] = [];
  const missing = missingPackages();
  if (missing.length > 0) {
    const install = `apt-get install -y ${missing.join(" ")}`;
    if (checkOnly || !isRoot() || !onPath("apt-get")) {
      problems.push(
        `missing packages: ${missing.join(" ")}; install them with \`sudo ${install}\``,
      );
    } else {
      console.log(`test setup: installing ${missing.join(" ")} (apt-get)`);
      apt(["update", "-qq"]);
      apt(["install", "-y", "-qq", ...missing]);
      const still = missingPackages();
      if (still.length > 0) problems.push(`still missing after apt-get: ${still.join(" ")}`);
    }
  }
  for (const fs of [BPFFS, TRACEFS]) {
    if (isMounted(fs) === true) continue;
    if (checkOnly) {
      problems.push(`${fs.name} is not mounted at ${fs.path}`);
      continue;
    }
    try {
      ensureMounted(fs);
      console.log(`test setup: mounted ${fs.name} at ${fs.path}`);
    } catch (e) {
      problems.push((e as Error).message);
    }
  }
  return problems;
}

if (import.meta.main) {
  const problems = setup(Deno.args.includes("--check"));
  for (const p of problems) console.error(`test setup: ${p}`);
  // Without root the tests still run: kernel tests report themselves as skipped.
  if (problems.length > 0 && isRoot()) Deno.exit(1);
}
