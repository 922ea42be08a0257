// libs: -lbpf
// C baseline for map_batch_bench.ts: libbpf's bpf_map_lookup_batch over a whole hash map,
// in chunks, into caller-provided key and value arrays.
#include <bpf/bpf.h>
#include <errno.h>

int batch_all(int map_fd, void *keys, void *values, unsigned int chunk)
{
	unsigned int in = 0, out = 0, count;
	int total = 0, first = 1;

	for (;;) {
		count = chunk;
		int err = bpf_map_lookup_batch(map_fd, first ? NULL : &in, &out,
					       (char *)keys + (size_t)total * 4,
					       (char *)values + (size_t)total * 8, &count, NULL);
		total += count;
		if (err < 0) {
			if (errno == ENOENT)
				return total;
			return -1;
		}
		in = out;
		first = 0;
	}
}

/*
 * batch_all, reading each key and value once as it arrives (its first byte, as the
 * TypeScript loop over entries() does): the dump entries() is measured against.
 */
volatile unsigned long dump_sink;

int dump_all(int map_fd, unsigned char *keys, unsigned char *values, unsigned int chunk)
{
	unsigned int in = 0, out = 0, count;
	unsigned long sum = 0;
	int total = 0, first = 1;

	for (;;) {
		count = chunk;
		int err = bpf_map_lookup_batch(map_fd, first ? NULL : &in, &out,
					       keys + (size_t)total * 4, values + (size_t)total * 8,
					       &count, NULL);
		for (unsigned int i = total; i < total + count; i++)
			sum += keys[(size_t)i * 4] + values[(size_t)i * 8];
		total += count;
		if (err < 0) {
			dump_sink = sum;
			if (errno == ENOENT)
				return total;
			return -1;
		}
		in = out;
		first = 0;
	}
}

/* The walk a libbpf user writes without batches: get_next_key, then lookup, per entry. */
int walk_all(int map_fd, void *value)
{
	unsigned int key, next;
	void *prev = NULL;
	int total = 0;

	while (bpf_map_get_next_key(map_fd, prev, &next) == 0) {
		if (bpf_map_lookup_elem(map_fd, &next, value) == 0)
			total++;
		key = next;
		prev = &key;
	}
	return total;
}
