/**
 * The test harness: kernel tests that skip with a reason (or fail under
 * `EBPF_REQUIRE_KERNEL=1`) and fail when they leave an fd, a pin, a mount or a network
 * namespace behind (tests/_leftovers.ts), mount helpers, and an fd-leak check.
 *
 * @module
 */

import type { FeatureProbe } from "../_internal/feature.ts";
import { Attr, bpfErrno, closeFd } from "../ffi.ts";
import { BpfCmd } from "../_internal/bpf_cmd.ts";
import { errnoName, NotSupportedError } from "../errors.ts";
import { BPFFS, ensureMounted, TRACEFS } from "../_internal/mounts.ts";
import { withLeftoverCheck } from "./_leftovers.ts";

/** True when CI demands that kernel tests run rather than skip for missing privileges. */
export const REQUIRE_KERNEL = Deno.env.get("EBPF_REQUIRE_KERNEL") === "1";

let kernelReason: string | null | undefined;

/**
 * Why kernel tests cannot run in this process, or null when they can: no `--allow-ffi`, no
 * bpf() syscall, or no privilege to use it. Decided once, by creating a tiny array map.
 */
export function kernelUnavailable(): string | null {
  if (kernelReason !== undefined) return kernelReason;
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") {
    return kernelReason = "needs --allow-ffi";
  }
  const attr = new Attr().u32(0, 2).u32(4, 4).u32(8, 4).u32(12, 1);
  const r = bpfErrno(BpfCmd.MAP_CREATE, attr);
  if (r >= 0) {
    closeFd(r);
    return kernelReason = null;
  }
  const code = errnoName(-r);
  if (code === "EPERM") return kernelReason = "needs root or CAP_BPF";
  return kernelReason = `bpf() is unavailable (${code})`;
}

/** Options of {@linkcode kernelTest}. */
export interface KernelTestOptions {
  /**
   * Returns why a feature this test needs is missing on this machine, or undefined when it
   * is there. Such a skip is allowed even under `EBPF_REQUIRE_KERNEL=1`: the machine lacks
   * the feature, not the test its privileges.
   */
  skipIf?: () => string | undefined;
  /** Passed to `Deno.test`. */
  sanitizeResources?: boolean;
  /** Passed to `Deno.test`. */
  sanitizeOps?: boolean;
}

/**
 * Registers a test that needs the real kernel. Without privileges it is registered as
 * ignored with the reason in its name; with `EBPF_REQUIRE_KERNEL=1` it fails instead.
 * When it runs, it fails if it left an fd, a pin under the bpffs, a mount or a network
 * namespace that was not there before it (see tests/_leftovers.ts for the rule on caches).
 */
export function kernelTest(
  name: string,
  fn: (t: Deno.TestContext) => void | Promise<void>,
  options: KernelTestOptions = {},
): void {
  const common = {
    sanitizeResources: options.sanitizeResources,
    sanitizeOps: options.sanitizeOps,
  };
  const reason = kernelUnavailable();
  if (reason !== null) {
    if (REQUIRE_KERNEL) {
      Deno.test({
        name,
        fn() {
          throw new Error(`Kernel test cannot run: ${reason} (EBPF_REQUIRE_KERNEL=1)`);
        },
        ...common,
      });
    } else {
      Deno.test({ name: `${name} [skipped: ${reason}]`, ignore: true, fn });
    }
    return;
  }
  const missing = options.skipIf?.();
  if (missing !== undefined) {
    Deno.test({ name: `${name} [skipped: ${missing}]`, ignore: true, fn });
    return;
  }
  Deno.test({ name, fn: (t) => withLeftoverCheck(() => fn(t)), ...common });
}

/** The number of open file descriptors of this process. */
export function openFdCount(): number {
  let n = 0;
  for (const _ of Deno.readDirSync("/proc/self/fd")) n++;
  return n;
}

/** Runs `fn` and throws if the process has more open fds afterwards than before. */
export async function assertNoFdLeak(fn: () => void | Promise<void>): Promise<void> {
  const before = openFdCount();
  await fn();
  const after = openFdCount();
  if (after > before) {
    throw new Error(`File descriptors leaked: ${before} open before, ${after} after`);
  }
}

/** Mounts bpffs at `/sys/fs/bpf` unless it is mounted already; returns the path. */
export function ensureBpffs(): string {
  ensureMounted(BPFFS);
  return BPFFS.path;
}

/** Mounts tracefs at `/sys/kernel/tracing` unless it is mounted already; returns the path. */
export function ensureTracefs(): string {
  ensureMounted(TRACEFS);
  return TRACEFS.path;
}

/** The path of a file in `testdata/`. */
export function testdata(name: string): string {
  return new URL(`../testdata/${name}`, import.meta.url).pathname;
}

/** Runs a command and returns its stdout; throws with stderr when it fails. */
export function run(cmd: string, args: string[]): string {
  const out = new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).outputSync();
  if (!out.success) {
    throw new Error(
      `${cmd} ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr).trim()}`,
    );
  }
  return new TextDecoder().decode(out.stdout);
}

/**
 * A skip reason naming the feature and its first kernel (`"log_true_size is not supported
 * (requires Linux 6.4)"`) when the running kernel lacks what `probe` asks, else undefined.
 */
export function missingFeature(probe: FeatureProbe): string | undefined {
  return probe.supported()
    ? undefined
    : new NotSupportedError(probe.feature, probe.minKernel).message;
}

/**
 * Whether the running kernel's version is at least `min` (such as `"6.6"`): a test's oracle
 * for what the library's probes answer, never the library's own way to decide.
 */
export function kernelAtLeast(min: string): boolean {
  const [major, minor] = Deno.osRelease().split(".").map(Number);
  const [wantMajor, wantMinor] = min.split(".").map(Number);
  return major > wantMajor || (major === wantMajor && minor >= wantMinor);
}

/** The `key: value` lines of `/proc/self/fdinfo/<fd>`, read here with no library code. */
export function fdinfoFields(fd: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of Deno.readTextFileSync(`/proc/self/fdinfo/${fd}`).split("\n")) {
    const m = /^(\w+):\s*(.*)$/.exec(line);
    if (m) out[m[1]] = m[2];
  }
  return out;
}
