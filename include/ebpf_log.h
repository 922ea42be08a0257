/* SPDX-License-Identifier: MIT */
/*
 * Typed logs for BPF programs (the aya-log idea, for C), read by @ebpf/ebpf's LogReader.
 *
 *   #include <bpf/bpf_helpers.h>    (and linux/bpf.h or vmlinux.h) first
 *   #include "ebpf_log.h"
 *
 *   ebpf_log_info("conn {}:{} from {} state {}", EBPF_LOG_IPV4(daddr), port,
 *                 EBPF_LOG_STR(comm), state);
 *
 * A record carries only a 16-byte header (timestamp, id, CPU) and the raw argument values;
 * the format string, the level, the line and the argument types stay in the object, in the
 * section ".ebpf_log", which is never loaded into the kernel. Each call site gets a
 * descriptor there: a static variable whose BTF type holds the id, the level and the format
 * string, and whose `args` member has one field per argument, of the argument's own C type.
 * User space finds each argument's kind (integer width and sign, enum, pointer, string,
 * address) from that BTF, so the C side never says it twice.
 *
 * Placeholders: `{}` formats by type, `{:x}` as lowercase hex, `{:X}` uppercase hex,
 * `{{` and `}}` are literal braces. Arguments:
 *   integers of any width, signed or not, and _Bool     plain values
 *   enums                                               printed by name from BTF
 *   pointers                                            0x and 16 hex digits
 *   EBPF_LOG_STR(p) / EBPF_LOG_USTR(p)                  kernel / user string, at most
 *                                                       EBPF_LOG_STR_MAX - 1 bytes
 *   EBPF_LOG_IPV4(be32)                                 a.b.c.d (network byte order value)
 *   EBPF_LOG_IPV6(p), EBPF_LOG_MAC(p)                   16 / 6 bytes read directly at p
 *                                                       (stack, map value, context, ...)
 *
 * Every copy has a size fixed at compile time and the record is one bpf_ringbuf_reserve of a
 * constant size: nothing for the verifier to doubt. A call evaluates to 0, or -1 when the
 * ring is full (the record is dropped). Configure before including:
 *   EBPF_LOG_LEVEL        most verbose level compiled in (default EBPF_LOG_TRACE)
 *   EBPF_LOG_STR_MAX      bytes of a string slot, NUL included (default 64)
 *   EBPF_LOG_RING_SIZE    size of the default ring `ebpf_logs` (default 256 KiB)
 *   EBPF_LOG_NO_DEFAULT_MAP  declare no `ebpf_logs`; use ebpf_log_to(&ring, ...)
 * At most 12 arguments per call. Ids come from __COUNTER__: one translation unit per object.
 * Needs clang 16 or later (__typeof_unqual__) and BTF (-g).
 */
#ifndef EBPF_LOG_H
#define EBPF_LOG_H

#define EBPF_LOG_ERROR 1
#define EBPF_LOG_WARN 2
#define EBPF_LOG_INFO 3
#define EBPF_LOG_DEBUG 4
#define EBPF_LOG_TRACE 5

#ifndef EBPF_LOG_LEVEL
#define EBPF_LOG_LEVEL EBPF_LOG_TRACE
#endif
#ifndef EBPF_LOG_STR_MAX
#define EBPF_LOG_STR_MAX 64
#endif
#ifndef EBPF_LOG_RING_SIZE
#define EBPF_LOG_RING_SIZE (256 * 1024)
#endif

/* What a record starts with (host byte order). */
struct ebpf_log_header {
	__u64 ts_ns; /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u32 id;    /* the call site's descriptor */
	__u32 cpu;
};

/* Argument slots whose kind is not their C type: user space knows them by these names. */
struct ebpf_log_str {
	__u32 len; /* bytes in s, without the NUL */
	char s[EBPF_LOG_STR_MAX];
};
struct ebpf_log_ipv4 {
	__u8 addr[4];
};
struct ebpf_log_ipv6 {
	__u8 addr[16];
};
struct ebpf_log_mac {
	__u8 addr[6];
};

