/**
 * Puts a Debian kernel that the system's apt sources do not offer into run-kernel's cache, the
 * way run-kernel unpacks its own: `$CACHE/kernel-<version>/` holding the unpacked package,
 * `depmod` run over it, and a `.ok` marker that makes run-kernel reuse it.
 *
 * apt runs with a private configuration (sources, lists and package cache under a temporary
 * directory in the cache): the system's /etc/apt is never read for sources nor written.
 *
 * @module
 */

import { join } from "@std/path";

/** Where a kernel series comes from when run-kernel cannot fetch it itself. */
export interface KernelSource {
  /** The Debian series, as `run-kernel --kernel` takes it (e.g. "6.18"). */
  series: string;
  /** One sources.list line (with its `signed-by` keyring). */
  aptSource: string;
}

/** Debian 13's newer kernels: trixie-backports carries 6.18. */
export const TRIXIE_BACKPORTS = "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] " +
  "http://deb.debian.org/debian trixie-backports main";

/** run-kernel's cache directory. */
export function runKernelCache(): string {
  return Deno.env.get("RUN_KERNEL_CACHE") ?? "/var/tmp/run-kernel";
}

/** The unpacked kernel of `series` in the cache that run-kernel would reuse, if any. */
export function cachedKernel(cache: string, series: string): string | undefined {
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(cache)];
  } catch {
    return undefined;
  }
  // run-kernel's own match: kernel-<series>-*-amd64, kernel-<series>.*-amd64.
  const prefixes = [`kernel-${series}-`, `kernel-${series}.`];
  for (const e of entries) {
    if (!e.isDirectory || !e.name.endsWith("-amd64")) continue;
    if (!prefixes.some((p) => e.name.startsWith(p))) continue;
    try {
      Deno.statSync(join(cache, e.name, ".ok"));
      return join(cache, e.name);
    } catch { /* not fully unpacked */ }
  }
  return undefined;
}

async function run(cmd: string, args: string[], env: Record<string, string>, cwd?: string) {
  const out = await new Deno.Command(cmd, { args, env, cwd, stdin: "null" }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success) {
    const err = new TextDecoder().decode(out.stderr).trim().split("\n").slice(-3).join("; ");
    throw new Error(`${cmd} ${args.join(" ")} failed (exit ${out.code}): ${err}`);
  }
  return text;
}

