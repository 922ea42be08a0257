// CO-RE relocations of every kind against the KERNEL's types (vmlinux), through this
// file's own preserve_access_index structs with ___flavour suffixes, as BPF programs
// written against vmlinux do. Every computed value lands in out[] (a global in .bss), at
// the index given by the OUT_* names below, so that a test can read it after a test run
// (syscall program) or after the tracepoint fired, and compare it with the kernel's BTF.
//
// - core_values (SEC "syscall"): field offset/size/exists/signed/lshift/rshift (incl. a
//   signed bitfield reached through an anonymous union, behind an existence check since
//   Linux 6.4 added it), type id local/target, type exists/size/matches, enum value
//   exists/value (32- and 64-bit enums); a field that the kernel lacks, read only behind
//   bpf_core_field_exists() (its load is poisoned and dead).
// - core_read_task (SEC "tracepoint/syscalls/sys_enter_getppid"): real reads of the
//   current task (pid, tgid, group leader's pid, comm, a bitfield) with BPF_CORE_READ.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#define PAI __attribute__((preserve_access_index))

struct task_struct___mine;

struct task_struct___mine {
	int pid;
	int tgid;
	unsigned int flags;
	char comm[16];
	struct task_struct___mine *group_leader;
	unsigned int sched_reset_on_fork : 1;
	unsigned int sched_contributes_to_load : 1;
} PAI;

/* Fields the kernel does not have: only ever read behind an existence check. */
struct task_struct___future {
	int pid;
	long long no_such_field_in_kernel;
} PAI;

/* A flavour that is not a "match": pid has the wrong size. */
struct task_struct___bad {
	long long pid;
} PAI;

/* A type that "matches" the kernel's exactly (task_struct___mine not since Linux 6.2: the
 * kernel's char is unsigned, BPF's is signed). */
struct list_head___mine {
	struct list_head___mine *next, *prev;
} PAI;

/* No such type in the kernel at all. */
struct no_such_kernel_type___mine {
	int x;
} PAI;

/* perf_event_attr's unsigned 64-bit bitfields. */
struct perf_event_attr___mine {
	unsigned int type;
	unsigned int size;
	unsigned long long config;
	unsigned long long disabled : 1, inherit : 1, pinned : 1, exclusive : 1;
	unsigned long long precise_ip : 2;
	unsigned long long sample_id_all : 1;
} PAI;

/* A signed bitfield of the verifier's register state, inside an anonymous union. */
struct bpf_reg_state___mine {
	int type;
	union {
		int range;
		struct {
			void *btf;
			unsigned int btf_id;
			unsigned int state : 2;
			int depth : 30;
		} iter;
	};
} PAI;

enum bpf_map_type___mine {
	BPF_MAP_TYPE_RINGBUF___mine = 1,
	BPF_MAP_TYPE_NO_SUCH___mine = 2,
};

/* An ENUM64 of the kernel: values above 2^32, read with a 64-bit immediate load. */
enum perf_callchain_context___mine {
	PERF_CONTEXT_KERNEL___mine = 0x100000000ULL,
	PERF_CONTEXT_USER___mine = 0x100000001ULL,
};

typedef struct task_struct___mine task_mine_t;

enum {
	OUT_PID_OFF,
	OUT_COMM_OFF,
	OUT_GROUP_LEADER_OFF,
	OUT_COMM_SIZE,
	OUT_PID_SIZE,
	OUT_PID_EXISTS,
	OUT_NOSUCH_EXISTS,
	OUT_NOSUCH_READ,
	OUT_PID_SIGNED,
	OUT_FLAGS_SIGNED,
	OUT_PRECISE_IP_OFF,
	OUT_PRECISE_IP_SIZE,
	OUT_PRECISE_IP_LSHIFT,
	OUT_PRECISE_IP_RSHIFT,
	OUT_PRECISE_IP_SIGNED,
	OUT_DEPTH_OFF,
	OUT_DEPTH_SIZE,
	OUT_DEPTH_LSHIFT,
	OUT_DEPTH_RSHIFT,
	OUT_DEPTH_SIGNED,
	OUT_TYPE_ID_LOCAL,
	OUT_TYPE_ID_KERNEL,
	OUT_TYPEDEF_ID_KERNEL,
	OUT_TASK_EXISTS,
	OUT_NOSUCH_TYPE_EXISTS,
	OUT_TASK_SIZE,
	OUT_TASK_MATCHES,
	OUT_TASK_BAD_MATCHES,
	OUT_LIST_HEAD_MATCHES,
	OUT_ENUM_RINGBUF_EXISTS,
	OUT_ENUM_NO_SUCH_EXISTS,
	OUT_ENUM_RINGBUF,
	OUT_ENUM64_KERNEL,
	OUT_ENUM64_EXISTS,
	OUT_READ_PID,
	OUT_READ_TGID,
	OUT_READ_LEADER_PID,
	OUT_READ_COMM,
	OUT_READ_RESET_ON_FORK,
	OUT_READ_COUNT,
	OUT_LEN,
};

__u64 out[OUT_LEN];

/* The process whose getppid() the tracepoint records (0: any). */
volatile const __u32 target_tgid = 0;

