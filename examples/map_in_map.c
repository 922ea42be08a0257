// A map of maps: the program picks an inner map by the packet's length class and counts
// in it. User space creates the inner maps and puts them in the outer one.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, struct inner);
} by_size SEC(".maps");

SEC("socket")
int count_by_size(struct __sk_buff *skb)
{
	__u32 slot = skb->len >= 100 ? 1 : 0;
	void *inner = bpf_map_lookup_elem(&by_size, &slot);
	if (!inner)
		return 0;
	__u32 zero = 0;
	__u64 *count = bpf_map_lookup_elem(inner, &zero);
	if (count)
		__sync_fetch_and_add(count, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
