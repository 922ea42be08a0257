// C baseline for prog_load_bench.ts: BPF_PROG_LOAD of the same instructions (a socket filter,
// no log, as libbpf's first attempt) and close, in a loop.
#include <linux/bpf.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <stdint.h>

int prog_load_loop(const void *insns, int count, int n)
{
	union bpf_attr attr;

	for (int i = 0; i < n; i++) {
		memset(&attr, 0, sizeof(attr));
		attr.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
		attr.insn_cnt = count;
		attr.insns = (uint64_t)(uintptr_t)insns;
		attr.license = (uint64_t)(uintptr_t)"GPL";
		memcpy(attr.prog_name, "bench", 6);
		int fd = syscall(__NR_bpf, BPF_PROG_LOAD, &attr, sizeof(attr));
		if (fd < 0)
			return -1;
		close(fd);
	}
	return 0;
}
