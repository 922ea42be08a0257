// Every BTF kind clang emits: ints of each encoding, bitfields, signed, unsigned, packed and
// 64-bit enums, unions, typedefs, const/volatile/restrict, function prototypes (varargs too),
// forward declarations, floats, decl tags and type tags, and VAR/DATASEC of every linkage.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define __tag(x) __attribute__((btf_decl_tag(x)))
#define __utag(x) __attribute__((btf_type_tag(x)))

enum small_signed { SS_NEG = -3, SS_ZERO = 0, SS_POS = 5 };
enum big_unsigned { BU_LOW = 1, BU_HIGH = 0xffffffff00000000ULL };
enum big_signed { BS_NEG = -0x100000000LL, BS_POS = 1 };
enum __attribute__((packed)) tiny_enum { TINY_0, TINY_1 };
enum { ANON_ENUM_A = 10, ANON_ENUM_B = 20 };

typedef unsigned int u32_t __tag("typedef_tag");
typedef const volatile u32_t cv_u32_t;

struct bits {
	unsigned int a : 1;
	unsigned int b : 7;
	int c : 12;
	unsigned long long d : 44;
	char e;
	_Bool f : 1;
	enum tiny_enum g : 2;
};

union number {
	int i;
	float f;
	double d;
	struct bits b;
};

struct fwd_only;
union fwd_union;

struct __tag("struct_tag") tagged {
	int m __tag("member_tag");
	int __utag("user") *p;
	const char *restrict s;
	volatile long v;
	float fl;
	double dbl;
	struct fwd_only *fwd;
	union fwd_union *fu;
	void (*cb)(int, struct bits *);
	int (*vfn)(const char *, ...);
	int arr[3][4];
	char flex_prev;
	struct {
		int x;
		short y;
	} anon;
	union {
		int ua;
		char ub;
	};
	_Bool flag;
	__int128 wide;
	unsigned __int128 uwide;
	signed char sc;
	unsigned char uc;
	cv_u32_t cv;
	enum small_signed es;
	enum big_unsigned ebu;
	enum big_signed ebs;
	enum tiny_enum et;
	union number num;
	unsigned short us;
	long long ll;
	char tail[];
} __attribute__((aligned(16)));

struct __attribute__((packed)) packed_pair {
	char c;
	long l;
	short s;
};

struct tagged g_tagged __tag("var_tag");
struct packed_pair g_packed = { .c = 1 };
float g_float = 1.5f;
double g_double = 2.5;
const volatile int g_rodata = 7;
static int g_static_counter;
int g_anon_enum_value = ANON_ENUM_B;
extern int LINUX_KERNEL_VERSION __kconfig;
extern void bpf_rcu_read_lock(void) __ksym;
extern void bpf_rcu_read_unlock(void) __ksym;

static __noinline int __tag("func_tag") helper(int x __tag("param_tag"), struct bits *b)
{
	return x + b->c + g_static_counter++;
}

SEC("raw_tp/kinds")
int kinds(void *ctx)
{
	struct bits b = { .c = 3 };

	bpf_rcu_read_lock();
	bpf_rcu_read_unlock();
	return helper(LINUX_KERNEL_VERSION, &b) + g_rodata + g_tagged.arr[1][2] + g_packed.c;
}

char __license[] SEC("license") = "GPL";
