// libs: -lbpf
// C baseline for iter_bench.ts: one pass of a BPF iterator read to its end with read(2) in
// 64 KiB chunks, as a user of libbpf would write it (bpf_iter_create on the link's fd).
#include <bpf/bpf.h>
#include <unistd.h>

static char buf[1 << 16];

/* Bytes the pass printed, or a negative error. */
long iter_read_all(int link_fd)
{
	long total = 0;
	int fd = bpf_iter_create(link_fd);

	if (fd < 0)
		return fd;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n <= 0) {
			close(fd);
			return n < 0 ? -1 : total;
		}
		total += n;
	}
}
