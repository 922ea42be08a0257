// Externs resolved at load time: kconfig values (one weak), a typed and a typeless ksym
// variable, and kfunc calls.
#include <linux/bpf.h>
#include <stdbool.h>
#include <bpf/bpf_helpers.h>

extern unsigned int LINUX_KERNEL_VERSION __kconfig;
extern bool CONFIG_BPF_SYSCALL __kconfig __weak;
extern unsigned long long CONFIG_HZ __kconfig __weak;
extern const int bpf_prog_active __ksym;
extern const void runqueues __ksym;
extern void bpf_rcu_read_lock(void) __ksym;
extern void bpf_rcu_read_unlock(void) __ksym;

__u64 seen;
__u64 runqueues_addr;

SEC("raw_tp/sys_enter")
int read_kconfig(void *ctx)
{
	const int *active = bpf_this_cpu_ptr(&bpf_prog_active);

	seen = LINUX_KERNEL_VERSION + CONFIG_HZ + *active;
	if (CONFIG_BPF_SYSCALL)
		runqueues_addr = (__u64)&runqueues;
	return 0;
}

SEC("xdp")
int rcu_guarded(struct xdp_md *ctx)
{
	bpf_rcu_read_lock();
	seen++;
	bpf_rcu_read_unlock();
	return XDP_PASS;
}

char __license[] SEC("license") = "GPL";
