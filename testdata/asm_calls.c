// bpf-to-bpf calls (static and global functions, recursion-free chains), a callback passed
// by pointer (bpf_loop), tail calls, byte order conversions, and imm64 loads of map values
// (global data in .data, .rodata and .bss).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u32);
} jump_table SEC(".maps");

__u64 calls = 3;
const volatile __u32 factor = 5;
__u32 scratch[8];

static __noinline __u64 square(__u64 x)
{
	return x * x + factor;
}

static __noinline __u64 cube(__u64 x)
{
	return square(x) * x + scratch[x & 7];
}

__noinline int global_helper(int x)
{
	return x + 1;
}

static int loop_body(__u32 index, void *ctx)
{
	__u64 *sum = ctx;

	*sum += index;
	return *sum > 1000;
}

SEC("socket")
int caller(struct __sk_buff *skb)
{
	__u64 sum = 0;

	calls++;
	scratch[skb->len & 7] = skb->len;
	bpf_loop(10, loop_body, &sum, 0);
	return cube(skb->len) + square(sum) + global_helper(skb->mark);
}

SEC("socket")
int tail(struct __sk_buff *skb)
{
	bpf_tail_call(skb, &jump_table, skb->len & 3);
	return bpf_htons(skb->protocol) + bpf_ntohl(skb->mark) + bpf_be64_to_cpu(skb->hash);
}

char __license[] SEC("license") = "GPL";
