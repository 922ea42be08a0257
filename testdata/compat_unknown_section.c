// Programs in sections no SEC() convention knows (a typo, a name of one's own) next to a
// valid one, a .text subprogram, a BTF map and global data: the object parses, and loading
// fails for the unknown ones only, before any syscall.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} hits SEC(".maps");

__u64 calls;
const volatile __u32 base = 40;

static __attribute__((noinline)) int add_base(int x)
{
	return x + base;
}

SEC("socket")
int good(struct __sk_buff *skb)
{
	__u32 key = 0;
	__u64 *v = bpf_map_lookup_elem(&hits, &key);

	if (v)
		__sync_fetch_and_add(v, 1);
	calls++;
	return add_base(2);
}

SEC("tracepiont/syscalls/sys_enter_getpid")
int misspelt(void *ctx)
{
	return 0;
}

SEC("foo/bar")
int unknown_hook(void *ctx)
{
	return add_base(1);
}

char LICENSE[] SEC("license") = "GPL";
