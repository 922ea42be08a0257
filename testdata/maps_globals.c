// BTF-defined maps of several types, global data in every writable and read-only section,
// and a static subprogram shared by two programs.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct event {
	__u32 pid;
	__u32 kind;
	__u64 value;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct event);
} events_by_pid SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} percpu_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 128);
	__uint(map_flags, BPF_F_NO_COMMON_LRU);
	__type(key, __u64);
	__type(value, __u32);
} recent SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} ring SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pinned_hash SEC(".maps");

__u64 packets = 7;                       // .data
const volatile __u32 threshold = 100;    // .rodata
__u64 total_bytes;                       // .bss
__u32 extra[4] SEC(".data.x") = {1, 2, 3, 4};

static __noinline __u64 scale(__u64 v)
{
	return v * threshold + extra[v & 3];
}

SEC("socket")
int count_packets(struct __sk_buff *skb)
{
	__u32 key = 0;
	__u64 *slot = bpf_map_lookup_elem(&counters, &key);

	if (slot)
		__sync_fetch_and_add(slot, 1);
	packets++;
	total_bytes += scale(skb->len);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_getpid")
int on_getpid(void *ctx)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	struct event ev = { .pid = pid, .kind = 1, .value = scale(pid) };
	struct event *rec;

	bpf_map_update_elem(&events_by_pid, &pid, &ev, BPF_ANY);
	rec = bpf_ringbuf_reserve(&ring, sizeof(*rec), 0);
	if (rec) {
		*rec = ev;
		bpf_ringbuf_submit(rec, 0);
	}
	return 0;
}

char __license[] SEC("license") = "GPL";
