// Mirrors the kernel's arena selftests (arena_htab.c, arena_list.c) and libbpf >= 1.4's
// bpf_helpers.h: an arena declared with `__ulong(map_extra, ...)`, the address where user
// space maps it (here past 32 bits, so the value is an enum64), and a syscall program that
// reads and writes arena memory through an `__arena` (address_space(1)) pointer that user
// space hands it. libbpf 1.1 cannot parse __ulong, so only this library loads the object.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* libbpf >= 1.4 (bpf_helpers.h); Debian's libbpf-dev 1.1 lacks it. */
#ifndef __ulong
#define __ulong(name, val) enum { ___bpf_concat(__unique_value, __COUNTER__) = val } name
#endif

/* The uapi header of Debian's linux-libc-dev predates arenas (Linux 6.9). */
#define BPF_MAP_TYPE_ARENA 33

#define __arena __attribute__((address_space(1)))

/* Two pages at 1 TiB + 4 GiB: page-aligned, not crossing a 4 GiB boundary. */
#define ARENA_ADDRESS ((1ull << 40) | (1ull << 32))

struct {
	__uint(type, BPF_MAP_TYPE_ARENA);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 2);
	__ulong(map_extra, ARENA_ADDRESS);
} arena SEC(".maps");

struct args {
	__u64 ptr; /* a user-space address in the arena */
	__u64 add;
	__u64 seen;
};

SEC("syscall")
int arena_add(struct args *args)
{
	__u64 __arena *slot = (__u64 __arena *)args->ptr;

	/* Names the arena, which makes it this program's (and lets it reach arena memory). */
	asm volatile("" ::"r"(&arena));
	args->seen = *slot;
	*slot = args->seen + args->add;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
