// cflags: -I../include
// The per-record kernel cost of a typed log (include/ebpf_log.h) next to bpf_printk and
// bpf_stream_printk, for tests/bench/log_bench.ts: socket filters run with
// BPF_PROG_TEST_RUN's repeat, each writing one record of the same three values.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define EBPF_LOG_RING_SIZE (4 << 20)
#include "ebpf_log.h"

/*
 * bpf_stream_vprintk: 6.17 names it so; 6.18 renamed it bpf_stream_vprintk_impl. The
 * verifier fills aux__prog. Declared here: libbpf-dev 1.1 has neither.
 */
extern int bpf_stream_vprintk(int stream_id, const char *fmt__str, const void *args,
			      __u32 len__sz, void *aux__prog) __ksym __weak;
extern int bpf_stream_vprintk_impl(int stream_id, const char *fmt__str, const void *args,
				   __u32 len__sz, void *aux__prog) __ksym __weak;

#define BPF_STDOUT 1

SEC("socket")
int empty(struct __sk_buff *skb)
{
	return 0;
}

SEC("socket")
int typed_log(struct __sk_buff *skb)
{
	__u32 len = skb->len, proto = skb->protocol;

	ebpf_log_info("record {} {} {:x}", len, proto, (__u64)len << 32 | proto);
	return 0;
}

SEC("socket")
int printk(struct __sk_buff *skb)
{
	__u32 len = skb->len, proto = skb->protocol;

	bpf_printk("record %u %u %llx", len, proto, (__u64)len << 32 | proto);
	return 0;
}

static const char stream_fmt[] = "record %u %u %llx\n";

SEC("socket")
int stream_printk(struct __sk_buff *skb)
{
	__u32 len = skb->len, proto = skb->protocol;
	__u64 args[3] = { len, proto, (__u64)len << 32 | proto };

	/* 0, or -ENOSPC once the stream's 100000 bytes are full: the bench checks */
	return bpf_stream_vprintk(BPF_STDOUT, stream_fmt, args, sizeof(args), NULL);
}

SEC("socket")
int stream_printk_impl(struct __sk_buff *skb)
{
	__u32 len = skb->len, proto = skb->protocol;
	__u64 args[3] = { len, proto, (__u64)len << 32 | proto };

	return bpf_stream_vprintk_impl(BPF_STDOUT, stream_fmt, args, sizeof(args), NULL);
}

char LICENSE[] SEC("license") = "GPL";
