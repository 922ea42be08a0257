/**
 * `deno task test:kernels`: runs the kernel tests under other kernels through
 * `../shared/vm/run-kernel` (QEMU), and reports per kernel and per file what passed, failed,
 * and was skipped with which reason. Type-checking happens once on the host; the guest runs
 * `deno test --no-check` (type-checking under emulation is slow and its cache is lost).
 *
 * ```sh
 * deno task test:kernels                 # the focused subset on 6.1, small ones on 6.18, 7.3
 * deno task test:kernels --all           # every test under tests/ (about 30 min or more)
 * deno task test:kernels --kernel 6.1 tests/link/tracing_test.ts
 * deno task test:kernels --kernel 6.18   # Debian's 6.18 (trixie-backports), fetched once
 * deno task test:kernels --require-vm    # fail, rather than skip, without run-kernel
 * ```
 *
 * Without run-kernel (a fresh clone without `../shared/vm`, or CI elsewhere) it says so and
 * exits 0, unless `--require-vm`. It exits 1 when any test failed or a run did not finish.
 * A kernel that cannot be fetched (no network, apt failing) is reported as not run, and
 * fails the run only with `--require-vm`.
 *
 * @module
 */

import { dirname, fromFileUrl, join, resolve } from "@std/path";
import { formatTable, namesKernel, parseDenoTest, type RunReport } from "./_report.ts";
import { ensureKernel, type KernelSource, TRIXIE_BACKPORTS } from "./_fetch_kernel.ts";

/**
 * The focused subset: the files whose tests depend on what the kernel offers (links, maps,
 * program loading, the assembler's programs in the verifier). Pure parsers and oracles
 * (elf/, btf/ parsing, asm encoding) behave the same on every kernel and stay on the host.
 * prog/differential_test.ts is left to `--all`: it compares with bpftool at length.
 */
export const FOCUSED: readonly string[] = [
  "tests/features_test.ts",
  "tests/link/",
  "tests/map/",
  "tests/prog/collection_test.ts",
  "tests/prog/compat_objects_test.ts",
  "tests/prog/core_run_test.ts",
  "tests/prog/freplace_test.ts",
  "tests/prog/kconfig_test.ts",
  "tests/prog/ksyms_test.ts",
  "tests/prog/object_test.ts",
  "tests/prog/program_info_test.ts",
  "tests/prog/prog_features_test.ts",
  "tests/prog/program_stream_test.ts",
  "tests/prog/program_test.ts",
  "tests/prog/struct_ops_collection_test.ts",
  "tests/prog/variables_test.ts",
  "tests/asm/kernel_test.ts",
  "tests/log/log_reader_test.ts",
  "tests/loaded_objects_test.ts",
  "tests/cmd/live_test.ts",
  "tests/cmd/live_net_test.ts",
];

/**
 * The subset run under Debian's 6.18: what changed since 6.1 (program streams are 6.17) and
 * what this project's host kernel, a 6.18 built and booted differently, cannot show: its
 * `deferred_init=lazy` boot makes every stream write fail with ENOMEM, and it has no kprobes,
 * BPF trampolines (fentry, struct_ops, freplace) nor BPF LSM, no fprobe (kprobe_multi,
 * kprobe.session) and no netkit. About three minutes under QEMU.
 */
export const FOCUSED_6_18: readonly string[] = [
  "tests/prog/program_stream_test.ts",
  "tests/link/kernel_hooks_test.ts",
  "tests/link/tracing_test.ts",
  "tests/link/struct_ops_test.ts",
  "tests/prog/freplace_test.ts",
  "tests/link/kprobe_multi_test.ts",
  "tests/link/kernel_functions_test.ts",
  "tests/link/netkit_test.ts",
];

