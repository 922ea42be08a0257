// libs: -lbpf
// C baseline for the collection benchmark: libbpf opens an object from memory
// (bpf_object__open_mem), creates its maps and loads its programs (bpf_object__load), then
// closes everything — what newCollection(parseCollectionSpec(bytes)) does.
#include <bpf/libbpf.h>
#include <errno.h>
#include <stddef.h>

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return 0;
}

int open_load_close(const void *buf, size_t size)
{
	struct bpf_object *obj;
	int err;

	libbpf_set_print(quiet);
	obj = bpf_object__open_mem(buf, size, NULL);
	if (!obj)
		return -errno;
	err = bpf_object__load(obj);
	bpf_object__close(obj);
	return err;
}
