// Mirrors bcc's libbpf-tools (execsnoop.bpf.c, opensnoop.bpf.c, ...): a perf event array
// declared with key and value sizes as sizeof(u32) and no max_entries, which libbpf sets to
// the number of possible CPUs at load. A socket filter sends one event per run through
// bpf_perf_event_output to the current CPU's ring. libbpf 1.1 loads this object as it is.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

typedef __u32 u32;
typedef __u64 u64;

struct event {
	u32 len;
	u32 marker;
	u64 seq;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(u32));
	__uint(value_size, sizeof(u32));
} events SEC(".maps");

u64 seq;

SEC("socket")
int emit_event(struct __sk_buff *skb)
{
	struct event e = {
		.len = skb->len,
		.marker = 0xc0ffee,
		.seq = __sync_fetch_and_add(&seq, 1),
	};

	bpf_perf_event_output(skb, &events, BPF_F_CURRENT_CPU, &e, sizeof(e));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
