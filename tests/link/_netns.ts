/**
 * Running commands in a named network namespace. `nsenter --net` only joins the namespace;
 * `ip netns exec` and `ip -n` also remount /sys, which needs `/` to be a mount point (not so in
 * a chroot, such as a freshly bootstrapped root) and which nothing here needs: the library
 * resolves interface names in its own namespace (if_nametoindex).
 */

/** The argv prefix that runs a command in network namespace `ns` (one `ip netns add` made). */
export function inNetns(ns: string): [string, ...string[]] {
  return ["nsenter", `--net=/run/netns/${ns}`];
}

/** `[command, args]` for running `cmd args…` in network namespace `ns`. */
export function netnsCommand(ns: string, cmd: string, args: string[]): [string, string[]] {
  const [nsenter, ...prefix] = inNetns(ns);
  return [nsenter, [...prefix, cmd, ...args]];
}
