/**
 * The two kernel filesystems the library relies on: bpffs at `/sys/fs/bpf` (pins) and
 * tracefs at `/sys/kernel/tracing` (tracepoint ids, legacy probe events). A machine just
 * booted without systemd may have neither mounted; a process that may mount them (root, with
 * `--allow-all`) gets them mounted where they belong, and any other gets an error naming the
 * one command that does it.
 *
 * @module
 */

import { NotSupportedError, PermissionError } from "../errors.ts";
import { Capability, hasCapability } from "../ffi.ts";

/** A kernel filesystem with its usual mount point. */
export interface KernelFilesystem {
  /** What users call it, for messages. */
  readonly name: string;
  /** The filesystem type given to mount(8), also used as its source name. */
  readonly type: string;
  /** Where tools (bpftool, libbpf, perf) expect it. */
  readonly path: string;
}

/** bpffs at its usual mount point. */
export const BPFFS: KernelFilesystem = { name: "bpffs", type: "bpf", path: "/sys/fs/bpf" };

/** tracefs at its usual mount point. */
export const TRACEFS: KernelFilesystem = {
  name: "tracefs",
  type: "tracefs",
  path: "/sys/kernel/tracing",
};

/** The shell command that mounts `fs` at its usual place, as a user would type it. */
export function mountCommand(fs: KernelFilesystem): string {
  return `sudo mount -t ${fs.type} ${fs.type} ${fs.path}`;
}

/** Runs mount(8): it exists on every Linux system, and libc's mount() is not in ffi.ts. */
function runMount(fs: KernelFilesystem): { success: boolean; stderr: string } {
  const out = new Deno.Command("mount", {
    args: ["-t", fs.type, fs.type, fs.path],
    stdout: "null",
    stderr: "piped",
  }).outputSync();
  return { success: out.success, stderr: new TextDecoder().decode(out.stderr).trim() };
}

/**
 * Whether a filesystem of `fs.type` is mounted at `fs.path`, from `/proc/self/mounts`;
 * undefined when this process may not read it (Deno reads /proc only with `--allow-all`).
 */
export function isMounted(fs: KernelFilesystem): boolean | undefined {
  let mounts: string;
  try {
    mounts = Deno.readTextFileSync("/proc/self/mounts");
  } catch {
    return undefined;
  }
  return mounts.split("\n").some((line) => {
    const [, where, type] = line.split(" ");
    return where === fs.path && type === fs.type;
  });
}

/**
 * Makes sure `fs` is mounted at its path, mounting it when it is missing and this process
 * may: CAP_SYS_ADMIN, and `--allow-all` (Deno reads /proc/self/mounts, which tells whether
 * it is mounted, only with -A, and that grants running mount(8)). Never mounts over a mount: a
 * second bpffs would hide the pins of the first. Throws `PermissionError` (naming what is
 * missing and the command to run) when it may not, `NotSupportedError` when mount fails.
 */
export function ensureMounted(fs: KernelFilesystem, options?: ErrorOptions): void {
  const mounted = isMounted(fs);
  if (mounted === true) return;
  const command = mountCommand(fs);
  if (mounted === undefined) {
    throw new PermissionError(
      `${fs.name} may not be mounted at ${fs.path}; Deno reads /proc/self/mounts only with ` +
        `--allow-all, so the library can neither tell nor mount it: run with -A, or run ` +
        `\`${command}\``,
      "--allow-all",
      options,
    );
  }
  if (!hasCapability(Capability.CAP_SYS_ADMIN)) {
    throw new PermissionError(
      `${fs.name} is not mounted at ${fs.path}, and mounting it needs root ` +
        `(CAP_SYS_ADMIN): run \`${command}\``,
      "CAP_SYS_ADMIN",
      options,
    );
  }
  const out = runMount(fs);
  if (out.success && isMounted(fs) === true) return;
  throw new NotSupportedError(
    fs.name,
    undefined,
    `mounting it at ${fs.path} failed${out.stderr ? ` (${out.stderr})` : ""}; ` +
      `\`${command}\` is the command`,
    options,
  );
}
