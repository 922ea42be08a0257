/**
 * uprobe_multi links (`BPF_LINK_TYPE_UPROBE_MULTI`, Linux 6.6): one program on many
 * locations of one ELF file.
 *
 * @module
 */

import { allocBuffer, Attr, cString } from "../ffi.ts";
import { AttachType } from "../prog/attach_type.ts";
import type { Program } from "../prog/program.ts";
import { ProgramType, programTypeName } from "../prog/program_type.ts";
import { LinkCreate, linkCreateErrno, linkCreateError } from "./_link_create.ts";
import { openTarget } from "./_uprobe_elf.ts";
import { RawLink } from "./link.ts";
import { missingLinkFeature } from "./link_features.ts";

/** One program on many user-space locations. */
export class UprobeMultiLink extends RawLink {}

/** Options of {@linkcode attachUprobeMulti}: symbols or file offsets, with extras. */
export interface UprobeMultiOptions {
  /** Function names resolved in the file. */
  symbols?: string[];
  /** File offsets (instead of symbols). */
  offsets?: bigint[];
  /** One cookie per location. */
  cookies?: bigint[];
  /** One semaphore file offset per location (USDT). */
  refCtrOffsets?: bigint[];
  /** Only fire in this process. */
  pid?: number;
  /** Run at function return. */
  return?: boolean;
}

function u64Array(values: bigint[]): Uint8Array {
  const out = allocBuffer(values.length * 8);
  const v = new DataView(out.buffer);
  values.forEach((x, i) => v.setBigUint64(i * 8, x, true));
  return out;
}

/**
 * Attaches a kprobe program (loaded with `AttachType.TraceUprobeMulti`) to many locations
 * of the ELF file `path`.
 */
export function attachUprobeMulti(
  program: Program,
  path: string,
  options: UprobeMultiOptions,
): UprobeMultiLink {
  if (program.type !== ProgramType.Kprobe) {
    throw new TypeError(
      `Cannot attach ${programTypeName(program.type)} as uprobe_multi: use a kprobe program`,
    );
  }
  const target = openTarget(path);
  let offsets = options.offsets ?? [];
  if (options.symbols?.length) {
    if (offsets.length) throw new TypeError("Give symbols or offsets, not both");
    offsets = options.symbols.map((s) => {
      const addr = target.elf.functionAddress(s);
      const off = addr === undefined ? undefined : target.elf.fileOffset(addr);
      if (off === undefined) {
        throw new Deno.errors.NotFound(`Symbol "${s}" is not a function in "${target.path}"`);
      }
      return off;
    });
  }
  if (offsets.length === 0) throw new TypeError("Give symbols or offsets");
  for (
    const [what, list] of [["cookies", options.cookies], [
      "refCtrOffsets",
      options.refCtrOffsets,
    ]] as const
  ) {
    if (list && list.length !== offsets.length) {
      throw new RangeError(`${list.length} ${what} for ${offsets.length} locations`);
    }
  }
  const attr = new Attr()
    .u32(LinkCreate.progFd, program.fd)
    .u32(LinkCreate.attachType, AttachType.TraceUprobeMulti)
    .pointer(LinkCreate.union, cString(target.path))
    .pointer(LinkCreate.union + 8, u64Array(offsets))
    .u32(LinkCreate.union + 32, offsets.length)
    .u32(LinkCreate.union + 36, options.return ? 1 : 0)
    .u32(LinkCreate.union + 40, options.pid ?? 0);
  if (options.refCtrOffsets) attr.pointer(LinkCreate.union + 16, u64Array(options.refCtrOffsets));
  if (options.cookies) attr.pointer(LinkCreate.union + 24, u64Array(options.cookies));
  const r = linkCreateErrno(attr);
  if (r >= 0) return new UprobeMultiLink(r);
  const cause = linkCreateError(-r, "uprobe_multi link");
  throw missingLinkFeature("uprobeMulti", -r, cause) ?? cause;
}
