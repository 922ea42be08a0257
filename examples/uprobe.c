// uprobe and uretprobe on libc's getcwd(3): who calls it, and what it returns.
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

struct call {
	__u32 pid;
	__u32 returned;
	__u64 size;
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, struct call);
} in_flight SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 14);
} calls SEC(".maps");

SEC("uprobe")
int BPF_KPROBE(enter_getcwd, char *buf, __u64 size)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct call c = { .pid = id >> 32, .size = size };
	bpf_get_current_comm(c.comm, sizeof(c.comm));
	bpf_map_update_elem(&in_flight, &id, &c, BPF_ANY);
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(exit_getcwd, long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct call *c = bpf_map_lookup_elem(&in_flight, &id);
	if (!c)
		return 0;
	c->returned = ret != 0;
	bpf_ringbuf_output(&calls, c, sizeof(*c), 0);
	bpf_map_delete_elem(&in_flight, &id);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
