// Perf event arrays as other public collections write them, which only a loader that fixes
// up the definition creates: one with no sizes at all (libbpf-bootstrap-style minimal
// definitions: just the type), and one typed with the event it carries, `__type(key, int);
// __type(value, struct event)` (cilium/tetragon's bpf_event.h), where the value type
// documents the records rather than the 4-byte slot. libbpf passes those sizes on as they
// are, and the kernel refuses them (EINVAL); cilium/ebpf and this library make both 4.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct event {
	__u32 len;
	__u32 marker;
	__u64 stamp;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
} bare_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__type(key, int);
	__type(value, struct event);
} typed_events SEC(".maps");

static __always_inline void emit(struct __sk_buff *skb, void *map, __u32 marker)
{
	struct event e = { .len = skb->len, .marker = marker, .stamp = 0 };

	bpf_perf_event_output(skb, map, BPF_F_CURRENT_CPU, &e, sizeof(e));
}

SEC("socket")
int emit_bare(struct __sk_buff *skb)
{
	emit(skb, &bare_events, 0xba4e);
	return 0;
}

SEC("socket")
int emit_typed(struct __sk_buff *skb)
{
	emit(skb, &typed_events, 0x7e7);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
