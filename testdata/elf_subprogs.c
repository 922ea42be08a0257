// Subprograms: static and global functions in .text shared by several programs, a weak
// function, a static function in a program section, nested calls, and a callback passed
// to bpf_loop (a function pointer loaded with ld_imm64).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

static __noinline int add_one(int x)
{
	return x + 1;
}

static __noinline int twice_plus_one(int x)
{
	return add_one(x * 2);
}

__noinline int global_square(int x)
{
	return x * x;
}

__weak __noinline int weak_negate(int x)
{
	return -x;
}

static int loop_body(__u32 index, void *ctx)
{
	*(int *)ctx += add_one(index);
	return 0;
}

SEC("socket")
int first(struct __sk_buff *skb)
{
	return twice_plus_one(skb->len) + global_square(skb->len & 7);
}

SEC("socket")
int second(struct __sk_buff *skb)
{
	int sum = 0;

	bpf_loop(4, loop_body, &sum, 0);
	return sum + weak_negate(skb->len);
}

static __noinline int local_helper(int x)
{
	return x ^ 0x5a;
}

SEC("xdp")
int third(struct xdp_md *ctx)
{
	return local_helper(ctx->ingress_ifindex) & 1 ? XDP_PASS : XDP_DROP;
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int fourth(void *ctx)
{
	return add_one(0) + global_square(3);
}

char __license[] SEC("license") = "GPL";
