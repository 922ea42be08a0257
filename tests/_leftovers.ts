/**
 * What a test leaves behind in the kernel and the file system: a snapshot of this process's
 * open fds, its mounts, the pins under the bpffs and the named network namespaces, taken
 * before and after a kernel test, and the difference of two snapshots in words.
 *
 * Rule for process-wide caches: an fd that stays open after a test is a leak, except one the
 * Deno runtime itself opens once on first use and keeps (its kinds are listed in
 * {@linkcode RUNTIME_FD_TARGETS}: event-loop handles, and the Unix socketpair a first Worker
 * opens — the library opens no sockets). The library keeps no fd open across calls: its
 * caches (kernel BTF spec, kconfig, kallsyms, feature probes) hold parsed data or answers, and
 * every probe closes what it created — so no BPF fd is ever allowed to outlive the test that
 * opened it. A terminated Worker's thread closes its module files and pipes a little after
 * `terminate()` returns, so when non-BPF fds are left the check polls for a bounded while
 * ({@linkcode SETTLE_MS}) before it names them.
 *
 * Pins, mounts and network namespaces are shared with every process of the mount namespace,
 * so on a shared machine another test run's appear too. Tests name them with their pid
 * (`ebpf_pin_test_${Deno.pid}`); a new one whose name carries the pid of another live deno
 * process is that process's and is not counted ({@linkcode isForeign}). The whole suite runs
 * in a private bpffs and mount namespace (run-fresh), where nothing foreign appears.
 * One mount is made once and kept by design, as a cache is: the first `ip netns add` on a
 * machine bind-mounts `/run/netns` onto itself (to make it a shared mount) and never undoes
 * it ({@linkcode KEPT_MOUNT_POINTS}).
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
  "unix-socket:",
];

/**
 * Mount points that a tool mounts once, on first use, and keeps for every later user:
 * iproute2's `/run/netns` self-bind-mount. What is mounted on top of them (a netns's nsfs
 * at `/run/netns/NAME`) is still counted.
 */
export const KEPT_MOUNT_POINTS: readonly string[] = ["/run/netns"];

/** How long non-BPF fds left by a test may take to close (a terminated Worker's teardown). */
export const SETTLE_MS = 3000;

/** The inodes of this network namespace's Unix-domain sockets. */
function unixSocketInodes(): Set<string> {
  const inodes = new Set<string>();
  try {
    for (const line of Deno.readTextFileSync("/proc/net/unix").split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length >= 7) inodes.add(fields[6]);
    }
  } catch {
    // No procfs view of Unix sockets: they are then named as plain sockets.
  }
  return inodes;
}

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
  const socket = /^socket:\[(\d+)\]$/.exec(target);
  if (socket) return unixSocketInodes().has(socket[1]) ? `unix-${target}` : target;
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

/**
 * Whether a pin, mount or netns line names a thing of another test process: one of its path
 * components ends in `_PID` or `-PID` where PID is a live deno process other than this one.
 */
export function isForeign(line: string): boolean {
  for (const m of line.matchAll(/[_-](\d+)(?=[\/\s]|$)/g)) {
    const pid = Number(m[1]);
    if (pid <= 1 || pid === Deno.pid) continue;
    try {
      if (/(^|\/)deno$/.test(Deno.readLinkSync(`/proc/${pid}/exe`))) return true;
    } catch {
      // No such process: the name is not another run's.
    }
  }
  return false;
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
    if (before.mounts.has(line) || isForeign(line)) continue;
    if (KEPT_MOUNT_POINTS.includes(line.split(" ")[2])) continue;
    out.push(`mount ${line}`);
  }
  for (const path of after.pins) {
    if (!before.pins.has(path) && !isForeign(path)) out.push(`pin ${path}`);
  }
  for (const path of after.netns) {
    if (!before.netns.has(path) && !isForeign(path)) out.push(`netns ${path}`);
  }
  return out;
}

/** Whether a leftover line names a BPF object's fd (these never close by themselves). */
function isBpfFd(line: string): boolean {
  return /^fd \d+ -> anon_inode:(bpf|btf|\[perf_event\])/.test(line);
}

/**
 * Runs `fn` and throws, naming each thing, when it left an fd, a mount, a pin or a network
 * namespace behind. An error from `fn` itself wins (the leftovers are then its consequence).
 */
export async function withLeftoverCheck<T>(fn: () => T | Promise<T>): Promise<T> {
  const before = snapshot();
  const result = await fn();
  let left = leftovers(before, snapshot());
  // Only fds can close by themselves later (a Worker's teardown); give them a bounded while.
  for (
    let waited = 0, step = 10;
    waited < SETTLE_MS && left.some((l) => l.startsWith("fd ") && !isBpfFd(l));
    waited += step, step *= 2
  ) {
    await new Promise((resolve) => setTimeout(resolve, step));
    left = leftovers(before, snapshot());
  }
  if (left.length > 0) {
    throw new Error(`The test left ${left.length} thing(s) behind:\n  ${left.join("\n  ")}`);
  }
  return result;
}
