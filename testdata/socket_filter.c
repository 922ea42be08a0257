// A socket filter: keeps packets up to 100 bytes whole, truncates longer ones to 100.
// variants: nobtf
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("socket")
int truncate_long(struct __sk_buff *skb)
{
	return skb->len > 100 ? 100 : skb->len;
}

char __license[] SEC("license") = "GPL";
