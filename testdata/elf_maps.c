// BTF-defined maps with every field libbpf reads (sizes given as numbers or as types,
// flags, numa_node, map_extra, pinning), map-in-map with static inner maps, and a program
// array with static entries used for tail calls between socket filters.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct pair {
	__u32 a;
	__u64 b;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 32);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, 16);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(numa_node, 0);
} sized_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct pair);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} typed_array SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_BLOOM_FILTER);
	__uint(max_entries, 100);
	__type(value, __u32);
	__uint(map_extra, 3);
} bloom SEC(".maps");

struct inner_array {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
};

struct inner_array inner_a SEC(".maps"), inner_b SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, struct inner_array);
} outer_array SEC(".maps") = {
	.values = { [0] = &inner_a, [2] = &inner_b },
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, struct {
		__uint(type, BPF_MAP_TYPE_HASH);
		__uint(max_entries, 8);
		__type(key, __u32);
		__type(value, __u64);
	});
} outer_hash SEC(".maps");

int tail_one(struct __sk_buff *skb);
int tail_two(struct __sk_buff *skb);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 3);
	__type(key, __u32);
	__array(values, int(struct __sk_buff *));
} jump_table SEC(".maps") = {
	.values = { [0] = (void *)&tail_one, [2] = (void *)&tail_two },
};

SEC("socket")
int tail_one(struct __sk_buff *skb)
{
	return 1;
}

SEC("socket")
int tail_two(struct __sk_buff *skb)
{
	return 2;
}

SEC("socket")
int dispatch(struct __sk_buff *skb)
{
	__u32 key = skb->len & 3, zero = 0;
	struct pair *p = bpf_map_lookup_elem(&typed_array, &zero);
	void *inner = bpf_map_lookup_elem(&outer_array, &zero);

	if (p)
		p->b++;
	if (inner) {
		__u32 *v = bpf_map_lookup_elem(inner, &zero);
		if (v)
			(*v)++;
	}
	inner = bpf_map_lookup_elem(&outer_hash, &zero);
	if (inner)
		bpf_map_lookup_elem(inner, &zero);
	bpf_map_push_elem(&bloom, &key, 0);
	bpf_map_lookup_elem(&sized_hash, &key);
	bpf_tail_call(skb, &jump_table, key);
	return 0;
}

char __license[] SEC("license") = "GPL";
