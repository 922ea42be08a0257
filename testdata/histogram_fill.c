// Fills histograms of the shapes tracing tools keep, one map per shape, from the length of
// each XDP test-run packet: log2 slots (as libbpf-tools' log2l gives them) and linear slots
// of 100 bytes. tests/map/histogram_test.ts reads them back.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define MAX_SLOTS 16
#define LINEAR_SLOTS 32
#define TASK_COMM_LEN 16

/* libbpf-tools' per-process histogram: the slots, then the command name. */
struct hist {
	__u32 slots[MAX_SLOTS];
	char comm[TASK_COMM_LEN];
};

/* One __u64 counter per slot, keyed by the slot. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} log2_array SEC(".maps");

/* One __u32 counter per slot and CPU (8-byte stride per CPU). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MAX_SLOTS);
	__type(key, __u32);
	__type(value, __u32);
} log2_percpu SEC(".maps");

/* A hash keyed by slot: only the slots used are there. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} log2_hash SEC(".maps");

/* A histogram per key: the packet length's parity. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct hist);
} log2_by_key SEC(".maps");

/* Linear slots of 100 bytes. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LINEAR_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} linear_array SEC(".maps");

/* The highest bit set, as libbpf-tools' log2l gives it (0 for 0), up to the last slot. */
static __always_inline __u32 log2_slot(__u64 v)
{
	__u32 slot = 0;

#pragma unroll
	for (int i = 1; i < MAX_SLOTS; i++)
		if (v >> i)
			slot = i;
	return slot;
}

static __always_inline void add_u64(void *map, __u32 slot)
{
	__u64 one = 1, *count = bpf_map_lookup_elem(map, &slot);

	if (count)
		__sync_fetch_and_add(count, 1);
	else
		bpf_map_update_elem(map, &slot, &one, BPF_NOEXIST);
}

SEC("xdp")
int fill(struct xdp_md *ctx)
{
	__u64 len = ctx->data_end - ctx->data;
	__u32 slot = log2_slot(len), key = len & 1, linear = len / 100;
	static const struct hist zero;
	struct hist *h;
	__u32 *c32;

	if (linear >= LINEAR_SLOTS)
		linear = LINEAR_SLOTS - 1;

	add_u64(&log2_array, slot);
	add_u64(&log2_hash, slot);
	add_u64(&linear_array, linear);
	c32 = bpf_map_lookup_elem(&log2_percpu, &slot);
	if (c32)
		*c32 += 1;

	h = bpf_map_lookup_elem(&log2_by_key, &key);
	if (!h) {
		bpf_map_update_elem(&log2_by_key, &key, &zero, BPF_NOEXIST);
		h = bpf_map_lookup_elem(&log2_by_key, &key);
		if (!h)
			return XDP_PASS;
		__builtin_memcpy(h->comm, "parity", 7);
	}
	/* Bounded again where it indexes: the verifier loses the loop's bound on the way. */
	if (slot < MAX_SLOTS)
		__sync_fetch_and_add(&h->slots[slot], 1);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
