// Externs resolved at load time: kconfig values (two weak) and a typed ksym variable.
// (kfuncs are in elf_kfuncs.c: BTF tests lay out .ksyms naively and would trip on both.)
#include <linux/bpf.h>
#include <stdbool.h>
#include <bpf/bpf_helpers.h>

extern unsigned int LINUX_KERNEL_VERSION __kconfig;
extern bool CONFIG_BPF_SYSCALL __kconfig __weak;
extern unsigned long long CONFIG_HZ __kconfig __weak;
extern const int bpf_prog_active __ksym;

__u64 seen;
__u64 hz_seen;

SEC("raw_tp/sys_enter")
int read_kconfig(void *ctx)
{
	const int *active = bpf_this_cpu_ptr(&bpf_prog_active);

	seen = LINUX_KERNEL_VERSION + CONFIG_HZ + *active;
	if (CONFIG_BPF_SYSCALL)
		hz_seen = CONFIG_HZ;
	return 0;
}

char __license[] SEC("license") = "GPL";
