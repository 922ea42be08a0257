// libs: -lbpf
// C baseline for the collection benchmark: libbpf opens an object from memory
// (bpf_object__open_mem), creates its maps and loads its programs (bpf_object__load) — what
// newCollection(parseCollectionSpec(bytes)) does. Closing is a separate call, so that both
// sides time open + load and close apart, in the same window.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return 0;
}

/*
 * Opens and loads the object in `buf`, with maps pinned by name under `pin_root` (libbpf's
 * default is the bpffs root); returns the object, or NULL on failure.
 */
struct bpf_object *open_load(const void *buf, size_t size, const char *pin_root)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = pin_root);
	static int init;
	struct bpf_object *obj;

	if (!init) {
		libbpf_set_print(quiet);
		init = 1;
	}
	obj = bpf_object__open_mem(buf, size, &opts);
	if (!obj)
		return NULL;
	if (bpf_object__load(obj)) {
		bpf_object__close(obj);
		return NULL;
	}
	return obj;
}

/* Only bpf_object__open_mem, for timing bpf_object__load on its own. */
struct bpf_object *open_only(const void *buf, size_t size, const char *pin_root)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = pin_root);

	return bpf_object__open_mem(buf, size, &opts);
}

int load_only(struct bpf_object *obj)
{
	return bpf_object__load(obj);
}

void close_object(struct bpf_object *obj)
{
	bpf_object__close(obj);
}

/*
 * What the load made, so that the benchmark can check that both sides did the same work:
 * one line per program, "prog NAME TAG" (the kernel's tag hashes the instructions it was
 * given, with map fds zeroed), then one line per map, "map NAME TYPE KEY VALUE ENTRIES".
 * Returns the number of bytes written, or -1 when `out` is too small.
 */
int describe_object(struct bpf_object *obj, char *out, int size)
{
	struct bpf_program *prog;
	struct bpf_map *map;
	int n = 0;

	bpf_object__for_each_program(prog, obj) {
		struct bpf_prog_info info;
		__u32 len = sizeof(info);
		int i;

		memset(&info, 0, sizeof(info));
		if (bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len))
			return -1;
		n += snprintf(out + n, size > n ? size - n : 0, "prog %s ", bpf_program__name(prog));
		for (i = 0; i < BPF_TAG_SIZE; i++)
			n += snprintf(out + n, size > n ? size - n : 0, "%02x", info.tag[i]);
		n += snprintf(out + n, size > n ? size - n : 0, "\n");
	}
	bpf_object__for_each_map(map, obj) {
		n += snprintf(out + n, size > n ? size - n : 0, "map %s %d %u %u %u\n",
			      bpf_map__name(map), bpf_map__type(map), bpf_map__key_size(map),
			      bpf_map__value_size(map), bpf_map__max_entries(map));
	}
	return n < size ? n : -1;
}
