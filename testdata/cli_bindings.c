// bpf2ts's test program: a socket filter whose maps and variables use the BTF shapes the
// generated TypeScript types must match (u64 as bigint, char arrays as strings, enums by
// name, nested structs, unions, bitfields, per-CPU values).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

enum color { RED = 1, GREEN = 2, BLUE = 4 };

struct point {
	__s32 x;
	__s32 y;
};

struct sample {
	__u64 total;
	char label[12];
	enum color color;
	struct point where;
	__u16 history[3];
	__u8 small : 3;
	__u8 flag : 1;
	union {
		__u32 as_u32;
		__u8 as_bytes[4];
	};
	_Bool seen;
};

typedef struct {
	__u32 runs;
	__u32 last_len;
} stats_t;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, struct sample);
} samples SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, stats_t);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

volatile const __u32 multiplier = 1;
volatile const enum color default_color = GREEN;
__u64 runs_total = 0;
struct point origin = { .x = -3, .y = 7 };

SEC("socket")
int record(struct __sk_buff *skb)
{
	__u32 key = skb->len;
	struct sample s = {};
	s.total = (__u64)skb->len * multiplier + 0x100000000ULL;
	__builtin_memcpy(s.label, "sample", 7);
	s.color = default_color;
	s.where.x = origin.x;
	s.where.y = origin.y;
	s.history[0] = 1;
	s.history[1] = 2;
	s.history[2] = 3;
	s.small = 5;
	s.flag = 1;
	s.as_u32 = 0x01020304;
	s.seen = 1;
	bpf_map_update_elem(&samples, &key, &s, BPF_ANY);

	__u32 zero = 0;
	stats_t *st = bpf_map_lookup_elem(&stats, &zero);
	if (st) {
		st->runs++;
		st->last_len = skb->len;
	}
	__sync_fetch_and_add(&runs_total, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
