/**
 * Feature probes: questions about the running kernel asked once per process.
 *
 * @module
 */

import { currentBackend } from "../ffi.ts";
import { NotSupportedError } from "../errors.ts";

/**
 * A memoised probe for one kernel feature. Call it to require the feature (it throws
 * {@linkcode NotSupportedError} naming the feature and its first kernel), or ask
 * `supported()` for a yes/no answer.
 */
export interface FeatureProbe {
  (): void;
  /** The feature's name, such as `"BPF_MAP_TYPE_RINGBUF"`. */
  readonly feature: string;
  /** The first kernel version that has the feature. */
  readonly minKernel: string;
  /** Whether the running kernel has the feature; probes once per process. */
  supported(): boolean;
}

/**
 * Makes a memoised probe. `probe` answers true or false; when it throws (for example a
 * {@linkcode PermissionError}), nothing is remembered and the error propagates, so a later
 * call with more privileges probes again. Answers are kept per backend, so a fake kernel in
 * a test never poisons the answer for the real one.
 */
export function feature(name: string, minKernel: string, probe: () => boolean): FeatureProbe {
  let answer: { backend: unknown; supported: boolean } | undefined;
  const supported = (): boolean => {
    const backend = currentBackend();
    if (answer?.backend !== backend) answer = { backend, supported: probe() };
    return answer.supported;
  };
  const require = () => {
    if (!supported()) throw new NotSupportedError(name, minKernel);
  };
  return Object.assign(require, { feature: name, minKernel, supported });
}
