// Objects for the live inspector's tests (tests/cmd/live_*_test.ts): a BTF-typed hash, a
// per-CPU array, and XDP and tc programs that use them, with a subprogram so that the
// translated code has more than one function. Built with -g: the kernel keeps line info.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#ifndef TCX_NEXT
#define TCX_NEXT -1 /* libbpf-dev 1.1's uapi headers predate tcx */
#endif

struct flow_key {
	__u32 addr;
	__u16 port;
	__u8 proto;
	__u8 pad;
};

struct flow_stats {
	__u64 packets;
	__u64 bytes;
	__s32 last_len;
	char tag[4];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, struct flow_key);
	__type(value, struct flow_stats);
} flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} per_cpu_hits SEC(".maps");

static __attribute__((noinline)) int count_hit(__u32 slot)
{
	__u64 *hits = bpf_map_lookup_elem(&per_cpu_hits, &slot);
	if (!hits)
		return 0;
	*hits += 1;
	return 1;
}

SEC("xdp")
int live_xdp(struct xdp_md *ctx)
{
	struct flow_key key = { .proto = 17 };
	struct flow_stats *s = bpf_map_lookup_elem(&flows, &key);
	if (s)
		__sync_fetch_and_add(&s->packets, 1);
	count_hit(0);
	return XDP_PASS;
}

SEC("tcx/ingress")
int live_tcx(struct __sk_buff *skb)
{
	count_hit(1);
	return TCX_NEXT;
}

char LICENSE[] SEC("license") = "GPL";
