/**
 * Anchors of multi-program attachments (tcx, netkit): where in the chain a new program
 * goes, encoded as BPF_F_BEFORE/AFTER/ID/LINK and a relative fd or id.
 *
 * @module
 */

import type { Program } from "../prog/program.ts";
import { RawLink } from "./link.ts";
import { choices, enumOption } from "../_internal/enum_option.ts";

/** `BPF_F_*` flags of multi-program attachments. */
export const MprogFlags = {
  Replace: 1 << 2,
  Before: 1 << 3,
  After: 1 << 4,
  Id: 1 << 5,
  Link: 1 << 13,
} as const;

/** A program or link already in the chain, or a kernel id of one. */
export type AnchorTarget =
  | Program
  | RawLink
  | { programId: number }
  | { linkId: number };

/**
 * Where to insert: `"head"` (first), `"tail"` (last, the default), or before/after a
 * program or link already attached to the same hook.
 */
export type Anchor = "head" | "tail" | { before: AnchorTarget } | { after: AnchorTarget };

/** The flags and relative fd or id an anchor stands for. */
export function encodeAnchor(anchor: Anchor | undefined): { flags: number; relative: number } {
  if (anchor === undefined || anchor === "tail") return { flags: MprogFlags.After, relative: 0 };
  if (anchor === "head") return { flags: MprogFlags.Before, relative: 0 };
  if (typeof anchor !== "object" || anchor === null) {
    enumOption(anchor, "anchor", choices("head", "tail")); // throws, naming the choices
  }
  const before = "before" in anchor;
  const target = before ? anchor.before : anchor.after;
  if (typeof target !== "object" || target === null) {
    throw new TypeError(
      `Invalid anchor: ${before ? "before" : "after"}: ${String(target)}: expected a ` +
        'Program, a link, { programId } or { linkId } (or the anchor "head" or "tail")',
    );
  }
  let flags = before ? MprogFlags.Before : MprogFlags.After;
  let relative: number;
  if ("programId" in target) {
    flags |= MprogFlags.Id;
    relative = target.programId;
  } else if ("linkId" in target) {
    flags |= MprogFlags.Id | MprogFlags.Link;
    relative = target.linkId;
  } else if (target instanceof RawLink) {
    flags |= MprogFlags.Link;
    relative = target.fd;
  } else {
    relative = target.fd;
  }
  return { flags, relative };
}
