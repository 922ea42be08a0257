// Kernel symbols a program takes the address of through externs in .ksyms, resolved by the
// loader as libbpf resolves them:
// - a typed ksym that is a kernel function (its BTF prototype stated): ld_imm64
//   BPF_PSEUDO_BTF_ID with the FUNC's id in vmlinux, the kernel fills in the address;
// - an untyped ksym (`const void`): the loader writes its address from /proc/kallsyms;
// - weak ksyms the kernel lacks, typed and untyped: both load as NULL.
// (Per-CPU variables are in prog3_percpu_ksyms.c.) A syscall program: a test run fills the
// globals in .bss, which a test compares with /proc/kallsyms.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

// A complete struct: libbpf 1.1 finds a pointer to a forward declaration incompatible with
// the kernel's pointer to `struct bpf_prog`; structs match by name alone.
struct bpf_prog {
	int unused;
};
extern void bpf_prog_put(struct bpf_prog *prog) __ksym;
extern const void bpf_prog_inc __ksym;
extern const int prog3_no_such_variable __ksym __weak;
extern const void prog3_no_such_symbol __ksym __weak;

__u64 typed_addr;
__u64 untyped_addr;
__u32 missing_typed_is_null;
__u32 missing_untyped_is_null;

SEC("syscall")
int read_ksyms(void *ctx)
{
	typed_addr = (__u64)&bpf_prog_put;
	untyped_addr = (__u64)&bpf_prog_inc;
	missing_typed_is_null = &prog3_no_such_variable == 0;
	missing_untyped_is_null = &prog3_no_such_symbol == 0;
	return 0;
}

char __license[] SEC("license") = "GPL";
