// C baseline of the asm codec benchmark: the work Instructions.marshal and unmarshal do,
// on arrays of struct bpf_insn. Encoding packs each instruction into its 8 bytes (swapping
// fields for big endian); decoding unpacks and validates the opcode and registers, as
// unmarshal does, and fails on the first bad instruction.
#include <linux/bpf.h>
#include <stdint.h>
#include <string.h>

static uint8_t valid[256];

static void init_valid(void)
{
	static int done;
	if (done)
		return;
	done = 1;
	// LD: imm64 and the legacy packet loads; LDX, ST, STX of every size; ALU and JMP.
	valid[BPF_LD | BPF_IMM | BPF_DW] = 2;
	for (int sz = 0; sz < 3; sz++) {
		int size = sz << 3;
		valid[BPF_LD | BPF_ABS | size] = 1;
		valid[BPF_LD | BPF_IND | size] = 1;
		valid[BPF_LDX | 0x80 | size] = 1; // BPF_MEMSX
	}
	for (int size = 0; size < 0x20; size += 8) {
		valid[BPF_LDX | BPF_MEM | size] = 1;
		valid[BPF_ST | BPF_MEM | size] = 1;
		valid[BPF_STX | BPF_MEM | size] = 1;
		valid[BPF_STX | BPF_ATOMIC | size] = 2;
	}
	for (int cls = BPF_ALU; cls <= BPF_ALU64; cls += 3) {
		for (int op = 0; op <= 0xc0; op += 0x10) {
			valid[cls | op | BPF_K] = 1;
			if (op != BPF_NEG)
				valid[cls | op | BPF_X] = 1;
		}
	}
	valid[BPF_ALU | BPF_END | BPF_TO_LE] = 2;
	valid[BPF_ALU | BPF_END | BPF_TO_BE] = 2;
	valid[BPF_ALU64 | BPF_END] = 2;
	for (int cls = BPF_JMP; cls <= BPF_JMP32; cls++) {
		for (int op = 0x10; op <= 0xd0; op += 0x10) {
			if (op == BPF_CALL || op == BPF_EXIT)
				continue;
			valid[cls | op | BPF_K] = 1;
			valid[cls | op | BPF_X] = 1;
		}
	}
	valid[BPF_JMP | BPF_JA] = 1;
	valid[BPF_JMP | BPF_JA | BPF_X] = 1;
	valid[BPF_JMP32 | BPF_JA] = 1;
	valid[BPF_JMP | BPF_CALL] = 2;
	valid[BPF_JMP | BPF_CALL | BPF_X] = 1;
	valid[BPF_JMP | BPF_EXIT] = 1;
	valid[BPF_JMP | 0xe0] = 2;
}

static inline uint32_t bswap32(uint32_t x)
{
	return __builtin_bswap32(x);
}

// Encodes `n` slots from `src` into `out` (8 bytes each).
void asm_encode(const struct bpf_insn *src, uint8_t *out, uint32_t n, int32_t big)
{
	for (uint32_t i = 0; i < n; i++) {
		const struct bpf_insn *in = &src[i];
		uint8_t *o = out + 8 * (size_t)i;
		uint16_t off = (uint16_t)in->off;
		uint32_t imm = (uint32_t)in->imm;
		o[0] = in->code;
		if (big) {
			o[1] = (uint8_t)(in->dst_reg << 4 | in->src_reg);
			o[2] = off >> 8;
			o[3] = off & 0xff;
			imm = bswap32(imm);
		} else {
			o[1] = (uint8_t)(in->src_reg << 4 | in->dst_reg);
			memcpy(o + 2, &off, 2);
		}
		memcpy(o + 4, &imm, 4);
	}
}

// Decodes `n` slots from `in` into `dst`; returns the index of the first invalid slot, or -1.
int32_t asm_decode(const uint8_t *in, struct bpf_insn *dst, uint32_t n, int32_t big)
{
	init_valid();
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *p = in + 8 * (size_t)i;
		struct bpf_insn *o = &dst[i];
		uint16_t off;
		uint32_t imm;
		memcpy(&off, p + 2, 2);
		memcpy(&imm, p + 4, 4);
		uint8_t dreg = big ? p[1] >> 4 : p[1] & 0xf;
		uint8_t sreg = big ? p[1] & 0xf : p[1] >> 4;
		if (big) {
			off = (uint16_t)(off >> 8 | off << 8);
			imm = bswap32(imm);
		}
		if (!valid[p[0]] || dreg > 10 || sreg > 10)
			return (int32_t)i;
		o->code = p[0];
		o->dst_reg = dreg;
		o->src_reg = sreg;
		o->off = (int16_t)off;
		o->imm = (int32_t)imm;
		if (p[0] == (BPF_LD | BPF_IMM | BPF_DW)) {
			if (i + 1 >= n)
				return (int32_t)i;
			uint32_t head;
			memcpy(&head, p + 8, 4);
			if (head != 0)
				return (int32_t)i + 1;
			memcpy(&imm, p + 12, 4);
			dst[i + 1] = (struct bpf_insn){ .imm = (int32_t)(big ? bswap32(imm) : imm) };
			i++;
		}
	}
	return -1;
}
