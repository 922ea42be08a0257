// Kernel symbols: a kfunc call (bpf_cast_to_kern_ctx), a typeless ksym (an address from
// /proc/kallsyms) and a weak ksym the kernel lacks. (Typed ksyms need kernel variables in
// kallsyms, which this machine's kernel, built without CONFIG_KALLSYMS_ALL, does not list.)
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct sk_buff {
	unsigned int len;
} __attribute__((preserve_access_index));

extern void *bpf_cast_to_kern_ctx(void *obj) __ksym;
extern const void bpf_prog_put __ksym;
extern const void not_a_kernel_symbol __ksym __weak;

SEC("socket")
int kern_len(struct __sk_buff *ctx)
{
	struct sk_buff *skb = bpf_cast_to_kern_ctx(ctx);
	return skb->len;
}

SEC("socket")
int ksyms(struct __sk_buff *ctx)
{
	__u64 addr = (__u64)&bpf_prog_put;
	__u64 missing = (__u64)&not_a_kernel_symbol;

	if (missing)
		return 2;
	return (addr >> 48) == 0xffff ? 7 : 0;
}

char __license[] SEC("license") = "GPL";
