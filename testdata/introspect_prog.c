// A socket filter for the introspection tests: a subprogram (two func infos, two jited
// functions), a hash map (BPF_PSEUDO_MAP_FD), a global counter and a constant (map values,
// BPF_PSEUDO_MAP_VALUE), built with -g so that line info maps instructions back to these lines.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} lengths SEC(".maps");

__u64 packets = 0;
volatile const __u32 limit = 100;

static __noinline __u32 clamp(__u32 len)
{
	if (len > limit)
		return limit;
	return len;
}

SEC("socket")
int count_lengths(struct __sk_buff *skb)
{
	__u32 len = clamp(skb->len);
	__u64 *seen = bpf_map_lookup_elem(&lengths, &len);

	packets++;
	if (seen)
		__sync_fetch_and_add(seen, 1);
	return len;
}

char __license[] SEC("license") = "GPL";
