// The demo's program: counts system calls per process on the raw_syscalls:sys_enter
// tracepoint, keeping each process's command name for the table.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define TASK_COMM_LEN 16

struct counter {
	__u64 calls;
	char comm[TASK_COMM_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct counter);
} calls_by_pid SEC(".maps");

/* Set before load to count only one process (0: every process). */
volatile const __u32 only_pid = 0;

SEC("tracepoint/raw_syscalls/sys_enter")
int count_syscalls(void *ctx)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	if (only_pid && pid != only_pid)
		return 0;
	struct counter *c = bpf_map_lookup_elem(&calls_by_pid, &pid);
	if (c) {
		__sync_fetch_and_add(&c->calls, 1);
		return 0;
	}
	struct counter fresh = { .calls = 1 };
	bpf_get_current_comm(fresh.comm, sizeof(fresh.comm));
	bpf_map_update_elem(&calls_by_pid, &pid, &fresh, BPF_NOEXIST);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
