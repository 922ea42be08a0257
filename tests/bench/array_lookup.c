// C baseline for array_lookup_bench.ts: BPF_MAP_LOOKUP_ELEM on an ARRAY map in a loop,
// with one attr built once, as a tuned C program would do it.
#include <linux/bpf.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <stdint.h>

int lookup_loop(int map_fd, int n)
{
	uint32_t key = 0;
	uint64_t value = 0;
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.map_fd = map_fd;
	attr.key = (uint64_t)(uintptr_t)&key;
	attr.value = (uint64_t)(uintptr_t)&value;
	for (int i = 0; i < n; i++) {
		if (syscall(__NR_bpf, BPF_MAP_LOOKUP_ELEM, &attr, sizeof(attr)) < 0)
			return -1;
	}
	return (int)value;
}

int update_loop(int map_fd, int n)
{
	uint32_t key = 0;
	uint64_t value = 7;
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.map_fd = map_fd;
	attr.key = (uint64_t)(uintptr_t)&key;
	attr.value = (uint64_t)(uintptr_t)&value;
	attr.flags = BPF_ANY;
	for (int i = 0; i < n; i++) {
		if (syscall(__NR_bpf, BPF_MAP_UPDATE_ELEM, &attr, sizeof(attr)) < 0)
			return -1;
	}
	return 0;
}

/* The same loop with libbpf's attr size for element commands (offsetofend(flags) = 32). */
int lookup_loop_small(int map_fd, int n)
{
	uint32_t key = 0;
	uint64_t value = 0;
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.map_fd = map_fd;
	attr.key = (uint64_t)(uintptr_t)&key;
	attr.value = (uint64_t)(uintptr_t)&value;
	for (int i = 0; i < n; i++) {
		if (syscall(__NR_bpf, BPF_MAP_LOOKUP_ELEM, &attr, 32) < 0)
			return -1;
	}
	return (int)value;
}

/* update_loop with libbpf's attr size for element commands, as BpfMap passes it. */
int update_loop_small(int map_fd, int n)
{
	uint32_t key = 0;
	uint64_t value = 7;
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.map_fd = map_fd;
	attr.key = (uint64_t)(uintptr_t)&key;
	attr.value = (uint64_t)(uintptr_t)&value;
	attr.flags = BPF_ANY;
	for (int i = 0; i < n; i++) {
		if (syscall(__NR_bpf, BPF_MAP_UPDATE_ELEM, &attr, 32) < 0)
			return -1;
	}
	return 0;
}