/**
 * The subset run under Debian's 7.3: what needs a kernel newer than 6.18, here the per-CPU
 * element flags `BPF_F_CPU`/`BPF_F_ALL_CPUS` (7.0; Debian's 6.19 lacks them). trixie-backports
 * keeps only the newest series whole (the image's linux-binary/linux-modules parts), so this
 * names its newest series. About 35 s under QEMU.
 */
export const FOCUSED_7_3: readonly string[] = [
  "tests/map/percpu_flags_test.ts",
];

/** A kernel of the matrix: what runs there by default, and where it comes from. */
interface Kernel {
  paths: readonly string[];
  /** Set when run-kernel cannot fetch it with the system's apt sources. */
  source?: KernelSource;
}

/** The kernels run by default, in order. Another series given by `--kernel` runs FOCUSED. */
export const KERNELS: Readonly<Record<string, Kernel>> = {
  "6.1": { paths: FOCUSED },
  "6.18": { paths: FOCUSED_6_18, source: { series: "6.18", aptSource: TRIXIE_BACKPORTS } },
  "7.3": { paths: FOCUSED_7_3, source: { series: "7.3", aptSource: TRIXIE_BACKPORTS } },
};

interface Options {
  kernels: string[];
  paths: string[];
  timeout: number;
  mem?: string;
  requireVm: boolean;
  quiet: boolean;
}

function usage(): never {
  console.error(
    "usage: deno task test:kernels [--all] [--kernel SERIES]... [--timeout S] [--mem SIZE]\n" +
      "                              [--require-vm] [--quiet] [TEST_PATH...]",
  );
  Deno.exit(2);
}

function parseArgs(args: string[]): Options {
  const o: Options = { kernels: [], paths: [], timeout: 3600, requireVm: false, quiet: false };
  let all = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const value = () => args[++i] ?? usage();
    if (a === "--all") all = true;
    else if (a === "--kernel") o.kernels.push(value());
    else if (a === "--timeout") o.timeout = Number(value());
    else if (a === "--mem") o.mem = value();
    else if (a === "--require-vm") o.requireVm = true;
    else if (a === "--quiet") o.quiet = true;
    else if (a === "--help" || a === "-h") usage();
    else if (a.startsWith("-")) usage();
    else o.paths.push(a);
  }
  if (!Number.isFinite(o.timeout) || o.timeout <= 0) usage();
  if (o.kernels.length === 0) o.kernels = Object.keys(KERNELS);
  if (all) o.paths.push("tests/");
  return o;
}

/** The test paths for `kernel`: those given on the command line, else its own subset. */
function pathsFor(opts: Options, kernel: string): string[] {
  return opts.paths.length > 0 ? opts.paths : [...(KERNELS[kernel]?.paths ?? FOCUSED)];
}

/** run-kernel's exit status when the VM itself failed (boot, panic), not the command. */
const VM_FAILED = 125;

/** How many times a kernel's run is made again when its VM failed (not its tests). */
const VM_RETRIES = 2;

async function exec(cmd: string, args: string[], cwd: string, echo: boolean) {
  const child = new Deno.Command(cmd, {
    args,
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
    env: { NO_COLOR: "1" },
  }).spawn();
  const decoder = new TextDecoder();
  let text = "";
  for await (const chunk of child.stdout) {
    if (echo) await Deno.stdout.write(chunk);
    text += decoder.decode(chunk, { stream: true });
  }
  const { code } = await child.status;
  return { code, text };
}

