// cflags: -D__TARGET_ARCH_x86
// A benchmark-corpus object written as the kernel's BPF selftests are: vmlinux.h, many
// small programs made by a macro (one per syscall tracepoint) that share global
// (separately verified) and hidden and static subprograms, kfuncs (one weak) and a weak
// typeless ksym, kconfig externs (one weak and absent), map values holding a spin lock (in
// a tc program: tracing programs may not), a timer and a referenced kptr, a user ring
// buffer drained through a callback, globals in .rodata, .data, .bss and custom .data.*
// and .rodata.* sections, CO-RE field, type and enum relocations, a syscall program.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#define CLOCK_MONOTONIC 1

/* libbpf 1.2's, for the 1.1 headers here. */
#ifndef bpf_ksym_exists
#define bpf_ksym_exists(sym) (!!&(sym))
#endif

extern int LINUX_KERNEL_VERSION __kconfig;
extern int CONFIG_HZ __kconfig;
extern bool CONFIG_BPF_SYSCALL __kconfig;
extern int CONFIG_NO_SUCH_OPTION_FOR_TESTS __kconfig __weak;

extern const void init_task __ksym __weak;
extern struct task_struct *bpf_task_acquire(struct task_struct *p) __ksym;
extern void bpf_task_release(struct task_struct *p) __ksym;
extern struct cgroup *bpf_cgroup_from_id(u64 cgid) __ksym __weak;
extern void bpf_cgroup_release(struct cgroup *cgrp) __ksym __weak;

struct counter {
	u64 calls;
	u64 last_ns;
};

struct locked_counter {
	struct bpf_spin_lock lock;
	u64 packets;
	u64 bytes;
};

struct timed {
	struct bpf_timer timer;
	u64 fired;
};

struct held {
	struct task_struct __kptr *task;
	u64 since;
};

struct user_msg {
	u32 kind;
	u32 len;
	char text[48];
};

const volatile u32 sample_every = 1;
const volatile char prefix[8] SEC(".rodata.prefix") = "corpus";
u64 calls[64] = {};
u64 timer_fires SEC(".data.timers") = 0;
int last_syscall SEC(".data.last") = -1;
u32 user_msgs;
char last_text[48];

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 512);
	__type(key, u32);
	__type(value, struct counter);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, int);
	__type(value, struct timed);
} timers SEC(".maps");

/* Tracing programs may not use maps with a spin lock: a tc program does. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 16);
	__type(key, u32);
	__type(value, struct locked_counter);
} by_queue SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, u32);
	__type(value, struct held);
} held_tasks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_USER_RINGBUF);
	__uint(max_entries, 4096);
} user_rb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 64);
	__type(key, u32);
	__type(value, struct bpf_prog_info);
} prog_infos SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8);
	__type(key, u32);
	__type(value, struct mm_struct);
} mms SEC(".maps");

/* Global: verified once, on its own, for any arguments. */
__noinline int count_syscall(int nr)
{
	struct counter *c, fresh = {};
	u32 key = nr & 511;

	c = bpf_map_lookup_elem(&counters, &key);
	if (!c) {
		bpf_map_update_elem(&counters, &key, &fresh, BPF_NOEXIST);
		c = bpf_map_lookup_elem(&counters, &key);
		if (!c)
			return 0;
	}
	__sync_fetch_and_add(&c->calls, 1);
	c->last_ns = bpf_ktime_get_ns();
	return 1;
}

/* Hidden: global to the linker, static to the verifier. */
__hidden __noinline int sampled(u64 n)
{
	return sample_every <= 1 || n % sample_every == 0;
}

static __noinline int note(int nr)
{
	u32 slot = nr & 63;

	calls[slot]++;
	last_syscall = nr;
	return sampled(calls[slot]);
}

