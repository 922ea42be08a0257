// Reasons the link tests give for skipping on a machine without what they need.
import { run } from "../_harness.ts";

/** Where the tests find the cgroup v2 hierarchy. */
export const CGROUP2 = "/sys/fs/cgroup/unified";

/** Why a test cannot run without a cgroup v2 hierarchy at {@linkcode CGROUP2}, if so. */
export function noCgroup2(): string | undefined {
  try {
    Deno.statSync(`${CGROUP2}/cgroup.procs`);
    return undefined;
  } catch {
    return `no cgroup v2 at ${CGROUP2}`;
  }
}

/** Why a test cannot run without iproute2's `ip`, if so. */
export function noIproute2(): string | undefined {
  try {
    run("ip", ["-V"]);
    return undefined;
  } catch {
    return "needs iproute2";
  }
}
