// Maps in the legacy "maps" section, described by struct bpf_map_def (libbpf < 1.0 style).
// variants: nobtf
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct bpf_map_def {
	unsigned int type;
	unsigned int key_size;
	unsigned int value_size;
	unsigned int max_entries;
	unsigned int map_flags;
};

struct bpf_map_def SEC("maps") legacy_hash = {
	.type = BPF_MAP_TYPE_HASH,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u64),
	.max_entries = 64,
};

struct bpf_map_def SEC("maps") legacy_array = {
	.type = BPF_MAP_TYPE_ARRAY,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u32),
	.max_entries = 2,
	.map_flags = 0,
};

SEC("socket")
int legacy_filter(struct __sk_buff *skb)
{
	__u32 key = skb->protocol & 1;
	__u64 one = 1, *v = bpf_map_lookup_elem(&legacy_hash, &key);

	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(&legacy_hash, &key, &one, BPF_NOEXIST);
	return -1;
}

char __license[] SEC("license") = "GPL";
