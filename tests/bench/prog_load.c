// build: exe
// C baseline for prog_load_bench.ts: BPF_PROG_LOAD of the same instructions (a socket filter,
// no log, as libbpf's first attempt) and close, in a loop. Built as an executable
// (-DBENCH_MAIN), it times the first load of a fresh process instead.
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

#ifdef BENCH_MAIN
#include <stdio.h>
#include <time.h>

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* The program of prog_load_bench.ts: r0 = 0, 998 additions, exit. Prints the first load's ms. */
int main(void)
{
	static struct bpf_insn insns[1000];
	double start;

	insns[0] = (struct bpf_insn){ .code = BPF_ALU64 | BPF_MOV | BPF_K };
	for (int i = 1; i < 999; i++)
		insns[i] = (struct bpf_insn){ .code = BPF_ALU64 | BPF_ADD | BPF_K, .imm = i & 7 };
	insns[999] = (struct bpf_insn){ .code = BPF_JMP | BPF_EXIT };
	start = now_ms();
	if (prog_load_loop(insns, 1000, 1) != 0)
		return 1;
	printf("%.3f\n", now_ms() - start);
	return 0;
}
#endif
