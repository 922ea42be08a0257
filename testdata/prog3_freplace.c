// freplace: `entry` calls the global function `decide`, which returns 1; `replacement`
// (SEC "freplace/decide") is an Extension program that replaces `decide` in the loaded
// `entry` and returns 2. The loader resolves the target to the BTF id of `decide` in the
// BTF of the loaded `entry` and passes the target program's fd (attach_prog_fd).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

__attribute__((noinline)) int decide(struct __sk_buff *skb)
{
	return skb->len > 0 ? 1 : 0;
}

SEC("socket")
int entry(struct __sk_buff *skb)
{
	return decide(skb);
}

SEC("freplace/decide")
int replacement(struct __sk_buff *skb)
{
	return 2;
}

char __license[] SEC("license") = "GPL";
