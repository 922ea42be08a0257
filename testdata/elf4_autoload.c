// libbpf's "?" section prefix: a program in SEC("?…") is parsed like any other but is not
// loaded unless asked for (bpf_program__set_autoload in libbpf, `only` in newCollection).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} hits SEC(".maps");

SEC("socket")
int always(struct __sk_buff *skb)
{
	__u32 key = 0;
	__u64 *v = bpf_map_lookup_elem(&hits, &key);

	if (v)
		__sync_fetch_and_add(v, 1);
	return 1;
}

SEC("?socket")
int on_demand(struct __sk_buff *skb)
{
	return 2;
}

SEC("?xdp")
int on_demand_xdp(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
