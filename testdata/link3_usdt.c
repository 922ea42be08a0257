// cflags: -D__TARGET_ARCH_x86
// A USDT program written the libbpf way: BPF_USDT reads the probe's arguments at run time
// through bpf_usdt_arg(), from the spec the loader wrote into __bpf_usdt_specs under the
// id it set as the uprobe's BPF cookie. Used by tests/link/usdt_test.ts on the
// ebpftest:tick probe of tests/link/fixtures/uprobe_target.c (args: i, sum, 1234).
#include <stdbool.h>
#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/usdt.bpf.h>

char _license[] SEC("license") = "GPL";

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 6);
  __type(key, __u32);
  __type(value, __u64);
} seen SEC(".maps");

static void put(__u32 key, __u64 value) {
  __u64 *slot = bpf_map_lookup_elem(&seen, &key);
  if (slot) *slot = value;
}

SEC("usdt")
int BPF_USDT(tick, long i, long sum, long constant) {
  __u32 fired = 0;
  __u64 *n = bpf_map_lookup_elem(&seen, &fired);
  if (n) __sync_fetch_and_add(n, 1);
  put(1, i);
  put(2, sum);
  put(3, constant);
  put(4, bpf_usdt_arg_cnt(ctx));
  put(5, bpf_usdt_cookie(ctx));
  return 0;
}
