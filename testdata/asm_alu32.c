// 32-bit arithmetic and 32-bit jumps of every comparison, against immediates and registers
// (ISA v3, where clang uses w registers and JMP32).
// cflags: -mcpu=v3
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("socket")
int alu32(struct __sk_buff *skb)
{
	__u32 a = skb->len, b = skb->mark | 1;
	int s = (int)skb->priority;

	a += 3; a -= b; a *= 7; a /= b; a |= 0x10; a &= b; a <<= 3; a >>= (b & 7);
	a %= b; a ^= 0x5555; a = -a; s >>= 2; s >>= (b & 3);
	return a + s + (a << b) + (a >> 1);
}

SEC("socket")
int jumps32(struct __sk_buff *skb)
{
	__u32 a = skb->len, b = skb->mark;
	int s = (int)skb->priority, t = (int)skb->hash;
	int r = 0;

	if (a == 5) r += 1;
	if (a != b) r += 2;
	if (a > 100) r += 3;
	if (a >= b) r += 4;
	if (a < 50) r += 5;
	if (a <= b) r += 6;
	if (s > -3) r += 7;
	if (s >= t) r += 8;
	if (s < -40) r += 9;
	if (s <= t) r += 10;
	if (a & 4) r += 11;
	if (a & b) r += 12;
	return r;
}

SEC("socket")
int jumps64(struct __sk_buff *skb)
{
	__u64 a = skb->len, b = (__u64)skb->mark << 32;
	long s = -(long)skb->priority, t = (long)skb->hash;
	int r = 0;

	if (a == 5) r += 1;
	if (a != b) r += 2;
	if (a > 100) r += 3;
	if (a >= b) r += 4;
	if (a < 50) r += 5;
	if (a <= b) r += 6;
	if (s > -3) r += 7;
	if (s >= t) r += 8;
	if (s < -40) r += 9;
	if (s <= t) r += 10;
	if (a & 0x400000000ULL) r += 11;
	if (a & b) r += 12;
	return r;
}

char __license[] SEC("license") = "GPL";
