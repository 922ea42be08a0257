/**
 * The argument specs libbpf's `<bpf/usdt.bpf.h>` reads at run time: `struct __bpf_usdt_spec`
 * values in the program's `__bpf_usdt_specs` array map, found by the spec id the loader
 * sets as the uprobe's BPF cookie, and the ids handed out per map.
 *
 * Layout (usdt.bpf.h of libbpf 1.1, the installed header; x86-64 alignment):
 * ```c
 * struct __bpf_usdt_arg_spec {            // 16 bytes
 *   __u64 val_off;                        // 0: constant, or offset from the register
 *   enum __bpf_usdt_arg_type arg_type;    // 8: CONST 0, REG 1, REG_DEREF 2
 *   short reg_off;                        // 12: offsetof(struct pt_regs, reg)
 *   bool arg_signed;                      // 14
 *   char arg_bitshift;                    // 15: 64 - 8 * size
 * };
 * struct __bpf_usdt_spec {                // 208 bytes
 *   struct __bpf_usdt_arg_spec args[12];  // 0 (BPF_USDT_MAX_ARG_CNT)
 *   __u64 usdt_cookie;                    // 192
 *   short arg_cnt;                        // 200
 * };
 * ```
 *
 * @module
 */

import { HOST_BYTE_ORDER } from "../asm/mod.ts";
import type { BpfMap } from "../map/bpf_map.ts";
import { MapType } from "../map/map_type.ts";
import type { UsdtArg } from "./usdt.ts";

/** `BPF_USDT_MAX_ARG_CNT`: the arguments a spec has room for. */
export const USDT_MAX_ARG_CNT = 12;
/** `sizeof(struct __bpf_usdt_arg_spec)`. */
const ARG_SPEC_SIZE = 16;
/** `sizeof(struct __bpf_usdt_spec)`. */
export const USDT_SPEC_SIZE = 208;
const COOKIE_OFFSET = USDT_MAX_ARG_CNT * ARG_SPEC_SIZE;
const ARG_CNT_OFFSET = COOKIE_OFFSET + 8;

/** `enum __bpf_usdt_arg_type`. */
const ARG_TYPE = { const: 0, reg: 1, reg_deref: 2 } as const;

/**
 * The kernel name of the spec map: `__bpf_usdt_specs` cut to the 15 characters an object
 * name keeps.
 */
export const USDT_SPECS_MAP_NAME = "__bpf_usdt_spec";

/** Encodes `struct __bpf_usdt_spec` for `args` and the user's cookie, in host byte order. */
export function encodeUsdtSpec(args: readonly UsdtArg[], cookie: bigint): Uint8Array {
  if (args.length > USDT_MAX_ARG_CNT) {
    throw new RangeError(
      `USDT probe has ${args.length} arguments: usdt.bpf.h takes at most ${USDT_MAX_ARG_CNT}`,
    );
  }
  const out = new Uint8Array(USDT_SPEC_SIZE);
  const v = new DataView(out.buffer);
  const le = HOST_BYTE_ORDER === "little";
  args.forEach((a, i) => {
    const at = i * ARG_SPEC_SIZE;
    v.setBigUint64(at, BigInt.asUintN(64, a.value), le);
    v.setUint32(at + 8, ARG_TYPE[a.kind], le);
    v.setInt16(at + 12, a.kind === "const" ? 0 : a.ptRegsOffset!, le);
    v.setUint8(at + 14, a.signed ? 1 : 0);
    v.setInt8(at + 15, 64 - 8 * a.size);
  });
  v.setBigUint64(COOKIE_OFFSET, BigInt.asUintN(64, cookie), le);
  v.setInt16(ARG_CNT_OFFSET, args.length, le);
  return out;
}

/** Whether `map` has the shape of usdt.bpf.h's `__bpf_usdt_specs`, else why not. */
export function checkSpecsMap(map: BpfMap): void {
  if (map.type !== MapType.Array || map.keySize !== 4 || map.valueSize !== USDT_SPEC_SIZE) {
    throw new TypeError(
      `USDT spec map '${map.name}' is not usdt.bpf.h's: want an array of 4-byte keys and ` +
        `${USDT_SPEC_SIZE}-byte values, have type ${map.type}, key ${map.keySize}, value ` +
        `${map.valueSize}`,
    );
  }
}

// Spec ids in use, per spec map (by kernel map id, unique while the map lives). Like
// libbpf's, the bookkeeping is per process: two processes that attach through one pinned
// map do not see each other's ids.
const used = new Map<number, Set<number>>();

/** Takes the lowest free spec id of map `mapId`, which has `maxEntries` slots. */
export function allocateSpecId(mapId: number, maxEntries: number): number {
  let ids = used.get(mapId);
  if (!ids) used.set(mapId, ids = new Set());
  for (let id = 0; id < maxEntries; id++) {
    if (ids.has(id)) continue;
    ids.add(id);
    return id;
  }
  throw new RangeError(
    `USDT spec map ${mapId} is full: all ${maxEntries} spec ids are attached ` +
      `(raise BPF_USDT_MAX_SPEC_CNT)`,
  );
}

/** Gives spec ids back when their links close. */
export function freeSpecIds(mapId: number, ids: Iterable<number>): void {
  const set = used.get(mapId);
  if (!set) return;
  for (const id of ids) set.delete(id);
  if (set.size === 0) used.delete(mapId);
}

/** The spec ids of map `mapId` in use now (for tests). */
export function specIdsInUse(mapId: number): number[] {
  return [...(used.get(mapId) ?? [])].sort((a, b) => a - b);
}
