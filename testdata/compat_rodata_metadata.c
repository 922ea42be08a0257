// libbpf's idiom for program metadata: `bpf_metadata_*` variables in .rodata that no
// instruction reads; libbpf binds every read-only data map to every program it loads, and
// `bpftool prog show` prints those variables from the maps bound to a program. A second
// read-only section (.rodata.limits) and a program that does read both, so a map is bound
// where it is also referenced.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

volatile const char bpf_metadata_tool[] SEC(".rodata") = "compat";
volatile const __u32 threshold = 7;
volatile const __u32 limit SEC(".rodata.limits") = 3;

SEC("socket")
int no_rodata(struct __sk_buff *skb)
{
	return 0;
}

SEC("socket")
int reads_rodata(struct __sk_buff *skb)
{
	return threshold + limit;
}

char LICENSE[] SEC("license") = "GPL";
