// libs: -l:libbpf.a -lelf -lz
// build: exe
// C baseline for the CO-RE benchmark: libbpf 1.1.2's own relocation code applied to every
// CO-RE record of an object against vmlinux BTF parsed beforehand — per iteration, what
// bpf_object__relocate_core() does for each record: a fresh candidate cache per local type
// (bpf_core_add_cands, libbpf's scan of the target types), bpf_core_calc_relo_insn and
// bpf_core_patch_insn on a fresh copy of the instructions. These functions are internal to
// libbpf but global in Debian's libbpf.a, which is not PIC: so this is an executable that
// times itself (built with -DBENCH_MAIN), not a shared library.
//   core_relo OBJ VMLINUX ITERATIONS [warm]  → "relos=N ns_per_relo=X checksum=C"
// With "warm", candidates found in the first iteration are kept (libbpf's cache, narrowed
// as it narrows it), so that the figure is the matching and patching alone.
#ifdef BENCH_MAIN
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <gelf.h>
#include <libelf.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Layouts of libbpf 1.1's relo_core.h (internal). The scratch areas get slack. */
struct bpf_core_cand {
	const struct btf *btf;
	__u32 id;
};
struct bpf_core_cand_list {
	struct bpf_core_cand *cands;
	int len;
};
int bpf_core_add_cands(struct bpf_core_cand *local_cand, size_t local_essent_len,
		       const struct btf *targ_btf, const char *targ_btf_name, int targ_start_id,
		       struct bpf_core_cand_list *cands);
void bpf_core_free_cands(struct bpf_core_cand_list *cands);
size_t bpf_core_essential_name_len(const char *name);
int bpf_core_calc_relo_insn(const char *prog_name, const struct bpf_core_relo *relo, int relo_idx,
			    const struct btf *local_btf, struct bpf_core_cand_list *cands,
			    void *specs_scratch, void *targ_res);
int bpf_core_patch_insn(const char *prog_name, struct bpf_insn *insn, int insn_idx,
			const struct bpf_core_relo *relo, int relo_idx, const void *res);

struct sec {
	uint8_t *orig, *work;
	size_t size;
	struct bpf_core_relo *relos;
	uint32_t nrelos;
};

static int silent(enum libbpf_print_level l, const char *f, va_list a)
{
	(void)l, (void)f, (void)a;
	return 0;
}

static Elf_Data *section(Elf *elf, size_t shstrndx, const char *name, Elf_Scn **out)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	while ((scn = elf_nextscn(elf, scn))) {
		gelf_getshdr(scn, &sh);
		const char *n = elf_strptr(elf, shstrndx, sh.sh_name);
		if (n && strcmp(n, name) == 0) {
			if (out)
				*out = scn;
			return elf_getdata(scn, NULL);
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: %s OBJ VMLINUX ITERATIONS\n", argv[0]);
		return 2;
	}
	libbpf_set_print(silent);
	int iters = atoi(argv[3]);
	bool warm = argc > 4 && strcmp(argv[4], "warm") == 0;
	struct btf *local = btf__parse(argv[1], NULL);
	struct btf *vmlinux = btf__parse(argv[2], NULL);
	if (!local || !vmlinux) {
		fprintf(stderr, "cannot parse BTF\n");
		return 1;
	}
	elf_version(EV_CURRENT);
	int fd = open(argv[1], O_RDONLY);
	Elf *elf = elf_begin(fd, ELF_C_READ, NULL);
	size_t shstrndx;
	elf_getshdrstrndx(elf, &shstrndx);
	Elf_Data *ext = section(elf, shstrndx, ".BTF.ext", NULL);
	if (!ext) {
		fprintf(stderr, "no .BTF.ext\n");
		return 1;
	}
	const uint8_t *e = ext->d_buf;
	uint32_t hdr_len = *(const uint32_t *)(e + 4);
	uint32_t off = *(const uint32_t *)(e + 24), len = *(const uint32_t *)(e + 28);
	const uint8_t *p = e + hdr_len + off, *end = p + len;
	uint32_t rec_size = *(const uint32_t *)p;
	p += 4;
	struct sec secs[64];
	int nsecs = 0, total = 0;
	while (p < end && nsecs < 64) {
		uint32_t name_off = ((const uint32_t *)p)[0], n = ((const uint32_t *)p)[1];
		p += 8;
		const char *name = btf__name_by_offset(local, name_off);
		Elf_Data *d = section(elf, shstrndx, name, NULL);
		struct sec *s = &secs[nsecs++];
		s->size = d->d_size;
		s->orig = malloc(s->size);
		s->work = malloc(s->size);
		memcpy(s->orig, d->d_buf, s->size);
		s->relos = calloc(n, sizeof(*s->relos));
		s->nrelos = n;
		for (uint32_t i = 0; i < n; i++, p += rec_size)
			memcpy(&s->relos[i], p, sizeof(*s->relos));
		total += n;
	}
	uint32_t ntypes = btf__type_cnt(local);
	struct bpf_core_cand_list **cache = calloc(ntypes, sizeof(*cache));
	static uint8_t specs[3 * 8192], res[256];
	uint64_t sum = 0;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int it = 0; it < iters; it++) {
		for (int si = 0; si < nsecs; si++) {
			struct sec *s = &secs[si];
			memcpy(s->work, s->orig, s->size);
			for (uint32_t i = 0; i < s->nrelos; i++) {
				const struct bpf_core_relo *r = &s->relos[i];
				struct bpf_core_cand_list *cands = NULL;
				if (r->kind != BPF_CORE_TYPE_ID_LOCAL) {
					cands = cache[r->type_id];
					if (!cands) {
						const struct btf_type *t = btf__type_by_id(local, r->type_id);
						const char *n = btf__name_by_offset(local, t->name_off);
						struct bpf_core_cand lc = { local, r->type_id };
						cands = calloc(1, sizeof(*cands));
						if (bpf_core_add_cands(&lc, bpf_core_essential_name_len(n), vmlinux,
								       "vmlinux", 1, cands))
							return 1;
						cache[r->type_id] = cands;
					}
				}
				if (bpf_core_calc_relo_insn("p", r, i, local, cands, specs, res))
					return 1;
				struct bpf_insn *insn = (struct bpf_insn *)(s->work + r->insn_off);
				if (bpf_core_patch_insn("p", insn, r->insn_off / 8, r, i, res))
					return 1;
			}
		}
		for (uint32_t i = 0; i < ntypes && !warm; i++) {
			if (cache[i]) {
				bpf_core_free_cands(cache[i]);
				cache[i] = NULL;
			}
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* FNV-1a over the patched sections, in .BTF.ext order: the TypeScript side checks it. */
	sum = 1469598103934665603ULL;
	for (int si = 0; si < nsecs; si++)
		for (size_t i = 0; i < secs[si].size; i++)
			sum = (sum ^ secs[si].work[i]) * 1099511628211ULL;
	double ns = (t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec);
	printf("relos=%d ns_per_relo=%.1f checksum=%llu\n", total, ns / iters / total,
	       (unsigned long long)sum);
	return 0;
}
#else
/* The shared-library build of this baseline has nothing to offer: see BENCH_MAIN. */
int core_relo_unused(void);
int core_relo_unused(void)
{
	return 0;
}
#endif
