/* A BPF TCP congestion control written the way the kernel selftests (bpf_dctcp.c,
 * tcp_ca_update.c) write one: struct_ops programs with BPF_PROG() over `struct sock *`,
 * kernel types declared here with preserve_access_index (only the fields read), and the
 * ops table a global variable of the kernel's struct type in a `.struct_ops*` section.
 * Shared by compat_struct_ops_cc.c (`.struct_ops.link`) and compat_struct_ops_cc_legacy.c
 * (`.struct_ops`). Each program counts its calls in `.bss`, so tests can see them run. */
#include <linux/types.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

struct sock;

struct tcp_sock {
	__u32 snd_cwnd;
	__u32 snd_ssthresh;
} __attribute__((preserve_access_index));

/* The members this object sets, in an order of its own: libbpf matches them to the
 * kernel's struct by name, not by offset. */
struct tcp_congestion_ops {
	void (*init)(struct sock *sk);
	__u32 (*ssthresh)(struct sock *sk);
	void (*cong_avoid)(struct sock *sk, __u32 ack, __u32 acked);
	__u32 (*undo_cwnd)(struct sock *sk);
	__u32 flags;
	char name[16];
};

/* TCP_CONG_NON_RESTRICTED: unprivileged sockets may choose it. */
#define TCP_CONG_NON_RESTRICTED 0x1

static inline struct tcp_sock *tcp_sk(const struct sock *sk)
{
	return (struct tcp_sock *)sk;
}

__u64 init_calls;
__u64 ssthresh_calls;
__u64 cong_avoid_calls;
__u64 undo_cwnd_calls;

char _license[] SEC("license") = "GPL";

SEC("struct_ops/cc_init")
void BPF_PROG(cc_init, struct sock *sk)
{
	__sync_fetch_and_add(&init_calls, 1);
}

SEC("struct_ops/cc_ssthresh")
__u32 BPF_PROG(cc_ssthresh, struct sock *sk)
{
	const struct tcp_sock *tp = tcp_sk(sk);
	__u32 half = tp->snd_cwnd >> 1;

	__sync_fetch_and_add(&ssthresh_calls, 1);
	return half > 2 ? half : 2;
}

/* Reno without its additive increase: slow start up to ssthresh, then hold. */
SEC("struct_ops/cc_cong_avoid")
void BPF_PROG(cc_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
	struct tcp_sock *tp = tcp_sk(sk);

	__sync_fetch_and_add(&cong_avoid_calls, 1);
	if (tp->snd_cwnd < tp->snd_ssthresh)
		tp->snd_cwnd = tp->snd_cwnd + acked;
}

SEC("struct_ops/cc_undo_cwnd")
__u32 BPF_PROG(cc_undo_cwnd, struct sock *sk)
{
	__sync_fetch_and_add(&undo_cwnd_calls, 1);
	return tcp_sk(sk)->snd_cwnd;
}
