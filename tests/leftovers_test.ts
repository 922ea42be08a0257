// The harness's leftover check: the difference of two snapshots names what a test left, and
// a kernel test that leaves a map fd, a pin or a mount is caught with the thing named.

import { assert, assertEquals, assertMatch, assertRejects } from "@std/assert";
import { BpfMap, MapSpec, MapType } from "../mod.ts";
import { ensureBpffs, kernelTest } from "./_harness.ts";
import { isForeign, leftovers, type Snapshot, withLeftoverCheck } from "./_leftovers.ts";

function snap(init: Partial<Record<keyof Snapshot, unknown>>): Snapshot {
  return {
    fds: new Map(init.fds as [number, string][] ?? []),
    mounts: new Set(init.mounts as string[] ?? []),
    pins: new Set(init.pins as string[] ?? []),
    netns: new Set(init.netns as string[] ?? []),
  };
}

Deno.test("leftovers: new fds, mounts, pins and netns are named; what was there is not", () => {
  const before = snap({
    fds: [[3, "/dev/null"], [5, "anon_inode:btf (btf_id=1)"]],
    mounts: ["0:20 / /proc rw - proc proc rw"],
    pins: ["/sys/fs/bpf/old"],
  });
  const after = snap({
    fds: [
      [3, "/dev/null"],
      [5, "anon_inode:btf (btf_id=1)"],
      [6, "anon_inode:bpf-map (map_type=2 map_id=9)"],
      [7, "anon_inode:[eventfd]"], // the runtime's, let through
      [8, "unix-socket:[4242]"], // the socketpair of a first Worker, let through
    ],
    mounts: [
      "0:20 / /proc rw - proc proc rw",
      "0:99 / /tmp/x rw - bpf bpf rw",
      // iproute2's once-only self-bind-mount, kept; a netns on it is not.
      "254:0 /var/tmp/r/run/netns /run/netns rw shared:2 - ext4 /dev/vda rw",
      "0:4 net:[4026532177] /run/netns/t1 rw shared:2 - nsfs nsfs rw",
    ],
    pins: ["/sys/fs/bpf/old", "/sys/fs/bpf/new"],
    netns: ["/run/netns/t1"],
  });
  assertEquals(leftovers(before, after), [
    "fd 6 -> anon_inode:bpf-map (map_type=2 map_id=9)",
    "mount 0:99 / /tmp/x rw - bpf bpf rw",
    "mount 0:4 net:[4026532177] /run/netns/t1 rw shared:2 - nsfs nsfs rw",
    "pin /sys/fs/bpf/new",
    "netns /run/netns/t1",
  ]);
  assertEquals(leftovers(after, after), []);
  // Something removed is no leftover; an fd number reused for another object is.
  assertEquals(leftovers(after, before), []);
  assertEquals(
    leftovers(before, snap({ fds: [[3, "/dev/null"], [5, "anon_inode:bpf-prog"]] })),
    ["fd 5 -> anon_inode:bpf-prog"],
  );
});

const spec = () => new MapSpec({ type: MapType.Array, keySize: 4, valueSize: 4, maxEntries: 1 });

kernelTest("leftovers: a map left open and a pin left behind fail the check, named", async () => {
  const dir = `${ensureBpffs()}/leftovers-test-${Deno.pid}`;
  let map: BpfMap | undefined;
  try {
    const e = await assertRejects(() =>
      withLeftoverCheck(() => {
        map = BpfMap.create(spec());
        Deno.mkdirSync(dir);
        map.pin(`${dir}/m`);
      })
    );
    assertMatch(e.message, /left 3 thing\(s\) behind/);
    assertMatch(e.message, /fd \d+ -> anon_inode:bpf-map \(map_type=2 map_id=\d+\)/);
    assertMatch(e.message, new RegExp(`pin ${dir}\n`));
    assertMatch(e.message, new RegExp(`pin ${dir}/m$`));
  } finally {
    map?.close();
    Deno.removeSync(dir, { recursive: true });
  }
  // Cleaned up in the test itself, nothing is left.
  assertEquals(
    await withLeftoverCheck(() => {
      const m = BpfMap.create(spec());
      Deno.mkdirSync(dir);
      m.pin(`${dir}/m`);
      BpfMap.unpin(`${dir}/m`);
      Deno.removeSync(dir);
      m.close();
      return 1;
    }),
    1,
  );
});

kernelTest("leftovers: a mount left behind fails the check, named", async () => {
  const where = Deno.makeTempDirSync({ prefix: "leftovers-mount-" });
  try {
    // Mount in a private mount namespace of a child would not be seen: this one is ours.
    const e = await assertRejects(() =>
      withLeftoverCheck(() => {
        const out = new Deno.Command("mount", { args: ["-t", "tmpfs", "none", where] })
          .outputSync();
        assertEquals(out.success, true, new TextDecoder().decode(out.stderr));
      })
    );
    assertMatch(e.message, new RegExp(`mount .* ${where} .* tmpfs none`));
  } finally {
    new Deno.Command("umount", { args: [where] }).outputSync();
    Deno.removeSync(where);
  }
});

Deno.test("leftovers: things named with another live deno process's pid are that run's", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", "await new Promise((r) => setTimeout(r, 60_000))"],
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    const other = child.pid;
    assert(isForeign(`/sys/fs/bpf/ebpf_pin_test_${other}/m`));
    assert(isForeign(`0:4 net:[1] /run/netns/ebpf_link_a_${other} rw - nsfs nsfs rw`));
    assert(!isForeign(`/sys/fs/bpf/ebpf_pin_test_${Deno.pid}/m`), "ours");
    assert(!isForeign("/sys/fs/bpf/map_1"), "init is no test run");
    const before = snap({});
    assertEquals(
      leftovers(before, snap({ pins: [`/sys/fs/bpf/t_${other}`, `/sys/fs/bpf/t_${Deno.pid}`] })),
      [`pin /sys/fs/bpf/t_${Deno.pid}`],
    );
  } finally {
    child.kill();
    await child.status;
  }
});