/*
 * A string argument as written at the call: a pointer to one of these (never complete)
 * types, so that _Generic tells kernel and user strings from other pointers. Its slot in
 * the record is a struct ebpf_log_str.
 */
struct __ebpf_log_kstr;
struct __ebpf_log_ustr;

#define EBPF_LOG_STR(p) ((const struct __ebpf_log_kstr *)(p))
#define EBPF_LOG_USTR(p) ((const struct __ebpf_log_ustr *)(p))
#define EBPF_LOG_IPV4(be32) ({                                                          \
	struct ebpf_log_ipv4 __ebpf_v;                                                  \
	__u32 __ebpf_x = (be32);                                                        \
	__builtin_memcpy(&__ebpf_v, &__ebpf_x, 4);                                      \
	__ebpf_v;                                                                       \
})
#define EBPF_LOG_IPV6(p) ({                                                             \
	struct ebpf_log_ipv6 __ebpf_v;                                                  \
	__builtin_memcpy(&__ebpf_v, (p), 16);                                           \
	__ebpf_v;                                                                       \
})
#define EBPF_LOG_MAC(p) ({                                                              \
	struct ebpf_log_mac __ebpf_v;                                                   \
	__builtin_memcpy(&__ebpf_v, (p), 6);                                            \
	__ebpf_v;                                                                       \
})

#ifndef EBPF_LOG_NO_DEFAULT_MAP
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, EBPF_LOG_RING_SIZE);
} ebpf_logs SEC(".maps");
#endif

static __always_inline void __ebpf_log_copy_str(void *slot, const void *p, int user)
{
	struct ebpf_log_str *str = slot;
	long n = user ? bpf_probe_read_user_str(str->s, sizeof(str->s), p)
		      : bpf_probe_read_kernel_str(str->s, sizeof(str->s), p);

	str->len = n > 0 ? n - 1 : 0;
}

/* The type an argument is stored as, and the value stored (strings are copied apart). */
#define __ebpf_log_str_kind(a)                                                          \
	_Generic((a), const struct __ebpf_log_kstr *: 1,                                \
		 const struct __ebpf_log_ustr *: 2, default: 0)
#define __ebpf_log_slot(a)                                                              \
	_Generic((a), const struct __ebpf_log_kstr *: (struct ebpf_log_str){ 0 },       \
		 const struct __ebpf_log_ustr *: (struct ebpf_log_str){ 0 }, default: (a))
#define __ebpf_log_str_ptr(a)                                                           \
	_Generic((a), const struct __ebpf_log_kstr *: (a),                              \
		 const struct __ebpf_log_ustr *: (a), default: (const void *)0)

#define __EBPF_LOG_MEMBER(n, a) __typeof_unqual__(__ebpf_log_slot(a)) _##n;
#define __EBPF_LOG_PUT(n, a)                                                            \
	if (__ebpf_log_str_kind(a))                                                     \
		__ebpf_log_copy_str(&__ebpf_r->args._##n, __ebpf_log_str_ptr(a),        \
				    __ebpf_log_str_kind(a) == 2);                       \
	else                                                                            \
		__ebpf_r->args._##n = __ebpf_log_slot(a);

