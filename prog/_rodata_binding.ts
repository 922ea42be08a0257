/**
 * Read-only data maps bound to every program of a collection, as libbpf binds them.
 *
 * libbpf (since 0.2) calls BPF_PROG_BIND_MAP for each `.rodata` and `.rodata.*` map on each
 * program it loads, whether or not the program's instructions use the map: the maps then live
 * as long as the program, and tools that read a program's maps (`bpftool prog show` prints
 * the `bpf_metadata_*` variables of a bound `.rodata`) see them. A program loaded here
 * reports the same maps as the same program loaded by libbpf.
 *
 * @module
 */

import { Attr, BpfCmd, bpfErrno, bpfError } from "../ffi.ts";
import { feature } from "../_internal/feature.ts";
import { Errno } from "../errors.ts";
import type { BpfMap } from "../map/bpf_map.ts";
import type { MapSpec } from "../map/map_spec.ts";
import type { Program } from "./program.ts";

/** `BPF_F_RDONLY_PROG`: programs may only read the map. */
const BPF_F_RDONLY_PROG = 1 << 7;

/**
 * BPF_PROG_BIND_MAP (5.10), asked without making anything: a kernel that knows the command
 * looks the program fd up first and answers EBADF for fd -1; an older one answers EINVAL.
 */
export const progBindMap = feature("BPF_PROG_BIND_MAP", "5.10", () => {
  const r = bpfErrno(BpfCmd.PROG_BIND_MAP, new Attr().u32(0, 0xffffffff).u32(4, 0xffffffff));
  if (r === -Errno.EPERM) throw bpfError(BpfCmd.PROG_BIND_MAP, Errno.EPERM);
  return r === -Errno.EBADF;
});

/**
 * Whether map `name` is what libbpf calls a read-only data map: an ELF `.rodata` or
 * `.rodata.*` section (`.kconfig`, also read-only, is not one).
 */
export function isReadOnlyDataMap(name: string, spec: MapSpec): boolean {
  return (name === ".rodata" || name.startsWith(".rodata.")) &&
    (spec.flags & BPF_F_RDONLY_PROG) !== 0;
}

/**
 * Binds each of `maps` to `program`. A kernel without BPF_PROG_BIND_MAP skips it, as libbpf
 * does; the program works the same, only its map list lacks the maps it does not use.
 */
export function bindReadOnlyData(program: Program, maps: readonly BpfMap[]): void {
  if (maps.length === 0 || !progBindMap.supported()) return;
  for (const map of maps) program.bindMap(map);
}
