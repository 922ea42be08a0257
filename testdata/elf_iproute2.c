// Maps in the "maps" section with iproute2's struct bpf_elf_map (tc's loader): ids, pinning
// and an inner map template for a map-in-map. libbpf rejects this layout; tc accepts it.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct bpf_elf_map {
	__u32 type;
	__u32 size_key;
	__u32 size_value;
	__u32 max_elem;
	__u32 flags;
	__u32 id;
	__u32 pinning;
	__u32 inner_id;
	__u32 inner_idx;
};

#define PIN_GLOBAL_NS 2

struct bpf_elf_map SEC("maps") tc_counts = {
	.type = BPF_MAP_TYPE_ARRAY,
	.size_key = sizeof(__u32),
	.size_value = sizeof(__u64),
	.max_elem = 8,
	.pinning = PIN_GLOBAL_NS,
};

struct bpf_elf_map SEC("maps") tc_inner = {
	.type = BPF_MAP_TYPE_ARRAY,
	.size_key = sizeof(__u32),
	.size_value = sizeof(__u32),
	.max_elem = 1,
	.id = 42,
	.inner_idx = 1,
};

struct bpf_elf_map SEC("maps") tc_outer = {
	.type = BPF_MAP_TYPE_ARRAY_OF_MAPS,
	.size_key = sizeof(__u32),
	.size_value = sizeof(__u32),
	.max_elem = 2,
	.inner_id = 42,
};

SEC("classifier")
int tc_count(struct __sk_buff *skb)
{
	__u32 key = 0;
	__u64 *v = bpf_map_lookup_elem(&tc_counts, &key);

	if (v)
		__sync_fetch_and_add(v, 1);
	return bpf_map_lookup_elem(&tc_outer, &key) ? 0 : 1;
}

char __license[] SEC("license") = "GPL";
