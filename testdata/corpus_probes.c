// cflags: -D__TARGET_ARCH_x86
// A benchmark-corpus object written as security and observability agents (Tracee-, Falco-
// and Tetragon-style probes) are: vmlinux.h, 20 kprobe, kretprobe, tracepoint and raw
// tracepoint programs that each read a task's context through many CO-RE relocations
// (task_struct, cred, nsproxy, mm, files, fs, sock), a configuration map in place of global
// variables (so that, unlike the other corpus objects, it has no .rodata, .data or .bss),
// per-CPU scratch space, a program array for tail calls, and map values of whole kernel
// structs. Read through static subprograms that the compiler keeps out of line.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#define MAX_PATH 128

enum config_key {
	CFG_TARGET_PID,
	CFG_TARGET_UID,
	CFG_FOLLOW_CHILDREN,
	CFG_MAX,
};

struct task_ctx {
	u64 ts;
	u64 cgroup_id;
	u32 pid, tid, ppid, host_pid;
	u32 uid, gid, euid;
	u32 mnt_ns, pid_ns, net_ns, uts_ns;
	u64 start_time;
	u64 vm_size;
	u32 event_id;
	int retval;
	char comm[16];
	char uts_name[16];
};

struct record {
	struct task_ctx ctx;
	char path[MAX_PATH];
	u64 args[6];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CFG_MAX);
	__type(key, u32);
	__type(value, u64);
} settings SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct record);
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(u32));
	__uint(value_size, sizeof(u32));
} records SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, u32);
	__type(value, struct task_ctx);
} traced SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, u64);
	__type(value, struct record);
} pending SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 256);
	__type(key, u32);
	__type(value, struct cred);
} creds SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 256);
	__type(key, u32);
	__type(value, struct fs_struct);
} fs_snapshots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 8);
	__type(key, u32);
	__type(value, u32);
} tails SEC(".maps");

static __always_inline u64 cfg(u32 k)
{
	u64 *v = bpf_map_lookup_elem(&settings, &k);

	return v ? *v : 0;
}

static __noinline int fill_ctx(struct task_ctx *c, u32 event_id)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct task_struct *leader = BPF_CORE_READ(task, group_leader);
	struct nsproxy *ns = BPF_CORE_READ(task, nsproxy);

	c->ts = bpf_ktime_get_ns();
	c->event_id = event_id;
	c->cgroup_id = bpf_get_current_cgroup_id();
	c->host_pid = BPF_CORE_READ(task, tgid);
	c->tid = BPF_CORE_READ(task, pid);
	c->ppid = BPF_CORE_READ(task, real_parent, tgid);
	c->uid = BPF_CORE_READ(task, cred, uid.val);
	c->gid = BPF_CORE_READ(task, cred, gid.val);
	c->euid = BPF_CORE_READ(task, cred, euid.val);
	c->mnt_ns = BPF_CORE_READ(ns, mnt_ns, ns.inum);
	c->pid_ns = BPF_CORE_READ(ns, pid_ns_for_children, ns.inum);
	c->net_ns = BPF_CORE_READ(ns, net_ns, ns.inum);
	c->uts_ns = BPF_CORE_READ(ns, uts_ns, ns.inum);
	c->start_time = BPF_CORE_READ(leader, start_time);
	if (bpf_core_field_exists(task->mm->total_vm))
		c->vm_size = BPF_CORE_READ(task, mm, total_vm);
	c->pid = BPF_CORE_READ(task, thread_pid, numbers[0].nr);
	BPF_CORE_READ_STR_INTO(&c->uts_name, ns, uts_ns, name.nodename);
	bpf_get_current_comm(&c->comm, sizeof(c->comm));
	return 0;
}

static __noinline bool should_trace(void)
{
	u64 id = bpf_get_current_pid_tgid();
	u32 tgid = id >> 32;
	u64 pid = cfg(CFG_TARGET_PID), uid = cfg(CFG_TARGET_UID);

	if (pid && pid != tgid)
		return bpf_map_lookup_elem(&traced, &tgid) != NULL;
	if (uid && uid != (u32)bpf_get_current_uid_gid())
		return false;
	return true;
}

static __noinline int submit(void *ctx, u32 event_id, const void *path, u64 a0, u64 a1)
{
	u32 zero = 0;
	struct record *r;

	if (!should_trace())
		return 0;
	r = bpf_map_lookup_elem(&scratch, &zero);
	if (!r)
		return 0;
	fill_ctx(&r->ctx, event_id);
	r->args[0] = a0;
	r->args[1] = a1;
	r->path[0] = 0;
	if (path)
		bpf_probe_read_kernel_str(r->path, sizeof(r->path), path);
	return bpf_perf_event_output(ctx, &records, BPF_F_CURRENT_CPU, r, sizeof(*r));
}

static __noinline const char *file_name(struct file *f)
{
	return (const char *)BPF_CORE_READ(f, f_path.dentry, d_name.name);
}

