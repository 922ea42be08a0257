// kconfig externs as libbpf-tools and libbpf-bootstrap write them: typed through
// vmlinux.h-style typedefs (__u32, u64, bool), with qualifiers, a tristate and a string.
// libbpf stores each by its type with typedefs and qualifiers skipped.
#include "compat_vmlinux_types.h"
#include <bpf/bpf_helpers.h>

extern __u32 LINUX_KERNEL_VERSION __kconfig;
extern bool LINUX_HAS_BPF_COOKIE __kconfig;
extern bool CONFIG_BPF_SYSCALL __kconfig __weak;
extern bool CONFIG_COMPAT_TEST_NEVER_SET __kconfig __weak;
extern u64 CONFIG_HZ __kconfig;
extern const volatile int CONFIG_LOG_BUF_SHIFT __kconfig __weak;
extern enum libbpf_tristate CONFIG_BPF_JIT __kconfig __weak;
extern enum libbpf_tristate CONFIG_COMPAT_TEST_TRISTATE_UNSET __kconfig __weak;
extern char CONFIG_BPF_EVENTS __kconfig __weak;
extern char CONFIG_DEFAULT_HOSTNAME[16] __kconfig __weak;

/* What the program saw, for the test to compare with the kernel's configuration. */
struct seen {
	__u32 kernel_version;
	__u32 has_cookie;
	__u32 bpf_syscall;
	__u32 never_set;
	u64 hz;
	s32 log_buf_shift;
	__u32 bpf_jit;
	__u32 tristate_unset;
	__u32 bpf_events;
	char hostname[16];
} seen;

SEC("socket")
int read_kconfig_typedefs(void *ctx)
{
	seen.kernel_version = LINUX_KERNEL_VERSION;
	seen.has_cookie = LINUX_HAS_BPF_COOKIE;
	seen.bpf_syscall = CONFIG_BPF_SYSCALL;
	seen.never_set = CONFIG_COMPAT_TEST_NEVER_SET;
	seen.hz = CONFIG_HZ;
	seen.log_buf_shift = CONFIG_LOG_BUF_SHIFT;
	seen.bpf_jit = CONFIG_BPF_JIT;
	seen.tristate_unset = CONFIG_COMPAT_TEST_TRISTATE_UNSET;
	seen.bpf_events = CONFIG_BPF_EVENTS;
	__builtin_memcpy(seen.hostname, CONFIG_DEFAULT_HOSTNAME, sizeof(seen.hostname));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
