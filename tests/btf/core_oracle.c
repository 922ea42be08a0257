// CO-RE oracle: libbpf's own answers for an object's relocations. Opens OBJ with libbpf
// (optionally with BTF_PATH as the target instead of the kernel's BTF), loads it, and
// prints every libbpf message on stdout; the relocation lines ("relo #N: patched insn
// #M ...", "substituting insn #M w/ invalid insn") are what the test compares with.
//   core_oracle OBJ [BTF_PATH]
#include <stdarg.h>
#include <stdio.h>
#include <bpf/libbpf.h>

static int print_all(enum libbpf_print_level level, const char *fmt, va_list args)
{
	(void)level;
	return vprintf(fmt, args);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s OBJ [BTF_PATH]\n", argv[0]);
		return 2;
	}
	libbpf_set_print(print_all);
	LIBBPF_OPTS(bpf_object_open_opts, opts, .btf_custom_path = argc > 2 ? argv[2] : NULL);
	struct bpf_object *obj = bpf_object__open_file(argv[1], &opts);
	if (!obj) {
		printf("ORACLE: open failed\n");
		return 1;
	}
	int err = bpf_object__load(obj);
	printf("ORACLE: load %d\n", err);
	bpf_object__close(obj);
	return 0;
}
