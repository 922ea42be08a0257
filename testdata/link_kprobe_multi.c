// kprobe_multi and kprobe.session programs for tests/link/kprobe_multi_test.ts: each counts
// the runs of one process (its tgid in config[0]) in hits, at an index the test chooses
// with the attach cookie, so the test can tell which attached function ran.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

// Session kfuncs (Linux 6.10): libbpf-dev 1.1's headers predate them.
extern _Bool bpf_session_is_return(void) __ksym;
extern __u64 *bpf_session_cookie(void) __ksym;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} config SEC(".maps");

// [cookie] for the multi programs; the session program: [8] entries, [9] returns,
// [10] returns that found the cookie their entry stored.
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} hits SEC(".maps");

#define SESSION_COOKIE 0x5e5510

static __always_inline int ours(void)
{
	__u32 k = 0;
	__u64 *tgid = bpf_map_lookup_elem(&config, &k);
	return tgid && (bpf_get_current_pid_tgid() >> 32) == *tgid;
}

static __always_inline void bump(__u32 index)
{
	__u64 *n = bpf_map_lookup_elem(&hits, &index);
	if (n)
		__sync_fetch_and_add(n, 1);
}

SEC("kprobe.multi")
int count_entry(void *ctx)
{
	if (ours())
		bump(bpf_get_attach_cookie(ctx) & 7);
	return 0;
}

SEC("kretprobe.multi")
int count_return(void *ctx)
{
	if (ours())
		bump(bpf_get_attach_cookie(ctx) & 7);
	return 0;
}

SEC("kprobe.session")
int session(void *ctx)
{
	if (!ours())
		return 1; // not ours: skip the run at return
	__u64 *cookie = bpf_session_cookie();
	if (!bpf_session_is_return()) {
		bump(8);
		*cookie = SESSION_COOKIE;
		return 0; // run again at return
	}
	bump(9);
	if (*cookie == SESSION_COOKIE)
		bump(10);
	return 0;
}

char __license[] SEC("license") = "GPL";
