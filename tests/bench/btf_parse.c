// libs: -lbpf
// build: exe
// C baseline for the BTF benchmark: libbpf's btf__parse plus a walk over every type and
// every member, parameter, enumerator and section entry, summing the fields it reads (the
// TypeScript side computes the same checksum from the same fields).
#include <bpf/btf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t walk(const struct btf *btf)
{
	uint64_t sum = 0;
	uint32_t n = btf__type_cnt(btf);

	for (uint32_t id = 1; id < n; id++) {
		const struct btf_type *t = btf__type_by_id(btf, id);
		uint32_t kind = btf_kind(t), vlen = btf_vlen(t), i;

		sum += (uint64_t)kind + vlen + t->name_off + t->size;
		switch (kind) {
		case BTF_KIND_STRUCT:
		case BTF_KIND_UNION: {
			const struct btf_member *m = btf_members(t);
			for (i = 0; i < vlen; i++, m++)
				sum += (uint64_t)m->name_off + m->type + m->offset;
			break;
		}
		case BTF_KIND_ENUM: {
			const struct btf_enum *e = btf_enum(t);
			for (i = 0; i < vlen; i++, e++)
				sum += (uint64_t)e->name_off + (uint32_t)e->val;
			break;
		}
		case BTF_KIND_ENUM64: {
			const struct btf_enum64 *e = btf_enum64(t);
			for (i = 0; i < vlen; i++, e++)
				sum += (uint64_t)e->name_off + e->val_lo32 + e->val_hi32;
			break;
		}
		case BTF_KIND_FUNC_PROTO: {
			const struct btf_param *p = btf_params(t);
			for (i = 0; i < vlen; i++, p++)
				sum += (uint64_t)p->name_off + p->type;
			break;
		}
		case BTF_KIND_DATASEC: {
			const struct btf_var_secinfo *v = btf_var_secinfos(t);
			for (i = 0; i < vlen; i++, v++)
				sum += (uint64_t)v->type + v->offset + v->size;
			break;
		}
		case BTF_KIND_ARRAY: {
			const struct btf_array *a = btf_array(t);
			sum += (uint64_t)a->type + a->index_type + a->nelems;
			break;
		}
		case BTF_KIND_INT:
		case BTF_KIND_VAR:
		case BTF_KIND_DECL_TAG:
			sum += *(const uint32_t *)(t + 1);
			break;
		}
	}
	return sum;
}

/* Parses the BTF at `path` and walks it; returns the checksum, or 0 on error. */
uint64_t btf_parse_walk(const char *path)
{
	struct btf *btf = btf__parse(path, NULL);
	uint64_t sum;

	if (!btf)
		return 0;
	sum = walk(btf);
	btf__free(btf);
	return sum;
}

/* Parses BTF already in memory (btf__new copies it, as btf__parse does) and walks it. */
uint64_t btf_new_walk(const void *data, uint32_t size)
{
	struct btf *btf = btf__new(data, size);
	uint64_t sum;

	if (!btf)
		return 0;
	sum = walk(btf);
	btf__free(btf);
	return sum;
}

#ifdef BENCH_MAIN
/* Parses and walks once, then prints the checksum and the peak resident set (VmHWM). */
int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "/sys/kernel/btf/vmlinux";
	uint64_t sum = btf_parse_walk(path);
	char line[256];
	FILE *f = fopen("/proc/self/status", "r");

	printf("checksum %llu\n", (unsigned long long)sum);
	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, "VmHWM:", 6) == 0)
			fputs(line, stdout);
	if (f)
		fclose(f);
	return sum == 0;
}
#endif
