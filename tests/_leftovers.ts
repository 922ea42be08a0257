/**
 * What a test leaves behind in the kernel and the file system: a snapshot of this process's
 * open fds, its mounts, the pins under the bpffs and the named network namespaces, taken
 * before and after a kernel test, and the difference of two snapshots in words.
 *
 * Rule for process-wide caches: an fd that stays open after a test is a leak, except one the
 * Deno runtime itself opens once on first use (its targets are listed in
 * {@linkcode RUNTIME_FD_TARGETS}). The library keeps no fd open across calls: its caches
 * (kernel BTF spec, kconfig, kallsyms, feature probes) hold parsed data or answers, and every
 * probe closes what it created — so no BPF fd is ever allowed to outlive the test that
 * opened it.
 *
 * @module
 */

/** Where the bpffs is mounted; pins are looked for below it. */
const BPFFS_ROOT = "/sys/fs/bpf";
/** Where `ip netns add` keeps named network namespaces. */
const NETNS_ROOT = "/run/netns";

/**
 * Fd targets the Deno runtime opens lazily and keeps for the life of the process (its event
 * loop, the resolver, the random source); a test that happens to be first to trigger one is
 * not leaking it. Matched against the start of the `/proc/self/fd` link target.
 */
export const RUNTIME_FD_TARGETS: readonly string[] = [
  "anon_inode:[eventfd]",
  "anon_inode:[eventpoll]",
  "anon_inode:[timerfd]",
  "anon_inode:inotify",
  "/dev/urandom",
  "/dev/random",
];

/** A moment's view of what a test could leave behind. */
export interface Snapshot {
  /** `fd -> target (details)` for every open fd of this process. */
  readonly fds: Map<number, string>;
  /** The lines of `/proc/self/mountinfo`, without the mount ids (so an equal remount matches). */
  readonly mounts: Set<string>;
  /** Every path below the bpffs root, recursively. */
  readonly pins: Set<string>;
  /** Every name in `/run/netns`. */
  readonly netns: Set<string>;
}

/** A readable description of an fd: its link target, and for BPF objects their type and id. */
function describeFd(fd: number): string | undefined {
  let target: string;
  try {
    target = Deno.readLinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return undefined; // closed between readdir and readlink
  }
  if (!target.startsWith("anon_inode:")) return target;
  try {
    const info = Deno.readTextFileSync(`/proc/self/fdinfo/${fd}`);
    const keep = info.split("\n").filter((line) =>
      /^(map_type|prog_type|link_type|map_id|prog_id|link_id|btf_id|attach_type|prog_tag):/.test(
        line,
      )
    ).map((line) => line.replace(/:\s+/, "=")).join(" ");
    return keep ? `${target} (${keep})` : target;
  } catch {
    return target;
  }
}

function fdsNow(): Map<number, string> {
  const numbers: number[] = [];
  for (const entry of Deno.readDirSync("/proc/self/fd")) numbers.push(Number(entry.name));
  const fds = new Map<number, string>();
  for (const fd of numbers) {
    const what = describeFd(fd);
    // The directory handle that listed /proc/self/fd is closed by now.
    if (what !== undefined && !/^\/proc\/\d+\/fd$/.test(what)) fds.set(fd, what);
  }
  return fds;
}

function mountsNow(): Set<string> {
  const lines = Deno.readTextFileSync("/proc/self/mountinfo").split("\n").filter((l) => l);
  // Fields 1 and 2 are the mount id and the parent's id; the rest says what is mounted where.
  return new Set(lines.map((l) => l.split(" ").slice(2).join(" ")));
}

function walk(root: string, into: Set<string>): Set<string> {
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(root)];
  } catch {
    return into; // missing, not mounted, or removed while walking
  }
  for (const entry of entries) {
    const path = `${root}/${entry.name}`;
    into.add(path);
    if (entry.isDirectory) walk(path, into);
  }
  return into;
}

/** Takes a snapshot of this process's fds and mounts, the pins and the network namespaces. */
export function snapshot(): Snapshot {
  return {
    fds: fdsNow(),
    mounts: mountsNow(),
    pins: walk(BPFFS_ROOT, new Set()),
    netns: walk(NETNS_ROOT, new Set()),
  };
}

/**
 * What `after` holds that `before` did not, one line per thing left behind; empty when
 * nothing was. Runtime fds ({@linkcode RUNTIME_FD_TARGETS}) are let through.
 */
export function leftovers(before: Snapshot, after: Snapshot): string[] {
  const out: string[] = [];
  for (const [fd, what] of after.fds) {
    if (before.fds.get(fd) === what) continue;
    if (RUNTIME_FD_TARGETS.some((t) => what.startsWith(t))) continue;
    out.push(`fd ${fd} -> ${what}`);
  }
  for (const line of after.mounts) {
    if (!before.mounts.has(line)) out.push(`mount ${line}`);
  }
  for (const path of after.pins) {
    if (!before.pins.has(path)) out.push(`pin ${path}`);
  }
  for (const path of after.netns) {
    if (!before.netns.has(path)) out.push(`netns ${path}`);
  }
  return out;
}

/**
 * Runs `fn` and throws, naming each thing, when it left an fd, a mount, a pin or a network
 * namespace behind. An error from `fn` itself wins (the leftovers are then its consequence).
 */
export async function withLeftoverCheck<T>(fn: () => T | Promise<T>): Promise<T> {
  const before = snapshot();
  const result = await fn();
  const left = leftovers(before, snapshot());
  if (left.length > 0) {
    throw new Error(`The test left ${left.length} thing(s) behind:\n  ${left.join("\n  ")}`);
  }
  return result;
}
