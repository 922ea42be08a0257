// BPF streams (Linux 6.17): each program has its own stdout and stderr, written with
// bpf_stream_printk and read with BPF_PROG_STREAM_READ_BY_FD. The kernel also writes its
// reports of runtime errors (here an AA deadlock of a resilient spin lock) to stderr.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* libbpf >= 1.6 declares these in bpf_helpers.h; Debian's libbpf-dev 1.1 lacks them. Linux
 * 6.18 names the kfunc with an _impl suffix (6.17 had it as bpf_stream_vprintk); the kernel
 * fills in aux__prog itself. */
#define BPF_STDOUT 1
#define BPF_STDERR 2

extern int bpf_stream_vprintk_impl(int stream_id, const char *fmt__str, const void *args,
				   __u32 len__sz, void *aux__prog) __ksym;

#define bpf_stream_printk(stream_id, fmt, args...)                                  \
	({                                                                          \
		static const char ___fmt[] = fmt;                                   \
		unsigned long long ___param[___bpf_narg(args)];                     \
		_Pragma("GCC diagnostic push")                                      \
		_Pragma("GCC diagnostic ignored \"-Wint-conversion\"")             \
		___bpf_fill(___param, args);                                        \
		_Pragma("GCC diagnostic pop")                                       \
		bpf_stream_vprintk_impl(stream_id, ___fmt, ___param, sizeof(___param), \
					NULL);                                      \
	})

/* The kernel's resilient queued spin lock (Linux 6.15), as its BTF declares it. */
struct bpf_res_spin_lock {
	__u32 val;
};

extern int bpf_res_spin_lock(struct bpf_res_spin_lock *lock) __ksym;
extern void bpf_res_spin_unlock(struct bpf_res_spin_lock *lock) __ksym;

struct locked {
	struct bpf_res_spin_lock lock;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct locked);
} locks SEC(".maps");

/* A write that fails (the kernel may drop it: ENOSPC when the stream is full, ENOMEM when
 * it cannot allocate) makes the program return the errno. */
#define CHECK(write)                    \
	do {                            \
		int ___err = (write);   \
		if (___err < 0)         \
			return -___err; \
	} while (0)

/* Set by user space before a run: tells one run's lines from another's. */
volatile __u32 run_id;

SEC("syscall")
int say_lines(void *ctx)
{
	__u32 id = run_id;

	CHECK(bpf_stream_printk(BPF_STDOUT, "run %u: first line\n", id));
	CHECK(bpf_stream_printk(BPF_STDOUT, "run %u: second line, %d and %s\n", id, -42, "text"));
	CHECK(bpf_stream_printk(BPF_STDOUT, "run %u: third line\n", id));
	CHECK(bpf_stream_printk(BPF_STDERR, "run %u: to stderr\n", id));
	return 0;
}

/* Takes the same lock twice: the kernel detects the AA deadlock, fails the second
 * bpf_res_spin_lock and reports it, with a stack trace, on this program's stderr. */
SEC("syscall")
int deadlock(void *ctx)
{
	__u32 key = 0;
	struct locked *a, *b;

	a = bpf_map_lookup_elem(&locks, &key);
	b = bpf_map_lookup_elem(&locks, &key);
	if (!a || !b)
		return 1;
	if (bpf_res_spin_lock(&a->lock))
		return 2;
	if (bpf_res_spin_lock(&b->lock)) {
		bpf_res_spin_unlock(&a->lock);
		return 0; /* the deadlock was detected */
	}
	bpf_res_spin_unlock(&b->lock);
	bpf_res_spin_unlock(&a->lock);
	return 3;
}

char LICENSE[] SEC("license") = "GPL";
