/**
 * `feature probe`: what the running kernel supports — program types and their helpers, map
 * types, ISA versions and other features, map flags, link kinds — asked of the kernel
 * itself, printed as `bpftool feature probe` prints it (`--json`: its JSON keys).
 *
 * @module
 */

import { featuresJson, formatFeatures, probeFeatures } from "../../features.ts";
import { type Options, type Output, UsageError } from "./command.ts";

/** Runs `feature probe`. */
export function feature(verb: string | undefined, _args: string[], _options: Options): Output {
  if (verb !== undefined && verb !== "probe") {
    throw new UsageError(`Unknown command: 'feature ${verb}'`);
  }
  const report = probeFeatures();
  return { json: featuresJson(report), text: () => formatFeatures(report) };
}
