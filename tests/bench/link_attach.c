// C baseline for link_attach_bench.ts: BPF_LINK_CREATE of an iterator link and close, and
// one pass of the iterator (BPF_ITER_CREATE, read to the end, close), as raw syscalls.
#include <linux/bpf.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <stdint.h>

int attach_close_loop(int prog_fd, int n)
{
	union bpf_attr attr;

	for (int i = 0; i < n; i++) {
		memset(&attr, 0, sizeof(attr));
		attr.link_create.prog_fd = prog_fd;
		attr.link_create.attach_type = BPF_TRACE_ITER;
		int fd = syscall(__NR_bpf, BPF_LINK_CREATE, &attr, sizeof(attr));
		if (fd < 0)
			return -1;
		close(fd);
	}
	return 0;
}

long iter_read(int link_fd)
{
	static char buf[65536];
	union bpf_attr attr;
	long total = 0, r;

	memset(&attr, 0, sizeof(attr));
	attr.iter_create.link_fd = link_fd;
	int fd = syscall(__NR_bpf, BPF_ITER_CREATE, &attr, sizeof(attr));
	if (fd < 0)
		return -1;
	while ((r = read(fd, buf, sizeof(buf))) > 0)
		total += r;
	close(fd);
	return r < 0 ? -1 : total;
}
