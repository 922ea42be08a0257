// libs: -lbpf
// build: exe
// C baseline for the BTF benchmark: libbpf's btf__parse plus a walk over every type and
// every member, parameter, enumerator and section entry, summing the fields it reads (the
// TypeScript side computes the same checksum from the same fields). A second walk also
// resolves what the TypeScript type objects hold: every name as a string and the type each
// member, parameter and section entry refers to.
#include <bpf/btf.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* The kind of type `id` (0 for void), as the walk over type objects reads it. */
static uint32_t kind_of(const struct btf *btf, uint32_t id)
{
	return btf_kind(btf__type_by_id(btf, id));
}

/* Like walk(), but reads names as strings and follows every reference to its type. */
static uint64_t walk_resolved(const struct btf *btf)
{
	uint64_t sum = 0;
	uint32_t n = btf__type_cnt(btf);

	for (uint32_t id = 1; id < n; id++) {
		const struct btf_type *t = btf__type_by_id(btf, id);
		uint32_t kind = btf_kind(t), vlen = btf_vlen(t), i;

		sum += (uint64_t)kind + strlen(btf__name_by_offset(btf, t->name_off));
		switch (kind) {
		case BTF_KIND_STRUCT:
		case BTF_KIND_UNION: {
			const struct btf_member *m = btf_members(t);
			for (i = 0; i < vlen; i++, m++)
				sum += strlen(btf__name_by_offset(btf, m->name_off)) +
				       kind_of(btf, m->type) + btf_member_bit_offset(t, i) +
				       btf_member_bitfield_size(t, i);
			break;
		}
		case BTF_KIND_ENUM:
		case BTF_KIND_ENUM64:
			for (i = 0; i < vlen; i++) {
				uint32_t off = kind == BTF_KIND_ENUM ? btf_enum(t)[i].name_off
								      : btf_enum64(t)[i].name_off;
				sum += 1 + strlen(btf__name_by_offset(btf, off));
			}
			break;
		case BTF_KIND_FUNC_PROTO: {
			const struct btf_param *p = btf_params(t);
			for (i = 0; i < vlen; i++, p++)
				sum += strlen(btf__name_by_offset(btf, p->name_off)) +
				       kind_of(btf, p->type);
			break;
		}
		case BTF_KIND_DATASEC: {
			const struct btf_var_secinfo *v = btf_var_secinfos(t);
			for (i = 0; i < vlen; i++, v++)
				sum += (uint64_t)kind_of(btf, v->type) + v->offset + v->size;
			break;
		}
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

/* Parses the BTF at `path` and makes the resolving walk; returns the checksum, or 0. */
uint64_t btf_parse_walk_resolved(const char *path)
{
	struct btf *btf = btf__parse(path, NULL);
	uint64_t sum;

	if (!btf)
		return 0;
	sum = walk_resolved(btf);
	btf__free(btf);
	return sum;
}

/*
 * Maps the file (as libbpf 1.6 maps /sys/kernel/btf/vmlinux), parses the mapping with
 * btf__new (which in libbpf 1.1 copies it) and walks it; returns the checksum, or 0.
 */
uint64_t btf_mmap_walk(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	struct btf *btf;
	uint64_t sum = 0;
	void *p;

	if (fd < 0)
		return 0;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return 0;
	}
	p = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return 0;
	btf = btf__new(p, st.st_size);
	if (btf) {
		sum = walk(btf);
		btf__free(btf);
	}
	munmap(p, st.st_size);
	return sum;
}

/*
 * Parses the BTF at `path`, finds the struct `name` and reads its members' names and
 * types, as a tool that needs one type does; returns its member count, or 0.
 */
uint64_t btf_parse_find(const char *path, const char *name)
{
	struct btf *btf = btf__parse(path, NULL);
	const struct btf_member *m;
	const struct btf_type *t;
	uint64_t sum = 0;
	int id;

	if (!btf)
		return 0;
	id = btf__find_by_name_kind(btf, name, BTF_KIND_STRUCT);
	if (id > 0) {
		t = btf__type_by_id(btf, id);
		m = btf_members(t);
		for (uint32_t i = 0; i < btf_vlen(t); i++, m++)
			if (btf__name_by_offset(btf, m->name_off) && btf__type_by_id(btf, m->type))
				sum++;
	}
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
/*
 * btf_parse [none|raw|resolved] [path]: parses and walks once (or, for none, only starts),
 * then prints the checksum and, from /proc/self/status, the peak resident set (VmHWM) and
 * the private and file-backed parts of the current one, while the BTF is still held.
 */
int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "raw";
	const char *path = argc > 2 ? argv[2] : "/sys/kernel/btf/vmlinux";
	struct btf *btf = NULL;
	uint64_t sum = 0;
	char line[256];
	FILE *f;

	if (strcmp(mode, "none") != 0) {
		btf = btf__parse(path, NULL);
		if (!btf)
			return 1;
		sum = strcmp(mode, "resolved") == 0 ? walk_resolved(btf) : walk(btf);
	}
	printf("checksum %llu\n", (unsigned long long)sum);
	f = fopen("/proc/self/status", "r");
	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, "VmHWM:", 6) == 0 || strncmp(line, "RssAnon:", 8) == 0 ||
		    strncmp(line, "RssFile:", 8) == 0)
			fputs(line, stdout);
	if (f)
		fclose(f);
	btf__free(btf);
	return 0;
}
#endif