#define SYSCALL_PROBE(name)                                                      \
	SEC("tracepoint/syscalls/sys_enter_" #name)                              \
	int enter_##name(struct trace_event_raw_sys_enter *ctx)                  \
	{                                                                        \
		if (!note(ctx->id))                                              \
			return 0;                                                \
		return count_syscall(ctx->id);                                   \
	}

SYSCALL_PROBE(read)
SYSCALL_PROBE(write)
SYSCALL_PROBE(openat)
SYSCALL_PROBE(close)
SYSCALL_PROBE(mmap)
SYSCALL_PROBE(munmap)
SYSCALL_PROBE(brk)
SYSCALL_PROBE(ioctl)
SYSCALL_PROBE(pread64)
SYSCALL_PROBE(pwrite64)
SYSCALL_PROBE(getpid)
SYSCALL_PROBE(getppid)
SYSCALL_PROBE(clone)
SYSCALL_PROBE(execve)
SYSCALL_PROBE(exit_group)
SYSCALL_PROBE(futex)
SYSCALL_PROBE(nanosleep)
SYSCALL_PROBE(epoll_wait)
SYSCALL_PROBE(socket)
SYSCALL_PROBE(connect)

static int timer_cb(void *map, int *key, struct timed *t)
{
	__sync_fetch_and_add(&t->fired, 1);
	__sync_fetch_and_add(&timer_fires, 1);
	return 0;
}

SEC("tp_btf/task_newtask")
int BPF_PROG(hold_new_task, struct task_struct *task, u64 clone_flags)
{
	struct held fresh = {}, *h;
	struct task_struct *acquired, *old;
	u32 pid = task->pid;

	bpf_map_update_elem(&held_tasks, &pid, &fresh, BPF_NOEXIST);
	h = bpf_map_lookup_elem(&held_tasks, &pid);
	if (!h)
		return 0;
	acquired = bpf_task_acquire(task);
	if (!acquired)
		return 0;
	h->since = bpf_ktime_get_ns();
	old = bpf_kptr_xchg(&h->task, acquired);
	if (old)
		bpf_task_release(old);
	return 0;
}

SEC("tp_btf/sched_process_free")
int BPF_PROG(drop_task, struct task_struct *task)
{
	u32 pid = task->pid;

	bpf_map_delete_elem(&held_tasks, &pid);
	if (bpf_ksym_exists(bpf_cgroup_from_id)) {
		struct cgroup *cg = bpf_cgroup_from_id(1);

		if (cg)
			bpf_cgroup_release(cg);
	}
	return 0;
}

static long read_msg(struct bpf_dynptr *dynptr, void *ctx)
{
	const struct user_msg *m = bpf_dynptr_data(dynptr, 0, sizeof(*m));

	if (!m)
		return 1;
	user_msgs++;
	__builtin_memcpy(last_text, m->text, sizeof(last_text));
	return 0;
}

SEC("syscall")
int drain_user_rb(void *ctx)
{
	int key = 0;
	struct timed *t;

	bpf_user_ringbuf_drain(&user_rb, read_msg, NULL, 0);
	t = bpf_map_lookup_elem(&timers, &key);
	if (t) {
		bpf_timer_init(&t->timer, &timers, CLOCK_MONOTONIC);
		bpf_timer_set_callback(&t->timer, timer_cb);
		bpf_timer_start(&t->timer, 1000000000ull / (CONFIG_HZ ? CONFIG_HZ : 100), 0);
	}
	calls[62] = (u64)&init_task;
	calls[61] = LINUX_KERNEL_VERSION + CONFIG_NO_SUCH_OPTION_FOR_TESTS;
	calls[60] = CONFIG_BPF_SYSCALL;
	return 0;
}

SEC("raw_tp/sys_exit")
int BPF_PROG(sys_exit, struct pt_regs *regs, long ret)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct mm_struct *snap;
	u32 zero = 0;

	if (bpf_core_enum_value_exists(enum bpf_map_type, BPF_MAP_TYPE_USER_RINGBUF))
		calls[59] = bpf_core_enum_value(enum bpf_map_type, BPF_MAP_TYPE_USER_RINGBUF);
	if (ret < 0)
		calls[58]++;
	snap = bpf_map_lookup_elem(&mms, &zero);
	if (snap && task->mm)
		bpf_probe_read_kernel(snap, bpf_core_type_size(struct mm_struct), task->mm);
	calls[57] = BPF_CORE_READ(task, mm, total_vm);
	return 0;
}

SEC("tc")
int count_queue(struct __sk_buff *skb)
{
	u32 q = skb->queue_mapping & 15;
	struct locked_counter *c = bpf_map_lookup_elem(&by_queue, &q);

	if (!c)
		return 0;
	bpf_spin_lock(&c->lock);
	c->packets++;
	c->bytes += skb->len;
	bpf_spin_unlock(&c->lock);
	return 0;
}

SEC("iter/bpf_prog")
int dump_prog(struct bpf_iter__bpf_prog *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct bpf_prog *prog = ctx->prog;

	if (!prog)
		return 0;
	BPF_SEQ_PRINTF(seq, "%u %s\n", prog->aux->id, prog->aux->name);
	return 0;
}

SEC("iter/bpf_map")
int dump_map(struct bpf_iter__bpf_map *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct bpf_map *map = ctx->map;

	if (!map)
		return 0;
	BPF_SEQ_PRINTF(seq, "%u %s %u\n", map->id, map->name, map->max_entries);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
