// Mirrors cilium/ebpf's examples/ringbuffer: a ring buffer declared with
// `__type(value, struct event)` so that the event type is in the object's BTF (bpf2go
// generates it from there). A ring buffer has no key or value size: the type documents the
// records. The second ring asks for a size that is not a power-of-2 number of pages, which
// libbpf rounds up. libbpf passes the value size on, and the kernel refuses it (EINVAL).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct event {
	__u32 pid;
	__u8 comm[16];
	__u64 len;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 24);
	__type(value, struct event);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 10000);
} odd_size SEC(".maps");

SEC("socket")
int submit_event(struct __sk_buff *skb)
{
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e)
		return 0;
	e->pid = 42;
	__builtin_memcpy(e->comm, "compat_ringbuf", 15);
	e->comm[15] = 0;
	e->len = skb->len;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
