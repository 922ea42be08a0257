// libs: -lbpf
// C baseline for ringbuf_bench.ts: libbpf's ring_buffer__consume with a callback that
// copies each record out, as a user of libbpf would write it.
#include <bpf/libbpf.h>
#include <string.h>

static char sink[4096];
static unsigned long records;

static int copy_out(void *ctx, void *data, size_t size)
{
	memcpy(sink, data, size < sizeof(sink) ? size : sizeof(sink));
	records++;
	return 0;
}

struct ring_buffer *rb_open(int map_fd)
{
	return ring_buffer__new(map_fd, copy_out, NULL, NULL);
}

int rb_consume(struct ring_buffer *rb)
{
	return ring_buffer__consume(rb);
}

void rb_close(struct ring_buffer *rb)
{
	ring_buffer__free(rb);
}
