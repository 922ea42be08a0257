// ISA v4: signed division and modulo, sign-extending loads and moves, unconditional byte
// swaps, stores of immediates, the long jump gotol and may_goto; and the legacy packet loads.
// cflags: -mcpu=v4
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

unsigned long long load_byte(void *skb, unsigned long long off) asm("llvm.bpf.load.byte");
unsigned long long load_half(void *skb, unsigned long long off) asm("llvm.bpf.load.half");
unsigned long long load_word(void *skb, unsigned long long off) asm("llvm.bpf.load.word");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} results SEC(".maps");

static __always_inline volatile __u64 *slot(void)
{
	__u32 key = 0;

	return bpf_map_lookup_elem(&results, &key);
}

SEC("socket")
int signed_arith(struct __sk_buff *skb)
{
	volatile __u64 *v = slot();
	long a = -(long)skb->len, b = (long)skb->mark - 3;
	int c = -(int)skb->len, d = (int)skb->priority - 7;

	if (!v)
		return 0;
	v[0] = a / b;
	v[0] = a % b;
	v[0] = a / -5;
	v[0] = a % 7;
	v[0] = (a + 1) % (b + 2);
	v[0] = (__u64)(__u32)(c / d);
	v[0] = (__u64)(__u32)(c % d);
	v[0] = (__u64)(__u32)(c / -3);
	v[0] = (__u64)(__u32)(c % 9);
	return 0;
}

SEC("socket")
int sign_extend(struct __sk_buff *skb)
{
	volatile __u64 *v = slot();
	long x = skb->len;

	if (!v)
		return 0;
	v[0] = *(volatile signed char *)v;
	v[0] = *(volatile short *)v;
	v[0] = *(volatile int *)v;
	x = v[0];
	v[0] = (signed char)x;
	v[0] = (short)x;
	v[0] = (int)x;
	v[0] = (__u32)(int)(signed char)x;
	v[0] = (__u32)(int)(short)x;
	return 0;
}

SEC("socket")
int byte_swaps(struct __sk_buff *skb)
{
	volatile __u64 *v = slot();

	if (!v)
		return 0;
	v[0] = __builtin_bswap16((__u16)v[0]);
	v[0] = __builtin_bswap32((__u32)v[0]);
	v[0] = __builtin_bswap64(v[0]);
	return 0;
}

SEC("socket")
int stores(struct __sk_buff *skb)
{
	volatile __u64 buf[2];
	volatile __u32 w[2];
	volatile __u16 h;
	volatile __u8 b;

	buf[0] = 0x1122334455667788ULL;
	buf[1] = -1;
	w[0] = 7;
	w[1] = -7;
	h = 0xbeef;
	b = 0x5a;
	return buf[0] + buf[1] + w[0] + w[1] + h + b;
}

SEC("socket")
int long_jumps(struct __sk_buff *skb)
{
	int r = skb->len;

	asm volatile(
		"may_goto +2;"
		"%[r] += 1;"
		"gotol +1;"
		"%[r] += 2;"
		"may_goto -2;"
		: [r]"+r"(r));
	return r;
}

SEC("socket")
int packet_loads(struct __sk_buff *skb)
{
	return load_byte(skb, 14) + load_half(skb, 12) + load_word(skb, 26) +
	       load_byte(skb, skb->len & 7);
}

char __license[] SEC("license") = "GPL";
