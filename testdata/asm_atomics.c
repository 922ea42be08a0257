// Every atomic read-modify-write operation on 32 and 64 bits, with and without fetch,
// plus exchange and compare-and-exchange (ISA v3).
// cflags: -mcpu=v3
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

__u64 counter64;
__u32 counter32;

SEC("socket")
int atomics64(struct __sk_buff *skb)
{
	__u64 v = skb->len;

	__sync_fetch_and_add(&counter64, v);
	__sync_fetch_and_or(&counter64, 8);
	__sync_fetch_and_and(&counter64, 0xff);
	__sync_fetch_and_xor(&counter64, v);
	__u64 a = __sync_fetch_and_add(&counter64, 2);
	__u64 b = __sync_fetch_and_or(&counter64, v);
	__u64 c = __sync_fetch_and_and(&counter64, ~v);
	__u64 d = __sync_fetch_and_xor(&counter64, 5);
	__u64 e = __sync_lock_test_and_set(&counter64, a);
	__u64 f = __sync_val_compare_and_swap(&counter64, b, c);
	return a + b + c + d + e + f;
}

SEC("socket")
int atomics32(struct __sk_buff *skb)
{
	__u32 v = skb->len;

	__sync_fetch_and_add(&counter32, v);
	__sync_fetch_and_or(&counter32, 8);
	__sync_fetch_and_and(&counter32, 0xff);
	__sync_fetch_and_xor(&counter32, v);
	__u32 a = __sync_fetch_and_add(&counter32, 2);
	__u32 b = __sync_fetch_and_or(&counter32, v);
	__u32 c = __sync_fetch_and_and(&counter32, ~v);
	__u32 d = __sync_fetch_and_xor(&counter32, 5);
	__u32 e = __sync_lock_test_and_set(&counter32, a);
	__u32 f = __sync_val_compare_and_swap(&counter32, b, c);
	return a + b + c + d + e + f;
}

char __license[] SEC("license") = "GPL";