#define __EBPF_NARGS(...) __EBPF_NARGS_(_, ##__VA_ARGS__, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0)
#define __EBPF_NARGS_(_, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, n, ...) n
#define __EBPF_CAT(a, b) __EBPF_CAT_(a, b)
#define __EBPF_CAT_(a, b) a##b
#define __EBPF_EACH(m, ...) __EBPF_CAT(__EBPF_EACH_, __EBPF_NARGS(__VA_ARGS__))(m, ##__VA_ARGS__)
#define __EBPF_EACH_0(m)
#define __EBPF_EACH_1(m, a) m(1, a)
#define __EBPF_EACH_2(m, a, ...) m(2, a) __EBPF_EACH_1(m, __VA_ARGS__)
#define __EBPF_EACH_3(m, a, ...) m(3, a) __EBPF_EACH_2(m, __VA_ARGS__)
#define __EBPF_EACH_4(m, a, ...) m(4, a) __EBPF_EACH_3(m, __VA_ARGS__)
#define __EBPF_EACH_5(m, a, ...) m(5, a) __EBPF_EACH_4(m, __VA_ARGS__)
#define __EBPF_EACH_6(m, a, ...) m(6, a) __EBPF_EACH_5(m, __VA_ARGS__)
#define __EBPF_EACH_7(m, a, ...) m(7, a) __EBPF_EACH_6(m, __VA_ARGS__)
#define __EBPF_EACH_8(m, a, ...) m(8, a) __EBPF_EACH_7(m, __VA_ARGS__)
#define __EBPF_EACH_9(m, a, ...) m(9, a) __EBPF_EACH_8(m, __VA_ARGS__)
#define __EBPF_EACH_10(m, a, ...) m(10, a) __EBPF_EACH_9(m, __VA_ARGS__)
#define __EBPF_EACH_11(m, a, ...) m(11, a) __EBPF_EACH_10(m, __VA_ARGS__)
#define __EBPF_EACH_12(m, a, ...) m(12, a) __EBPF_EACH_11(m, __VA_ARGS__)

#define __ebpf_log(id_, ring_, level_, format_, ...) ({                                 \
	int __ebpf_ret = 0;                                                             \
	if ((level_) <= EBPF_LOG_LEVEL) {                                               \
		struct __ebpf_log_args {                                                \
			__EBPF_EACH(__EBPF_LOG_MEMBER, ##__VA_ARGS__)                   \
		};                                                                      \
		static const struct {                                                   \
			__u32 id;                                                       \
			__u32 level;                                                    \
			__u32 line;                                                     \
			struct __ebpf_log_args args;                                    \
			char fmt[sizeof(format_)];                                      \
		} __ebpf_log_desc __attribute__((section(".ebpf_log"), used)) = {       \
			.id = (id_), .level = (level_), .line = __LINE__, .fmt = format_, \
		};                                                                      \
		struct {                                                                \
			struct ebpf_log_header header;                                  \
			struct __ebpf_log_args args;                                    \
		} *__ebpf_r = bpf_ringbuf_reserve((ring_), sizeof(*__ebpf_r), 0);       \
		if (__ebpf_r) {                                                         \
			__ebpf_r->header.ts_ns = bpf_ktime_get_ns();                    \
			__ebpf_r->header.id = (id_);                                    \
			__ebpf_r->header.cpu = bpf_get_smp_processor_id();              \
			__EBPF_EACH(__EBPF_LOG_PUT, ##__VA_ARGS__)                      \
			bpf_ringbuf_submit(__ebpf_r, 0);                                \
		} else {                                                                \
			__ebpf_ret = -1;                                                \
		}                                                                       \
	}                                                                               \
	__ebpf_ret;                                                                     \
})

/* Logs to `ring` (a BPF_MAP_TYPE_RINGBUF); `fmt` must be a string literal. */
#define ebpf_log_to(ring, level, fmt, ...) __ebpf_log(__COUNTER__, ring, level, fmt, ##__VA_ARGS__)

#ifndef EBPF_LOG_NO_DEFAULT_MAP
#define ebpf_log(level, fmt, ...) ebpf_log_to(&ebpf_logs, level, fmt, ##__VA_ARGS__)
#define ebpf_log_error(fmt, ...) ebpf_log(EBPF_LOG_ERROR, fmt, ##__VA_ARGS__)
#define ebpf_log_warn(fmt, ...) ebpf_log(EBPF_LOG_WARN, fmt, ##__VA_ARGS__)
#define ebpf_log_info(fmt, ...) ebpf_log(EBPF_LOG_INFO, fmt, ##__VA_ARGS__)
#define ebpf_log_debug(fmt, ...) ebpf_log(EBPF_LOG_DEBUG, fmt, ##__VA_ARGS__)
#define ebpf_log_trace(fmt, ...) ebpf_log(EBPF_LOG_TRACE, fmt, ##__VA_ARGS__)
#endif

#endif /* EBPF_LOG_H */
