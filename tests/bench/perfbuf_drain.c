// libs: -lbpf
// C baseline for perfbuf_bench.ts: libbpf's perf_buffer__consume with a callback that copies
// each sample out, as a user of libbpf would write it; and pb_pin_cpu, which the benchmark uses
// to fill each CPU's ring in turn (a program's BPF_F_CURRENT_CPU output goes to the CPU it runs
// on).
#define _GNU_SOURCE
#include <bpf/libbpf.h>
#include <sched.h>
#include <string.h>

static char sink[4096];
static unsigned long samples;

static void copy_out(void *ctx, int cpu, void *data, __u32 size)
{
	memcpy(sink, data, size < sizeof(sink) ? size : sizeof(sink));
	samples++;
}

struct perf_buffer *pb_open(int map_fd, int pages_per_cpu)
{
	return perf_buffer__new(map_fd, pages_per_cpu, copy_out, NULL, NULL, NULL);
}

/* Samples consumed, or a negative error. */
long pb_consume(struct perf_buffer *pb)
{
	unsigned long before = samples;
	int err = perf_buffer__consume(pb);

	return err < 0 ? err : (long)(samples - before);
}

void pb_close(struct perf_buffer *pb)
{
	perf_buffer__free(pb);
}

static cpu_set_t first_mask;
static int first_mask_saved;

/* Runs the calling thread on `cpu` only; a negative `cpu` gives back the CPUs it had before. */
int pb_pin_cpu(int cpu)
{
	cpu_set_t set;

	if (!first_mask_saved) {
		if (sched_getaffinity(0, sizeof(first_mask), &first_mask))
			return -1;
		first_mask_saved = 1;
	}
	if (cpu < 0)
		return sched_setaffinity(0, sizeof(first_mask), &first_mask);
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set);
}