#define FILE_PROBE(fn, id)                                                      \
	SEC("kprobe/" #fn)                                                      \
	int BPF_KPROBE(trace_##fn, struct file *f)                              \
	{                                                                       \
		return submit(ctx, id, file_name(f), BPF_CORE_READ(f, f_flags), \
			      BPF_CORE_READ(f, f_inode, i_ino));                \
	}

FILE_PROBE(vfs_write, 1)
FILE_PROBE(vfs_writev, 2)
FILE_PROBE(vfs_fsync, 3)
FILE_PROBE(filp_close, 4)
FILE_PROBE(security_file_open, 5)
FILE_PROBE(security_file_ioctl, 6)
FILE_PROBE(security_mmap_file, 7)

SEC("kprobe/security_bprm_check")
int BPF_KPROBE(trace_bprm_check, struct linux_binprm *bprm)
{
	return submit(ctx, 10, BPF_CORE_READ(bprm, filename), BPF_CORE_READ(bprm, argc),
		      BPF_CORE_READ(bprm, envc));
}

SEC("kprobe/security_inode_unlink")
int BPF_KPROBE(trace_inode_unlink, struct inode *dir, struct dentry *dentry)
{
	return submit(ctx, 11, BPF_CORE_READ(dentry, d_name.name), BPF_CORE_READ(dir, i_ino),
		      BPF_CORE_READ(dentry, d_inode, i_mode));
}

SEC("kprobe/security_socket_connect")
int BPF_KPROBE(trace_socket_connect, struct socket *sock, struct sockaddr *addr, int len)
{
	struct sock *sk = BPF_CORE_READ(sock, sk);

	return submit(ctx, 12, NULL, BPF_CORE_READ(sk, __sk_common.skc_family),
		      BPF_CORE_READ(sk, __sk_common.skc_daddr));
}

SEC("kprobe/security_socket_bind")
int BPF_KPROBE(trace_socket_bind, struct socket *sock, struct sockaddr *addr, int len)
{
	return submit(ctx, 13, NULL, BPF_CORE_READ(sock, type), len);
}

SEC("kprobe/commit_creds")
int BPF_KPROBE(trace_commit_creds, struct cred *new)
{
	u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct cred *snap = bpf_map_lookup_elem(&creds, &tgid);

	if (snap)
		bpf_probe_read_kernel(snap, bpf_core_type_size(struct cred), new);
	return submit(ctx, 14, NULL, BPF_CORE_READ(new, uid.val), BPF_CORE_READ(new, euid.val));
}

SEC("kprobe/cap_capable")
int BPF_KPROBE(trace_cap_capable, const struct cred *cred, struct user_namespace *ns, int cap)
{
	return submit(ctx, 15, NULL, cap, BPF_CORE_READ(ns, level));
}

SEC("kprobe/do_mount")
int BPF_KPROBE(trace_do_mount, const char *dev_name, const char *dir_name)
{
	return submit(ctx, 16, NULL, (u64)dev_name, (u64)dir_name);
}

SEC("kprobe/set_fs_pwd")
int BPF_KPROBE(trace_set_fs_pwd, struct fs_struct *fs)
{
	u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct fs_struct *snap = bpf_map_lookup_elem(&fs_snapshots, &tgid);

	if (snap)
		bpf_probe_read_kernel(snap, bpf_core_type_size(struct fs_struct), fs);
	return submit(ctx, 17, BPF_CORE_READ(fs, pwd.dentry, d_name.name), 0, 0);
}

SEC("kretprobe/do_sys_openat2")
int BPF_KRETPROBE(trace_openat2_ret, long ret)
{
	return submit(ctx, 18, NULL, ret, 0);
}

SEC("tracepoint/sched/sched_process_fork")
int trace_fork(struct trace_event_raw_sched_process_fork *ctx)
{
	u32 parent = ctx->parent_pid, child = ctx->child_pid;
	struct task_ctx c = {};

	if (cfg(CFG_FOLLOW_CHILDREN) && bpf_map_lookup_elem(&traced, &parent)) {
		fill_ctx(&c, 19);
		bpf_map_update_elem(&traced, &child, &c, BPF_ANY);
	}
	return 0;
}

SEC("tracepoint/sched/sched_process_exec")
int trace_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	unsigned int off = ctx->__data_loc_filename & 0xffff;

	submit(ctx, 20, NULL, off, 0);
	bpf_tail_call(ctx, &tails, 0);
	return 0;
}

SEC("raw_tracepoint/sys_enter")
int trace_sys_enter(struct bpf_raw_tracepoint_args *ctx)
{
	struct pt_regs *regs = (struct pt_regs *)ctx->args[0];
	u64 id = ctx->args[1];
	u64 key = bpf_get_current_pid_tgid();
	u32 zero = 0;
	struct record *r;

	if (id != 59 && id != 322)
		return 0;
	r = bpf_map_lookup_elem(&scratch, &zero);
	if (!r)
		return 0;
	r->args[0] = PT_REGS_PARM1_CORE_SYSCALL(regs);
	r->args[1] = PT_REGS_PARM2_CORE_SYSCALL(regs);
	bpf_map_update_elem(&pending, &key, r, BPF_ANY);
	return 0;
}

SEC("raw_tracepoint/sys_exit")
int trace_sys_exit(struct bpf_raw_tracepoint_args *ctx)
{
	u64 key = bpf_get_current_pid_tgid();
	struct record *r = bpf_map_lookup_elem(&pending, &key);

	if (!r)
		return 0;
	submit(ctx, 21, NULL, r->args[0], ctx->args[1]);
	bpf_map_delete_elem(&pending, &key);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
