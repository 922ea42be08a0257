// Counts the packets and bytes a cgroup sends, and lets them all through.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct traffic {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct traffic);
} egress SEC(".maps");

SEC("cgroup_skb/egress")
int count_egress(struct __sk_buff *skb)
{
	__u32 zero = 0;
	struct traffic *t = bpf_map_lookup_elem(&egress, &zero);
	if (t) {
		__sync_fetch_and_add(&t->packets, 1);
		__sync_fetch_and_add(&t->bytes, skb->len);
	}
	return 1;
}

char LICENSE[] SEC("license") = "GPL";
