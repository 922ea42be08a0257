// libs: -lbpf
// C baseline for perfbuf_bench.ts: libbpf's perf_buffer__consume with a callback that copies
// each sample out, as a user of libbpf would write it.
#include <bpf/libbpf.h>
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
