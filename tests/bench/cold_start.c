// libs: -lbpf
// build: exe
// C baseline for the cold-start benchmark (cold_start_bench.ts), run as a fresh process:
//   cold_start none                   starts and exits (the fixed cost of a process)
//   cold_start load OBJ PIN_ROOT      reads OBJ, bpf_object__open_mem, bpf_object__load
//   cold_start parse OBJ...           reads and bpf_object__open_mem's every OBJ, then closes
//   cold_start opens OBJ...           prints the OBJs libbpf opens, one a line (not timed)
// It prints the milliseconds from main() to each step, as cold_start.ts does from its import
// of the package: "parsed MS", "loaded MS" (load), "parsed MS N" (parse: N objects opened).
#include <bpf/libbpf.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef BENCH_MAIN
static struct timespec start;

static double since_start(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - start.tv_sec) * 1e3 + (now.tv_nsec - start.tv_nsec) / 1e6;
}

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return 0;
}

/* The whole file in memory, as the TypeScript side reads it before parsing. */
static void *read_file(const char *path, size_t *size)
{
	FILE *f = fopen(path, "rb");
	void *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc(n > 0 ? n : 1);
	if (buf && fread(buf, 1, n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	*size = n;
	return buf;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "none";

	clock_gettime(CLOCK_MONOTONIC, &start);
	libbpf_set_print(quiet);
	if (strcmp(mode, "load") == 0 && argc == 4) {
		LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = argv[3]);
		struct bpf_object *obj;
		double parsed, loaded;
		size_t size;
		void *buf = read_file(argv[2], &size);

		if (!buf)
			return 1;
		obj = bpf_object__open_mem(buf, size, &opts);
		if (!obj)
			return 1;
		parsed = since_start();
		if (bpf_object__load(obj))
			return 1;
		loaded = since_start();
		printf("parsed %.3f\nloaded %.3f\n", parsed, loaded);
		bpf_object__close(obj);
		free(buf);
		return 0;
	}
	if (strcmp(mode, "parse") == 0 || strcmp(mode, "opens") == 0) {
		int list = strcmp(mode, "opens") == 0, opened = 0;

		for (int i = 2; i < argc; i++) {
			struct bpf_object *obj;
			size_t size;
			void *buf = read_file(argv[i], &size);

			if (!buf)
				return 1;
			obj = bpf_object__open_mem(buf, size, NULL);
			if (obj) {
				opened++;
				if (list)
					printf("%s\n", argv[i]);
				bpf_object__close(obj);
			}
			free(buf);
		}
		if (!list)
			printf("parsed %.3f %d\n", since_start(), opened);
		return 0;
	}
	return strcmp(mode, "none") == 0 ? 0 : 2;
}
#endif
