// kfunc calls: externs in .ksyms that are functions, called with BPF_PSEUDO_KFUNC_CALL.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

extern void bpf_rcu_read_lock(void) __ksym;
extern void bpf_rcu_read_unlock(void) __ksym;

__u64 seen;

SEC("xdp")
int rcu_guarded(struct xdp_md *ctx)
{
	bpf_rcu_read_lock();
	seen++;
	bpf_rcu_read_unlock();
	return XDP_PASS;
}

char __license[] SEC("license") = "GPL";
