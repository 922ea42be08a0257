// CO-RE relocations of every kind, one builtin per program so that none is merged:
// field byte offset/size/exists/signed/lshift/rshift, type id local/target, type
// exists/size/matches, enum value exists/value; plus a bitfield read and a plain
// preserve_access_index load.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct core_inner {
	int x;
	long y;
} __attribute__((preserve_access_index));

struct core_flags {
	unsigned int a : 3;
	int b : 5;
	unsigned long long c : 40;
	struct core_inner inner;
	int arr[4];
} __attribute__((preserve_access_index));

enum core_color { CORE_RED = 1, CORE_GREEN = 2, CORE_BLUE = 4 };

typedef struct core_flags core_flags_t;

__u64 out[16];

SEC("raw_tp/field_offset")
int field_offset(struct core_flags *f)
{
	out[0] = bpf_core_field_offset(f->inner.y);
	return 0;
}

SEC("raw_tp/field_size")
int field_size(struct core_flags *f)
{
	out[1] = bpf_core_field_size(f->arr);
	return 0;
}

SEC("raw_tp/field_exists")
int field_exists(struct core_flags *f)
{
	out[2] = bpf_core_field_exists(f->inner.x);
	return 0;
}

SEC("raw_tp/field_signed")
int field_signed(struct core_flags *f)
{
	out[3] = __builtin_preserve_field_info(f->b, BPF_FIELD_SIGNED);
	return 0;
}

SEC("raw_tp/field_lshift")
int field_lshift(struct core_flags *f)
{
	out[4] = __builtin_preserve_field_info(f->c, BPF_FIELD_LSHIFT_U64);
	return 0;
}

SEC("raw_tp/field_rshift")
int field_rshift(struct core_flags *f)
{
	out[5] = __builtin_preserve_field_info(f->a, BPF_FIELD_RSHIFT_U64);
	return 0;
}

SEC("raw_tp/type_id_local")
int type_id_local(void *ctx)
{
	out[6] = bpf_core_type_id_local(struct core_flags);
	return 0;
}

SEC("raw_tp/type_id_kernel")
int type_id_kernel(void *ctx)
{
	out[7] = bpf_core_type_id_kernel(core_flags_t);
	return 0;
}

SEC("raw_tp/type_exists")
int type_exists(void *ctx)
{
	out[8] = bpf_core_type_exists(struct core_inner);
	return 0;
}

SEC("raw_tp/type_size")
int type_size(void *ctx)
{
	out[9] = bpf_core_type_size(struct core_flags);
	return 0;
}

SEC("raw_tp/enum_value_exists")
int enum_value_exists(void *ctx)
{
	out[10] = bpf_core_enum_value_exists(enum core_color, CORE_GREEN);
	return 0;
}

SEC("raw_tp/enum_value")
int enum_value(void *ctx)
{
	out[11] = bpf_core_enum_value(enum core_color, CORE_BLUE);
	return 0;
}

SEC("raw_tp/type_matches")
int type_matches(void *ctx)
{
	out[12] = bpf_core_type_matches(struct core_inner);
	return 0;
}

SEC("raw_tp/read_bitfield")
int read_bitfield(struct core_flags *f)
{
	out[13] = BPF_CORE_READ_BITFIELD(f, b);
	return 0;
}

SEC("raw_tp/plain_load")
int plain_load(struct core_flags *f)
{
	out[14] = f->arr[2];
	return 0;
}

char __license[] SEC("license") = "GPL";
