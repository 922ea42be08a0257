// Global data in every section, a `volatile const` the loader may change before load,
// static and global subprograms, kconfig externs, a program array and a map of maps whose
// initial values name programs and maps. Socket filters, so that test runs can check results.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

volatile const __u32 answer = 1;
volatile const __u32 unused_flag = 0;
__u32 data_counter = 5;
__u32 bss_counter;
extern int LINUX_KERNEL_VERSION __kconfig;
extern _Bool CONFIG_BPF_SYSCALL __kconfig __weak;
extern int CONFIG_HZ __kconfig __weak;
extern int CONFIG_NOT_A_REAL_OPTION __kconfig __weak;

struct inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} inner1 SEC(".maps"), inner2 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, struct inner);
} outer SEC(".maps") = {
	.values = { [1] = &inner2 },
};

int callee(struct __sk_buff *skb);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, int(struct __sk_buff *));
} jump SEC(".maps") = {
	.values = { [0] = (void *)&callee },
};

static __noinline __u32 add_counters(__u32 x)
{
	bss_counter++;
	return x + data_counter;
}

__noinline int global_double(int x)
{
	return x * 2;
}

SEC("socket")
int ret_answer(struct __sk_buff *skb)
{
	if (unused_flag)
		return 1000;
	return answer;
}

SEC("socket")
int sum_globals(struct __sk_buff *skb)
{
	return add_counters(answer) + global_double(1);
}

SEC("socket")
int kver(struct __sk_buff *skb)
{
	if (!CONFIG_BPF_SYSCALL || CONFIG_NOT_A_REAL_OPTION)
		return 0;
	return LINUX_KERNEL_VERSION + CONFIG_HZ;
}

SEC("socket")
int callee(struct __sk_buff *skb)
{
	return 42;
}

SEC("socket")
int tail(struct __sk_buff *skb)
{
	bpf_tail_call(skb, &jump, 0);
	return 1;
}

SEC("socket")
int map_in_map(struct __sk_buff *skb)
{
	__u32 one = 1, zero = 0;
	void *in = bpf_map_lookup_elem(&outer, &one);
	if (!in)
		return 0;
	__u32 *v = bpf_map_lookup_elem(in, &zero);
	if (!v)
		return 0;
	*v += 1;
	return *v;
}

char __license[] SEC("license") = "GPL";
