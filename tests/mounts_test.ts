// bpffs and tracefs mounted on demand: in a private mount namespace where neither is
// mounted (as on a machine booted without systemd), a pin under /sys/fs/bpf and a
// tracepoint lookup mount what they need when the process may, and otherwise fail with the
// exact mount command. The host's mounts are never touched.
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { kernelTest } from "./_harness.ts";
import { BPFFS, mountCommand, TRACEFS } from "../_internal/mounts.ts";

const CHILD = new URL("./fixtures/mount_child.ts", import.meta.url).pathname;

interface Outcome {
  sameMap?: boolean;
  id?: number;
  mounted?: boolean;
  error?: string;
  missing?: string;
  message?: string;
}

/**
 * Runs the child (`pin` or `tracepoint`) with `flags`, in a new mount namespace without
 * bpffs and tracefs, behind `prefix` (such as setpriv dropping a capability).
 */
function unmounted(mode: string, flags: string[], prefix: string[] = []): Outcome {
  // /sys made private first, so that the unmounts stay in the new namespace. (Not
  // `--propagation private`, which needs / to be a mount point, as it is not in a chroot.)
  // debugfs goes too where it is mounted (as under run-kernel): its tracing directory
  // mounts tracefs by itself when looked at, which would find tracefs without a mount.
  const script = "mount --make-rprivate /sys; umount -R /sys/kernel/debug 2>/dev/null || true; " +
    "for m in /sys/fs/bpf /sys/kernel/tracing; do " +
    'while mountpoint -q "$m"; do umount "$m"; done; done; exec "$@"';
  const out = new Deno.Command("unshare", {
    args: [
      "--mount",
      "--propagation",
      "unchanged",
      "sh",
      "-ec",
      script,
      "sh",
      ...prefix,
      Deno.execPath(),
      "run",
      ...flags,
      CHILD,
      mode,
    ],
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  const text = new TextDecoder().decode(out.stdout).trim();
  assert(out.success, `child failed: ${text}${new TextDecoder().decode(out.stderr)}`);
  return JSON.parse(text.split("\n").at(-1)!);
}

const noUnshare = () => {
  try {
    new Deno.Command("unshare", { args: ["--version"], stdout: "null" }).outputSync();
    return undefined;
  } catch {
    return "needs unshare(1)";
  }
};

kernelTest("bpffs: a pin under /sys/fs/bpf mounts bpffs there when it is missing", () => {
  const r = unmounted("pin", ["-A"]);
  assertEquals(r, { sameMap: true, mounted: true });
}, { skipIf: noUnshare });

kernelTest("tracefs: a tracepoint lookup mounts tracefs when it is missing", () => {
  const r = unmounted("tracepoint", ["-A"]);
  const id = Number(Deno.readTextFileSync(`${TRACEFS.path}/events/syscalls/sys_enter_openat/id`));
  assertEquals(r, { id, mounted: true });
}, { skipIf: noUnshare });

kernelTest("bpffs and tracefs: without CAP_SYS_ADMIN the error gives the mount command", () => {
  const noSysAdmin = ["setpriv", "--bounding-set", "-sys_admin", "--inh-caps", "-sys_admin"];
  for (const mode of ["pin", "tracepoint"]) {
    const r = unmounted(mode, ["-A"], noSysAdmin);
    assertEquals([r.error, r.missing], ["PermissionError", "CAP_SYS_ADMIN"], r.message);
    assertStringIncludes(r.message!, "needs root (CAP_SYS_ADMIN): run `sudo mount -t ");
  }
}, { skipIf: noUnshare });

kernelTest("bpffs: without -A (no /proc/self/mounts) the error says -A or the command", () => {
  const r = unmounted("pin", ["--allow-ffi", "--allow-read", "--allow-write", "--allow-run"]);
  assertEquals([r.error, r.missing], ["PermissionError", "--allow-all"], r.message);
  assertStringIncludes(r.message!, "run with -A, or run `sudo mount -t bpf bpf /sys/fs/bpf`");
}, { skipIf: noUnshare });

Deno.test("mountCommand: the filesystem type, its source and the usual path", () => {
  assertEquals(mountCommand(TRACEFS), "sudo mount -t tracefs tracefs /sys/kernel/tracing");
  assertEquals(mountCommand(BPFFS), "sudo mount -t bpf bpf /sys/fs/bpf");
});
