// libs: -lbpf
// C baseline for the ELF benchmark: libbpf's bpf_object__open_mem on an object in memory
// (ELF, BTF and .BTF.ext parsing, maps, programs and relocation records), then close.
#include <bpf/libbpf.h>
#include <stddef.h>
#include <stdarg.h>

static int quiet(enum libbpf_print_level level, const char *fmt, va_list args)
{
	return 0;
}

/* Opens and closes the object in `buf`; returns its number of programs, or -1. */
int elf_open_count(const void *buf, unsigned int size)
{
	static int init;
	struct bpf_object *obj;
	struct bpf_program *prog;
	int n = 0;

	if (!init) {
		libbpf_set_print(quiet);
		init = 1;
	}
	obj = bpf_object__open_mem(buf, size, NULL);
	if (!obj)
		return -1;
	bpf_object__for_each_program(prog, obj)
		n++;
	bpf_object__close(obj);
	return n;
}

/* Opens the object in `buf` and returns its number of maps (internal ones included), or -1. */
int elf_open_maps(const void *buf, unsigned int size)
{
	struct bpf_object *obj;
	struct bpf_map *map;
	int n = 0;

	obj = bpf_object__open_mem(buf, size, NULL);
	if (!obj)
		return -1;
	bpf_object__for_each_map(map, obj)
		n++;
	bpf_object__close(obj);
	return n;
}
