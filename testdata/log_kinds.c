// cflags: -I../include
// Typed logs (include/ebpf_log.h) with every argument kind: a syscall program logs the
// values the test passes in its context, so the test knows what each record must say.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "ebpf_log.h"

enum log_color { LOG_RED = 0, LOG_GREEN = 7, LOG_BLUE = 1000 };

struct log_input {
	__u8 u8;
	__s8 s8;
	__u16 u16;
	__s16 s16;
	__u32 u32;
	__s32 s32;
	__u64 u64;
	__s64 s64;
	__u64 ptr;
	__u64 user_name; /* a pointer into the caller's memory */
	__u32 ip4;	 /* network byte order */
	__u32 color;
	__u8 ip6[16];
	__u8 mac[6];
	_Bool flag;
	char name[24];
};

SEC("syscall")
int log_kinds(struct log_input *in)
{
	ebpf_log_info("u8={} s8={} u16={} s16={}", in->u8, in->s8, in->u16, in->s16);
	ebpf_log_warn("u32={} s32={} u64={} s64={}", in->u32, in->s32, in->u64, in->s64);
	ebpf_log_debug("hex {:x} {:X} flag={} {{braces}}", in->u32, in->u64, in->flag);
	ebpf_log_error("name={} user={} ptr={}", EBPF_LOG_STR(in->name),
		       EBPF_LOG_USTR((const char *)in->user_name), (void *)in->ptr);
	ebpf_log_trace("ip4={} ip6={} mac={} color={}", EBPF_LOG_IPV4(in->ip4),
		       EBPF_LOG_IPV6(in->ip6), EBPF_LOG_MAC(in->mac), (enum log_color)in->color);
	ebpf_log_info("no arguments");
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
