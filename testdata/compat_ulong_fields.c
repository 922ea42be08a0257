// `__ulong()` for every numeric field of a BTF map definition, next to the same map written
// with `__uint()`: libbpf >= 1.4's macro (an anonymous enum with one enumerator whose value
// is the field's, an enum64 past 32 bits), with the two-level paste of its first posting
// (__PASTE) so that it can be used more than once in a file. The two maps must read alike.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define ___PASTE(a, b) a##b
#define __PASTE(a, b) ___PASTE(a, b)
#define __ulong(name, val) enum { __PASTE(__unique_value, __COUNTER__) = val } name

struct {
	__ulong(type, BPF_MAP_TYPE_HASH);
	__ulong(max_entries, 64);
	__ulong(key_size, 4);
	__ulong(value_size, 12);
	__ulong(map_flags, BPF_F_NO_PREALLOC);
	__ulong(numa_node, 0);
	__ulong(map_extra, 0);
	__ulong(pinning, 0);
} by_ulong SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__uint(key_size, 4);
	__uint(value_size, 12);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(numa_node, 0);
	__uint(map_extra, 0);
	__uint(pinning, 0);
} by_uint SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_BLOOM_FILTER);
	__uint(max_entries, 16);
	__type(value, __u32);
	__ulong(map_extra, 5); /* the number of hash functions */
} bloom SEC(".maps");

SEC("socket")
int touch(struct __sk_buff *skb)
{
	__u32 key = 1;

	bpf_map_lookup_elem(&by_ulong, &key);
	bpf_map_lookup_elem(&by_uint, &key);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
