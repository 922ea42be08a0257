/**
 * Pinning (BPF_OBJ_PIN) and opening pins (BPF_OBJ_GET) for maps, programs and links, with
 * errors that name the path and say what to do: the kernel answers a path outside a bpffs
 * with a bare EPERM, which reads like a missing capability. A pin under /sys/fs/bpf while no
 * bpffs is mounted there (a machine booted without systemd) mounts it first when this
 * process may, and otherwise fails with the mount command.
 *
 * @module
 */

import { Attr, BpfCmd, bpfErrno, bpfError, closeFd, cString, filesystemMagic } from "../ffi.ts";
import { Errno, errnoMessage, SyscallError } from "../errors.ts";
import { BPFFS, ensureMounted, isMounted } from "./mounts.ts";

/** What to run when no bpffs is mounted where the pin should go. */
const MOUNT_HINT = "pin under /sys/fs/bpf (mount a bpffs there with: mount -t bpf bpf /sys/fs/bpf)";

/** `BPF_FS_MAGIC` from `include/uapi/linux/magic.h`: statfs's `f_type` of a bpffs. */
export const BPF_FS_MAGIC = 0xcafe4a11;

/**
 * The one check of a pin path, before any syscall: a non-empty string without a NUL byte
 * (the kernel reads a C string, so `"a\0b"` would pin at `"a"`).
 */
export function checkPinPath(path: unknown, what: string): asserts path is string {
  if (typeof path !== "string") {
    throw new TypeError(`Invalid pin path of the ${what}: expected a string, got ${typeof path}`);
  }
  if (path === "") throw new TypeError(`Invalid pin path of the ${what}: it is empty`);
  cString(path, `pin path of the ${what}`);
}

/** Pins `fd` (a `what`: "map", "program", "link") at `path`. */
export function pinFd(fd: number, path: string, what: string): void {
  checkPinPath(path, what);
  const pin = () => bpfErrno(BpfCmd.OBJ_PIN, new Attr().pointer(0, cString(path)).u32(8, fd));
  let r = pin();
  // With no bpffs mounted the kernel says EPERM (sysfs' empty directory) or ENOENT.
  const unmounted = (errno: number) =>
    (errno === Errno.EPERM || errno === Errno.ENOENT) && path.startsWith(`${BPFFS.path}/`) &&
    isMounted(BPFFS) !== true;
  if (r < 0 && unmounted(-r)) {
    const e = pinError(BpfCmd.OBJ_PIN, -r, path, `the ${what} cannot be pinned at '${path}'`);
    ensureMounted(BPFFS, { cause: e });
    r = pin();
  }
  if (r < 0) throw pinError(BpfCmd.OBJ_PIN, -r, path, `the ${what} cannot be pinned at '${path}'`);
}

/** `BPF_F_RDONLY` and `BPF_F_WRONLY`: the access mode of an fd BPF_OBJ_GET opens. */
const OBJ_GET_RDONLY = 1 << 3;
const OBJ_GET_WRONLY = 1 << 4;

/** How to open a pin (BPF_OBJ_GET's `file_flags`). */
export interface LoadPinOptions {
  /**
   * Open a pinned map read-only (`BPF_F_RDONLY`): lookups and iteration work, updates and
   * deletes fail with EPERM. What a process with only read access to the pin file can do.
   */
  readOnly?: boolean;
  /**
   * Open a pinned map write-only (`BPF_F_WRONLY`): updates and deletes work, lookups fail
   * with EPERM.
   */
  writeOnly?: boolean;
}

/**
 * Opens the object pinned at `path` (BPF_OBJ_GET); returns its fd. The kernel applies
 * `readOnly`/`writeOnly` to maps, opens programs read-write whatever is asked, and refuses
 * them for links (EINVAL).
 */
export function openPinnedFd(path: string, what: string, options: LoadPinOptions = {}): number {
  checkPinPath(path, what);
  if (options.readOnly && options.writeOnly) {
    throw new TypeError("Invalid pin options: readOnly and writeOnly exclude each other");
  }
  const flags = (options.readOnly ? OBJ_GET_RDONLY : 0) | (options.writeOnly ? OBJ_GET_WRONLY : 0);
  const r = bpfErrno(BpfCmd.OBJ_GET, new Attr().pointer(0, cString(path)).u32(12, flags));
  if (r >= 0) return r;
  if (-r === Errno.EINVAL && flags !== 0 && what === "link") {
    throw new SyscallError(
      "BPF_OBJ_GET",
      -r,
      `no link can be opened at '${path}' read-only or write-only: the kernel opens links ` +
        "read-write only",
    );
  }
  throw pinError(BpfCmd.OBJ_GET, -r, path, `no ${what} can be opened at '${path}'`);
}

/** The first line of `/proc/self/fdinfo` that names a bpf object's kind, per kind. */
const FDINFO_KIND: Record<string, string> = {
  map: "map_type:",
  program: "prog_type:",
  link: "link_type:",
};