SEC("syscall")
int core_values(void *ctx)
{
	struct task_struct___mine *t = 0;
	struct task_struct___future *f = 0;
	struct perf_event_attr___mine *a = 0;
	struct bpf_reg_state___mine *r = 0;

	out[OUT_PID_OFF] = bpf_core_field_offset(t->pid);
	out[OUT_COMM_OFF] = bpf_core_field_offset(t->comm);
	out[OUT_GROUP_LEADER_OFF] = bpf_core_field_offset(t->group_leader);
	out[OUT_COMM_SIZE] = bpf_core_field_size(t->comm);
	out[OUT_PID_SIZE] = bpf_core_field_size(t->pid);
	out[OUT_PID_EXISTS] = bpf_core_field_exists(t->pid);
	out[OUT_NOSUCH_EXISTS] = bpf_core_field_exists(f->no_such_field_in_kernel);
	/* Unsatisfiable: poisoned by the loader, dead once the check above is relocated. */
	if (bpf_core_field_exists(f->no_such_field_in_kernel))
		out[OUT_NOSUCH_READ] = bpf_core_field_offset(f->no_such_field_in_kernel);
	else
		out[OUT_NOSUCH_READ] = 0xdead;
	out[OUT_PID_SIGNED] = __builtin_preserve_field_info(t->pid, BPF_FIELD_SIGNED);
	out[OUT_FLAGS_SIGNED] = __builtin_preserve_field_info(t->flags, BPF_FIELD_SIGNED);

	out[OUT_PRECISE_IP_OFF] = __builtin_preserve_field_info(a->precise_ip, BPF_FIELD_BYTE_OFFSET);
	out[OUT_PRECISE_IP_SIZE] = __builtin_preserve_field_info(a->precise_ip, BPF_FIELD_BYTE_SIZE);
	out[OUT_PRECISE_IP_LSHIFT] = __builtin_preserve_field_info(a->precise_ip, BPF_FIELD_LSHIFT_U64);
	out[OUT_PRECISE_IP_RSHIFT] = __builtin_preserve_field_info(a->precise_ip, BPF_FIELD_RSHIFT_U64);
	out[OUT_PRECISE_IP_SIGNED] = __builtin_preserve_field_info(a->precise_ip, BPF_FIELD_SIGNED);

	/* iter came in Linux 6.4: before, these relocations are poisoned, and dead behind the
	 * check, so the program loads on older kernels too and leaves the DEPTH_* slots 0. */
	if (bpf_core_field_exists(r->iter.depth)) {
		out[OUT_DEPTH_OFF] = __builtin_preserve_field_info(r->iter.depth, BPF_FIELD_BYTE_OFFSET);
		out[OUT_DEPTH_SIZE] = __builtin_preserve_field_info(r->iter.depth, BPF_FIELD_BYTE_SIZE);
		out[OUT_DEPTH_LSHIFT] = __builtin_preserve_field_info(r->iter.depth, BPF_FIELD_LSHIFT_U64);
		out[OUT_DEPTH_RSHIFT] = __builtin_preserve_field_info(r->iter.depth, BPF_FIELD_RSHIFT_U64);
		out[OUT_DEPTH_SIGNED] = __builtin_preserve_field_info(r->iter.depth, BPF_FIELD_SIGNED);
	}

	out[OUT_TYPE_ID_LOCAL] = bpf_core_type_id_local(struct task_struct___mine);
	out[OUT_TYPE_ID_KERNEL] = bpf_core_type_id_kernel(struct task_struct___mine);
	out[OUT_TYPEDEF_ID_KERNEL] = bpf_core_type_id_kernel(task_mine_t);
	out[OUT_TASK_EXISTS] = bpf_core_type_exists(struct task_struct___mine);
	out[OUT_NOSUCH_TYPE_EXISTS] = bpf_core_type_exists(struct no_such_kernel_type___mine);
	out[OUT_TASK_SIZE] = bpf_core_type_size(struct task_struct___mine);
	out[OUT_TASK_MATCHES] = bpf_core_type_matches(struct task_struct___mine);
	out[OUT_TASK_BAD_MATCHES] = bpf_core_type_matches(struct task_struct___bad);
	out[OUT_LIST_HEAD_MATCHES] = bpf_core_type_matches(struct list_head___mine);

	out[OUT_ENUM_RINGBUF_EXISTS] =
		bpf_core_enum_value_exists(enum bpf_map_type___mine, BPF_MAP_TYPE_RINGBUF___mine);
	out[OUT_ENUM_NO_SUCH_EXISTS] =
		bpf_core_enum_value_exists(enum bpf_map_type___mine, BPF_MAP_TYPE_NO_SUCH___mine);
	out[OUT_ENUM_RINGBUF] = bpf_core_enum_value(enum bpf_map_type___mine, BPF_MAP_TYPE_RINGBUF___mine);
	out[OUT_ENUM64_KERNEL] =
		bpf_core_enum_value(enum perf_callchain_context___mine, PERF_CONTEXT_KERNEL___mine);
	out[OUT_ENUM64_EXISTS] =
		bpf_core_enum_value_exists(enum perf_callchain_context___mine, PERF_CONTEXT_USER___mine);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int core_read_task(void *ctx)
{
	struct task_struct___mine *t = (void *)bpf_get_current_task();
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	if (target_tgid && tgid != target_tgid)
		return 0;
	out[OUT_READ_PID] = BPF_CORE_READ(t, pid);
	out[OUT_READ_TGID] = BPF_CORE_READ(t, tgid);
	out[OUT_READ_LEADER_PID] = BPF_CORE_READ(t, group_leader, pid);
	bpf_core_read_str(&out[OUT_READ_COMM], sizeof(out[OUT_READ_COMM]), &t->comm);
	out[OUT_READ_RESET_ON_FORK] = BPF_CORE_READ_BITFIELD_PROBED(t, sched_reset_on_fork);
	__sync_fetch_and_add(&out[OUT_READ_COUNT], 1);
	return 0;
}

char __license[] SEC("license") = "GPL";
