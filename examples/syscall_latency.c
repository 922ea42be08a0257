// How long system calls take: a log2 histogram of microseconds from raw_syscalls:sys_enter
// to raw_syscalls:sys_exit, in libbpf-tools' biolatency shape (a start time per thread, a
// struct hist of slots per key), for every process or one, overall, per syscall or per process.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define MAX_SLOTS 27
#define TASK_COMM_LEN 16

/* What the histograms are keyed by (key_by). */
#define KEY_NONE 0
#define KEY_SYSCALL 1
#define KEY_PROCESS 2

/* libbpf-tools' histogram: log2 slots, and the command of the process it counts. */
struct hist {
	__u32 slots[MAX_SLOTS];
	char comm[TASK_COMM_LEN];
};

/* When each thread entered the system call it is in. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, __u64);
} start SEC(".maps");

/* A histogram per key: 0 for all, the syscall number, or the process id. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct hist);
} hists SEC(".maps");

/* Set before load: the process to time (0: every process), and the key (KEY_*). */
volatile const __u32 targ_pid = 0;
volatile const __u32 key_by = KEY_NONE;

/* The records of the raw_syscalls tracepoints, after the 8-byte common header. */
struct sys_enter_args {
	__u64 common;
	long id;
	unsigned long args[6];
};

struct sys_exit_args {
	__u64 common;
	long id;
	long ret;
};

static __always_inline __u32 log2_u64(__u64 v)
{
	__u32 r = 0;

	if (v >> 32) { v >>= 32; r += 32; }
	if (v >> 16) { v >>= 16; r += 16; }
	if (v >> 8) { v >>= 8; r += 8; }
	if (v >> 4) { v >>= 4; r += 4; }
	if (v >> 2) { v >>= 2; r += 2; }
	if (v >> 1) r += 1;
	return r;
}

SEC("tracepoint/raw_syscalls/sys_enter")
int sys_enter(struct sys_enter_args *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = pid_tgid;
	__u64 ts;

	if (targ_pid && (pid_tgid >> 32) != targ_pid)
		return 0;
	ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&start, &tid, &ts, BPF_ANY);
	return 0;
}

SEC("tracepoint/raw_syscalls/sys_exit")
int sys_exit(struct sys_exit_args *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = pid_tgid, key = 0, slot;
	struct hist zero = {}, *h;
	__u64 *tsp, usecs;

	tsp = bpf_map_lookup_elem(&start, &tid);
	if (!tsp)
		return 0; /* entered before we attached, or not a process we time */
	usecs = (bpf_ktime_get_ns() - *tsp) / 1000;
	bpf_map_delete_elem(&start, &tid);

	if (key_by == KEY_SYSCALL)
		key = ctx->id;
	else if (key_by == KEY_PROCESS)
		key = pid_tgid >> 32;
	h = bpf_map_lookup_elem(&hists, &key);
	if (!h) {
		bpf_map_update_elem(&hists, &key, &zero, BPF_NOEXIST);
		h = bpf_map_lookup_elem(&hists, &key);
		if (!h)
			return 0;
		bpf_get_current_comm(h->comm, sizeof(h->comm));
	}
	slot = log2_u64(usecs);
	if (slot >= MAX_SLOTS)
		slot = MAX_SLOTS - 1;
	/* Checked again where it indexes: the verifier loses the clamp's bound on the way. */
	if (slot < MAX_SLOTS)
		__sync_fetch_and_add(&h->slots[slot], 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