/**
 * Removes the pin of a `what` at `path`, and nothing else: the path must be on a bpffs
 * (statfs magic {@linkcode BPF_FS_MAGIC}), must not be a directory or a symbolic link, and
 * must open with BPF_OBJ_GET as a `what`. Anything else is a TypeError that says what the
 * path is, and stays where it is. (A pin replaced between the check and the removal by
 * another process is the one case this cannot rule out.)
 */
export function unpinPath(path: string, what: string): void {
  checkPinPath(path, what);
  const refuse = (why: string) =>
    new TypeError(`Cannot unpin '${path}': ${why}: only a pinned ${what} on a bpffs is removed`);
  let stat: Deno.FileInfo;
  try {
    stat = Deno.lstatSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw pinError(BpfCmd.OBJ_GET, Errno.ENOENT, path, `no ${what} can be unpinned at '${path}'`);
    }
    throw e;
  }
  if (stat.isSymlink) throw refuse("it is a symbolic link");
  const magic = filesystemMagic(path);
  if (magic !== BPF_FS_MAGIC) {
    const fs = filesystemOf(path);
    const on = fs ? `'${fs.mountPoint}' (${fs.type})` : `a file system of magic 0x${hex(magic)}`;
    throw refuse(`it is on ${on}, not on a bpffs`);
  }
  if (stat.isDirectory) throw refuse("it is a directory");
  const fd = bpfErrno(BpfCmd.OBJ_GET, new Attr().pointer(0, cString(path)));
  // On a bpffs, BPF_OBJ_GET answers EACCES for an inode that is not a map, program or link.
  if (fd === -Errno.EACCES) throw refuse("it is not a pinned BPF object");
  if (fd < 0) throw pinError(BpfCmd.OBJ_GET, -fd, path, `no ${what} can be unpinned at '${path}'`);
  let kind: string | undefined;
  try {
    const info = Deno.readTextFileSync(`/proc/self/fdinfo/${fd}`);
    kind = Object.keys(FDINFO_KIND).find((k) => info.includes(`\n${FDINFO_KIND[k]}`));
  } finally {
    closeFd(fd);
  }
  if (kind !== undefined && kind !== what) throw refuse(`it is a pinned ${kind}, not a ${what}`);
  Deno.removeSync(path);
}

function hex(n: number): string {
  return n.toString(16);
}

/** The error for a pin command failing at `path`; `lead` says what could not be done. */
function pinError(cmd: number, errno: number, path: string, lead: string): Error {
  const command = cmd === BpfCmd.OBJ_PIN ? "BPF_OBJ_PIN" : "BPF_OBJ_GET";
  const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) || "/" : ".";
  const fs = filesystemOf(nearestExisting(cmd === BpfCmd.OBJ_GET ? path : dir));
  const say = (detail: string) => new SyscallError(command, errno, `${lead}: ${detail}`);
  if (fs !== undefined && fs.type !== "bpf") {
    const notBpffs = `'${fs.mountPoint}' is on ${fs.type}, not on a bpffs: ${MOUNT_HINT}`;
    // The kernel says EPERM for a path outside a bpffs: a PermissionError, as every EPERM.
    if (errno === Errno.EPERM) return bpfError(cmd, errno, notBpffs, lead);
    return say(notBpffs);
  }
  switch (errno) {
    case Errno.ENOENT:
      if (cmd === BpfCmd.OBJ_GET && exists(dir)) return say("nothing is pinned there");
      return say(`the directory '${dir}' does not exist: create it first (mkdir -p '${dir}')`);
    case Errno.EEXIST:
      return say("a file already exists there: unpin it first (or choose another name)");
    case Errno.EPERM:
      return bpfError(cmd, errno, undefined, lead);
  }
  return say(errnoMessage(errno));
}

/** `path` or the nearest of its parents that exists. */
function nearestExisting(path: string): string {
  let p = path;
  while (p !== "/" && p !== "." && !exists(p)) {
    p = p.includes("/") ? p.slice(0, p.lastIndexOf("/")) || "/" : ".";
  }
  return p;
}

/** Whether anything (a link too) is at `path`; false when that cannot be read. */
export function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * The file system holding `path` (the mount with the longest mount point above its real
 * path), or undefined when that cannot be read (no permission to read /proc or the path).
 */
export function filesystemOf(path: string): { mountPoint: string; type: string } | undefined {
  let real: string;
  let mounts: string;
  try {
    real = Deno.realPathSync(path);
    mounts = Deno.readTextFileSync("/proc/self/mountinfo");
  } catch {
    return undefined;
  }
  let best: { mountPoint: string; type: string } | undefined;
  for (const line of mounts.split("\n")) {
    // id parent major:minor root mount-point options [optional fields] - type source options
    const fields = line.split(" ");
    const dash = fields.indexOf("-");
    if (fields.length < 5 || dash < 0) continue;
    const mountPoint = fields[4].replace(
      /\\([0-7]{3})/g,
      (_m, o) => String.fromCharCode(parseInt(o, 8)),
    );
    const under = real === mountPoint || mountPoint === "/" ||
      real.startsWith(mountPoint + "/");
    // Later lines are mounted on top of earlier ones at the same point.
    if (under && (best === undefined || mountPoint.length >= best.mountPoint.length)) {
      best = { mountPoint, type: fields[dash + 1] };
    }
  }
  return best;
}
