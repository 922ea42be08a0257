// Counts the packets and bytes arriving on an interface with a tcx ingress program.
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#ifndef TCX_NEXT
#define TCX_NEXT -1
#endif

struct traffic {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct traffic);
} ingress SEC(".maps");

SEC("tcx/ingress")
int count_ingress(struct __sk_buff *skb)
{
	__u32 zero = 0;
	struct traffic *t = bpf_map_lookup_elem(&ingress, &zero);
	if (t) {
		__sync_fetch_and_add(&t->packets, 1);
		__sync_fetch_and_add(&t->bytes, skb->len);
	}
	return TCX_NEXT;
}

char LICENSE[] SEC("license") = "GPL";