/** The packages of the same version that the kernel image package `pkg` depends on. */
async function imageParts(pkg: string, env: Record<string, string>): Promise<string[]> {
  const version = pkg.slice("linux-image-".length);
  const show = await run("apt-cache", ["show", "--no-all-versions", pkg], env);
  const depends = show.split("\n").find((l) => l.startsWith("Depends:")) ?? "";
  return [...depends.matchAll(/(linux-[a-z]+-[^\s,(|]+)/g)].map((m) => m[1])
    .filter((name) => name.endsWith(`-${version}`));
}

/**
 * The directory of the unpacked kernel of `source.series` in `cache`, fetching and unpacking
 * it first when the cache lacks it. Throws an Error saying which step failed (no network,
 * no such package, apt or dpkg failing).
 */
export async function ensureKernel(
  source: KernelSource,
  cache = runKernelCache(),
  log: (line: string) => void = console.log,
): Promise<string> {
  const cached = cachedKernel(cache, source.series);
  if (cached) return cached;
  Deno.mkdirSync(cache, { recursive: true });
  const tmp = Deno.makeTempDirSync({ dir: cache, prefix: "apt." });
  try {
    for (const d of ["lists/partial", "cache/archives/partial", "deb"]) {
      Deno.mkdirSync(join(tmp, d), { recursive: true });
    }
    Deno.writeTextFileSync(join(tmp, "sources.list"), source.aptSource + "\n");
    Deno.writeTextFileSync(
      join(tmp, "apt.conf"),
      `Dir::Etc::sourcelist "${tmp}/sources.list";\nDir::Etc::sourceparts "-";\n` +
        `Dir::State::Lists "${tmp}/lists";\nDir::Cache "${tmp}/cache";\n` +
        `APT::Sandbox::User "root";\n`,
    );
    const env = { APT_CONFIG: join(tmp, "apt.conf"), LC_ALL: "C" };
    log(`test:kernels: fetching Debian's ${source.series} kernel (${source.aptSource})`);
    // apt-get update exits 0 when an index cannot be fetched: its warnings say why.
    const update = await run("apt-get", ["-q", "update"], env);
    const escaped = source.series.replaceAll(".", "\\.");
    const pattern = new RegExp(`^linux-image-${escaped}\\.[0-9]+\\+deb[0-9]+-amd64$`);
    const known = new Set((await run("apt-cache", ["pkgnames", "linux-"], env)).split("\n"));
    const names = [...known].filter((n) => pattern.test(n))
      .sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
    if (names.length === 0) {
      const why = update.split("\n").filter((l) => /^(Err:|W:|E:)/.test(l)).slice(0, 2);
      throw new Error(
        `no package linux-image-${source.series}.N+debN-amd64 found` +
          (why.length ? ` (apt-get update: ${why.join("; ")})` : ""),
      );
    }
    // From 6.19 on, linux-image-<version> is empty and depends on linux-binary-, linux-modules-
    // and linux-base-<version>; a suite keeps the image of a superseded version but may have
    // dropped its parts: the newest version whose kernel-carrying parts are all there.
    // linux-base-<version> carries no kernel nor modules, and the suite drops it too while
    // keeping a whole (pre-6.19) image that names it: fetched when there, not required.
    let pkgs: string[] | undefined;
    for (const pkg of names.reverse()) {
      const parts = await imageParts(pkg, env);
      const required = parts.filter((p) => !p.startsWith("linux-base-"));
      if (required.every((p) => known.has(p))) {
        pkgs = [pkg, ...parts.filter((p) => known.has(p))];
        break;
      }
    }
    if (!pkgs) {
      throw new Error(
        `no linux-image-${source.series}.N+debN-amd64 whose linux-binary-/linux-modules-` +
          ` packages are still in ${source.aptSource} (newest: ${names[0]})`,
      );
    }
    const version = pkgs[0].slice("linux-image-".length);
    await run("apt-get", ["-q", "download", ...pkgs], env, join(tmp, "deb"));
    const debs = [...Deno.readDirSync(join(tmp, "deb"))].filter((e) => e.name.endsWith(".deb"));
    if (debs.length !== pkgs.length) {
      throw new Error(`apt-get download ${pkgs.join(" ")} left ${debs.length} .deb files`);
    }
    const unpacked = join(tmp, "kernel");
    for (const deb of debs) {
      await run("dpkg-deb", ["-x", join(tmp, "deb", deb.name), unpacked], env);
    }
    // Debian 13 packages install modules under usr/lib; run-kernel looks in lib/modules.
    try {
      Deno.lstatSync(join(unpacked, "lib"));
    } catch {
      Deno.symlinkSync("usr/lib", join(unpacked, "lib"));
    }
    // From 7.3 on, the kernel is lib/modules/<version>/vmlinuz; run-kernel boots boot/vmlinuz-*.
    const vmlinuz = join(unpacked, "boot", `vmlinuz-${version}`);
    try {
      Deno.lstatSync(vmlinuz);
    } catch {
      Deno.statSync(join(unpacked, "usr/lib/modules", version, "vmlinuz")); // neither: throws
      Deno.mkdirSync(join(unpacked, "boot"), { recursive: true });
      Deno.symlinkSync(`../usr/lib/modules/${version}/vmlinuz`, vmlinuz);
    }
    await run("depmod", ["-b", unpacked, version], env);
    Deno.writeTextFileSync(join(unpacked, ".ok"), "");
    // Renamed into place whole: run-kernel never sees a half-unpacked kernel.
    const dir = join(cache, `kernel-${version}`);
    try {
      Deno.removeSync(dir, { recursive: true }); // a kernel-<version> left without .ok
    } catch { /* none */ }
    Deno.renameSync(unpacked, dir);
    return dir;
  } finally {
    Deno.removeSync(tmp, { recursive: true });
  }
}
