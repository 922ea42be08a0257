/**
 * The ELF reader, when it is there: the object tests depend on `elf.loadCollectionSpec`,
 * which lands from another branch; until it does they skip with that reason.
 *
 * @module
 */

import type { CollectionSpec } from "../../prog/mod.ts";
import * as elf from "../../elf/mod.ts";

type Loader = (path: string) => CollectionSpec | Promise<CollectionSpec>;

/** `loadCollectionSpec` of elf/, or undefined while it has not landed. */
export const loadCollectionSpec: Loader | undefined =
  (elf as unknown as Record<string, Loader | undefined>).loadCollectionSpec;

/** Why object tests cannot run, or undefined when they can. */
export function noElfReader(): string | undefined {
  return loadCollectionSpec ? undefined : "elf.loadCollectionSpec has not landed";
}

/** Loads a testdata object's spec. */
export async function loadSpec(path: string): Promise<CollectionSpec> {
  if (!loadCollectionSpec) throw new Error("elf.loadCollectionSpec is missing");
  return await loadCollectionSpec(path);
}
