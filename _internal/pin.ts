/**
 * BPF_OBJ_PIN for maps, programs and links alike. A pin under /sys/fs/bpf while no bpffs is
 * mounted there (a machine booted without systemd) mounts it first when this process may,
 * and otherwise fails with the mount command: the kernel alone would only say EPERM.
 *
 * @module
 */

import { Attr, bpf, cString } from "../ffi.ts";
import { BpfCmd } from "./bpf_cmd.ts";
import { BPFFS, ensureMounted, isMounted } from "./mounts.ts";

/** Pins the object behind `fd` at `path` on a bpffs. */
export function pinFd(fd: number, path: string): void {
  const pin = () => bpf(BpfCmd.OBJ_PIN, new Attr().pointer(0, cString(path)).u32(8, fd));
  try {
    pin();
  } catch (e) {
    if (!path.startsWith(`${BPFFS.path}/`) || isMounted(BPFFS) === true) throw e;
    ensureMounted(BPFFS, { cause: e });
    pin();
  }
}