function printReport(kernel: string, report: RunReport, seconds: number, code: number): boolean {
  console.log(`\n== kernel ${kernel}: ${seconds} s wall ==`);
  console.log(formatTable(report));
  for (const f of report.files) {
    for (const name of f.failed) console.log(`FAILED  ${f.file}: ${name}`);
  }
  const reasons = new Map<string, number>();
  for (const f of report.files) {
    for (const s of f.skipped) {
      const key = s.reason || "(no reason given)";
      reasons.set(key, (reasons.get(key) ?? 0) + 1);
    }
  }
  for (const [reason, n] of reasons) console.log(`skipped ${n} x ${reason}`);
  const vague = [...reasons.keys()].filter((r) => !namesKernel(r));
  if (vague.length > 0) {
    console.log(
      `WARNING: ${vague.length} skip reason(s) name no kernel that has the feature: ` +
        vague.map((r) => JSON.stringify(r)).join(", "),
    );
  }
  const s = report.summary;
  if (!s) {
    console.log(`kernel ${kernel}: no test summary (run-kernel exited ${code})`);
    return false;
  }
  console.log(
    `kernel ${kernel}: ${s.passed} passed, ${s.failed} failed, ${s.ignored} skipped` +
      (code === 0 ? "" : ` (exit ${code})`),
  );
  return s.failed === 0 && code === 0;
}

async function main() {
  const opts = parseArgs(Deno.args);
  const root = resolve(dirname(fromFileUrl(import.meta.url)), "../..");
  const runKernel = Deno.env.get("RUN_KERNEL") ?? join(root, "../shared/vm/run-kernel");
  try {
    Deno.statSync(runKernel);
  } catch {
    console.log(
      `test:kernels: no ${runKernel} (set RUN_KERNEL to its path): no kernel matrix run` +
        (opts.requireVm ? "; failing (--require-vm)" : ""),
    );
    Deno.exit(opts.requireVm ? 1 : 0);
  }

  const allPaths = [...new Set(opts.kernels.flatMap((k) => pathsFor(opts, k)))];
  console.log(`test:kernels: type-checking on the host: deno check ${allPaths.join(" ")}`);
  const check = await exec(Deno.execPath(), ["check", ...allPaths], root, true);
  if (check.code !== 0) Deno.exit(1);

  let ok = true;
  const notRun: string[] = [];
  for (const kernel of opts.kernels) {
    const paths = pathsFor(opts, kernel);
    const source = KERNELS[kernel]?.source;
    if (source) {
      try {
        await ensureKernel(source);
      } catch (e) {
        const why = e instanceof Error ? e.message : String(e);
        console.log(`\n== kernel ${kernel}: not run: fetching it failed: ${why} ==`);
        notRun.push(kernel);
        continue;
      }
    }
    const args = [runKernel, "--kernel", kernel, "--timeout", String(opts.timeout)];
    if (opts.mem) args.push("--mem", opts.mem);
    args.push(
      "--",
      "env",
      "NO_COLOR=1",
      "EBPF_REQUIRE_KERNEL=1",
      Deno.execPath(),
      "test",
      "--allow-all",
      "--no-check",
      "--v8-flags=--expose-gc",
      ...paths,
    );
    console.log(`test:kernels: kernel ${kernel}: ${paths.join(" ")}`);
    const start = Date.now();
    let run = await exec("bash", args, root, !opts.quiet);
    for (let retry = 1; run.code === VM_FAILED && retry <= VM_RETRIES; retry++) {
      // Software emulation sometimes panics the guest: on 6.18, at boot (int3 in
      // sched_clock_cpu) and while tests attach links (a fatal int3 in __schedule), each time
      // at a 5-byte NOP the kernel live-patches for a static key, which multi-threaded TCG
      // races. A failed VM is not a test result (a failed test exits with deno's status).
      console.log(
        `test:kernels: kernel ${kernel}: the VM failed (its console above); again (${retry})`,
      );
      run = await exec("bash", args, root, !opts.quiet);
    }
    const seconds = Math.round((Date.now() - start) / 1000);
    ok = printReport(kernel, parseDenoTest(run.text), seconds, run.code) && ok;
  }
  if (notRun.length > 0) {
    console.log(
      `test:kernels: not run: ${notRun.join(", ")}` + (opts.requireVm ? " (--require-vm)" : ""),
    );
    if (opts.requireVm) ok = false;
  }
  Deno.exit(ok ? 0 : 1);
}

if (import.meta.main) await main();
