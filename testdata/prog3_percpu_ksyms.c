// Typed ksyms that are per-CPU variables: externs in .ksyms whose BTF type the program
// states, resolved to their BTF ids in vmlinux (ld_imm64 BPF_PSEUDO_BTF_ID) and read with
// bpf_this_cpu_ptr and bpf_per_cpu_ptr; `struct rq` is this file's own
// preserve_access_index struct, so the field read is a CO-RE relocation too.
// The kernel resolves the variable's address with kallsyms_lookup_name, which finds data
// symbols only with CONFIG_KALLSYMS_ALL: without it, it refuses the program ("ldimm64 failed
// to find the address for kernel symbol"), as it refuses libbpf's. A syscall program: where
// the kernel accepts it, a test run fills the globals in .bss.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct rq {
	unsigned int nr_running;
	int cpu;
} __attribute__((preserve_access_index));

extern const int bpf_prog_active __ksym;
extern const struct rq runqueues __ksym;

__s32 prog_active = -1;
__s32 rq_cpu = -1;

SEC("syscall")
int read_percpu(void *ctx)
{
	const int *active = bpf_this_cpu_ptr(&bpf_prog_active);
	const struct rq *rq = bpf_per_cpu_ptr(&runqueues, 0);

	prog_active = *active;
	if (rq)
		rq_cpu = rq->cpu;
	return 0;
}

char __license[] SEC("license") = "GPL";
