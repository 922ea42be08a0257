// Counts openat(2) calls per process on the syscalls:sys_enter_openat tracepoint.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct opens {
	__u64 count;
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct opens);
} opens_by_pid SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_openat")
int count_openat(void *ctx)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	struct opens *o = bpf_map_lookup_elem(&opens_by_pid, &pid);
	if (o) {
		__sync_fetch_and_add(&o->count, 1);
		return 0;
	}
	struct opens fresh = { .count = 1 };
	bpf_get_current_comm(fresh.comm, sizeof(fresh.comm));
	bpf_map_update_elem(&opens_by_pid, &pid, &fresh, BPF_NOEXIST);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
