/**
 * Named network namespaces for the link tests and the children they start there. Commands
 * enter a namespace with `nsenter --net`, which only joins it; `ip netns exec` and `ip -n`
 * also remount /sys, which needs `/` to be a mount point (not so in a chroot, such as a
 * freshly bootstrapped root) and which nothing here needs: the library resolves interface
 * names in its own namespace (if_nametoindex).
 */
import { run } from "../_harness.ts";

/** The argv prefix that runs a command in network namespace `ns` (one `ip netns add` made). */
export function inNetns(ns: string): [string, ...string[]] {
  return ["nsenter", `--net=/run/netns/${ns}`];
}

/** `[command, args]` for running `cmd args…` in network namespace `ns`. */
export function netnsCommand(ns: string, cmd: string, args: string[]): [string, string[]] {
  const [nsenter, ...prefix] = inNetns(ns);
  return [nsenter, [...prefix, cmd, ...args]];
}

/** Two new network namespaces, `ebpf_<tag>_a_<pid>` and `…_b_…`, removed afterwards. */
export function withNetnsPair<T>(tag: string, fn: (a: string, b: string) => T): T {
  const a = `ebpf_${tag}_a_${Deno.pid}`;
  const b = `ebpf_${tag}_b_${Deno.pid}`;
  run("ip", ["netns", "add", a]);
  try {
    run("ip", ["netns", "add", b]);
    try {
      return fn(a, b);
    } finally {
      run("ip", ["netns", "del", b]);
    }
  } finally {
    run("ip", ["netns", "del", a]);
  }
}

/** Two namespaces joined by a veth pair: v0 10.99.0.1 in A, v1 10.99.0.2 in B. */
export function withVethPair<T>(tag: string, fn: (a: string, b: string) => T): T {
  return withNetnsPair(tag, (a, b) => {
    run("ip", ["link", "add", "v0", "netns", a, "type", "veth", "peer", "name", "v1", "netns", b]);
    run(...netnsCommand(a, "ip", ["addr", "add", "10.99.0.1/24", "dev", "v0"]));
    run(...netnsCommand(b, "ip", ["addr", "add", "10.99.0.2/24", "dev", "v1"]));
    run(...netnsCommand(a, "ip", ["link", "set", "v0", "up"]));
    run(...netnsCommand(b, "ip", ["link", "set", "v1", "up"]));
    return fn(a, b);
  });
}

/** Runs `deno run -A script args…` behind `prefix` (a namespace entry); its last line as JSON. */
// deno-lint-ignore no-explicit-any
export function runChild(script: string, prefix: string[], args: string[]): any {
  const out = new Deno.Command(prefix[0], {
    args: [...prefix.slice(1), Deno.execPath(), "run", "-A", script, ...args],
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  const text = new TextDecoder().decode(out.stdout).trim();
  if (!out.success) throw new Error(`Child failed: ${new TextDecoder().decode(out.stderr)}`);
  return JSON.parse(text.split("\n").at(-1)!);
}

/**
 * UDP datagrams that reached the stack (delivered or to a closed port) of this namespace,
 * or of namespace `ns`.
 */
export function udpArrivals(ns?: string): number {
  let snmp: string;
  if (ns === undefined) snmp = Deno.readTextFileSync("/proc/net/snmp");
  else {
    const [cmd, args] = netnsCommand(ns, "cat", ["/proc/net/snmp"]);
    snmp = new TextDecoder().decode(new Deno.Command(cmd, { args }).outputSync().stdout);
  }
  const lines = snmp.split("\n").filter((l) => l.startsWith("Udp:"));
  const names = lines[0].split(/\s+/);
  const values = lines[1].split(/\s+/).map(Number);
  return values[names.indexOf("InDatagrams")] + values[names.indexOf("NoPorts")];
}

/** Sends `n` UDP datagrams to `address` port 9999 from namespace `ns`. */
export function sendUdpFrom(ns: string, address: string, n: number): void {
  const script = `for i in $(seq ${n}); do echo x > /dev/udp/${address}/9999; done`;
  run(...netnsCommand(ns, "bash", ["-c", script]));
}

/**
 * Waits until `arrived()` is true: packets are handled asynchronously (softirq), so counters
 * are read once they show them, not after a fixed time. The deadline only bounds a wait for
 * packets that never come; the caller's checks then report what did.
 */
export async function settle(arrived: () => boolean): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!arrived() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
}
