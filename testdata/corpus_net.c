// cflags: -D__TARGET_ARCH_x86
// A benchmark-corpus object written as networking tools (Cilium-, Katran- and
// libbpf-bootstrap-style datapaths, bcc's tcp tools) are: vmlinux.h, XDP, tc, cgroup,
// sockops, sk_msg/sk_skb, socket filter and flow dissector programs, kprobes and BTF
// tracepoints reading sk_buff, sock and net_device through CO-RE; map kinds such objects
// use (sockmap, sockhash, devmap, cpumap, xskmap, LPM trie, queue, bloom filter, socket
// storage, a program array and a hash of maps initialised statically), values that are
// whole kernel structs (net_device, net, cgroup) so that .BTF carries their closure; a
// packet parser inlined into several programs, static and global subprograms, tail calls,
// bpf_loop callbacks, globals in .rodata, .data, .bss and custom .data.* sections.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define ETH_P_8021Q 0x8100
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define IPPROTO_ICMP 1
#define TC_ACT_OK 0
#define TC_ACT_SHOT 2
#define AF_INET 2
#define AF_INET6 10
#define MAX_BACKENDS 64

struct flow_key {
	union {
		u32 v4;
		u32 v6[4];
	} src, dst;
	u16 sport, dport;
	u8 proto, family;
	u16 pad;
};

struct flow_stat {
	u64 packets, bytes;
	u64 first_seen, last_seen;
	u32 flags;
	u32 ifindex;
};

struct backend {
	u32 addr;
	u16 port;
	u16 weight;
	u8 mac[6];
	u16 flags;
};

struct lpm_v4_key {
	u32 prefixlen;
	u32 addr;
};

struct parsed {
	struct flow_key key;
	u32 len;
	int l4_off;
	bool vlan;
};

const volatile u32 nr_backends = 1;
const volatile u32 redirect_ifindex = 0;
const volatile bool drop_icmp = false;
const volatile u8 local_mac[6] = {};

u64 packets_seen = 0;
u64 packets_dropped = 0;
u32 hash_seed SEC(".data.seed") = 0x9e3779b9;
u64 per_proto[256] SEC(".data.counters");
struct backend default_backend = { .port = 80, .weight = 1 };

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct flow_key);
	__type(value, struct flow_stat);
} flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_BACKENDS);
	__type(key, u32);
	__type(value, struct backend);
} backends SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1024);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_v4_key);
	__type(value, u32);
} allow_v4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(max_entries, 64);
	__type(key, u32);
	__type(value, struct bpf_devmap_val);
} tx_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_CPUMAP);
	__uint(max_entries, 64);
	__type(key, u32);
	__type(value, struct bpf_cpumap_val);
} cpus SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, 64);
	__type(key, u32);
	__type(value, u32);
} xsks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, 1024);
	__type(key, u32);
	__type(value, u64);
} sock_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 1024);
	__type(key, struct flow_key);
	__type(value, u64);
} sock_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct flow_stat);
} sk_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 256);
	__type(value, struct flow_key);
} new_flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_BLOOM_FILTER);
	__uint(max_entries, 4096);
	__uint(map_extra, 3);
	__type(value, u32);
} seen_addrs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 256);
	__type(key, u32);
	__type(value, struct flow_stat);
} proto_stats SEC(".maps");

/* Device and namespace snapshots, as inventory tools keep them. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, int);
	__type(value, struct net_device);
} devices SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, u64);
	__type(value, struct net);
} namespaces SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, u64);
	__type(value, struct cgroup);
} cgroups SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 16);
} net_events SEC(".maps");

struct inner_counts {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 16);
	__type(key, u32);
	__type(value, u64);
} counts_a SEC(".maps"), counts_b SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, 8);
	__type(key, u32);
	__array(values, struct inner_counts);
} counts_by_ifindex SEC(".maps") = {
	.values = { [1] = &counts_a, [2] = &counts_b },
};

int xdp_stage2(struct xdp_md *ctx);
int xdp_stage3(struct xdp_md *ctx);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 4);
	__type(key, u32);
	__array(values, int (void *));
} xdp_stages SEC(".maps") = {
	.values = { [0] = (void *)&xdp_stage2, [1] = (void *)&xdp_stage3 },
};

static __always_inline int parse_packet(void *data, void *data_end, struct parsed *p)
{
	struct ethhdr *eth = data;
	u16 proto;
	int off = sizeof(*eth);

	if ((void *)(eth + 1) > data_end)
		return -1;
	proto = eth->h_proto;
	p->vlan = false;
	if (proto == bpf_htons(ETH_P_8021Q)) {
		struct vlan_hdr *vh = (void *)(eth + 1);

		if ((void *)(vh + 1) > data_end)
			return -1;
		proto = vh->h_vlan_encapsulated_proto;
		off += sizeof(*vh);
		p->vlan = true;
	}
	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = data + off;

		if ((void *)(ip + 1) > data_end)
			return -1;
		if (ip->ihl < 5)
			return -1;
		p->key.family = AF_INET;
		p->key.proto = ip->protocol;
		p->key.src.v4 = ip->saddr;
		p->key.dst.v4 = ip->daddr;
		p->len = bpf_ntohs(ip->tot_len);
		off += ip->ihl * 4;
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = data + off;

		if ((void *)(ip6 + 1) > data_end)
			return -1;
		p->key.family = AF_INET6;
		p->key.proto = ip6->nexthdr;
		__builtin_memcpy(p->key.src.v6, &ip6->saddr, 16);
		__builtin_memcpy(p->key.dst.v6, &ip6->daddr, 16);
		p->len = bpf_ntohs(ip6->payload_len) + sizeof(*ip6);
		off += sizeof(*ip6);
	} else {
		return -1;
	}
	p->l4_off = off;
	if (off > 256)
		return -1;
	if (p->key.proto == IPPROTO_TCP) {
		struct tcphdr *tcp = data + off;

		if ((void *)(tcp + 1) > data_end)
			return -1;
		p->key.sport = tcp->source;
		p->key.dport = tcp->dest;
	} else if (p->key.proto == IPPROTO_UDP) {
		struct udphdr *udp = data + off;

		if ((void *)(udp + 1) > data_end)
			return -1;
		p->key.sport = udp->source;
		p->key.dport = udp->dest;
	}
	return 0;
}

static __noinline u32 flow_hash(const struct flow_key *k)
{
	u32 h = hash_seed;

	h ^= k->src.v4 + 0x9e3779b9 + (h << 6) + (h >> 2);
	h ^= k->dst.v4 + 0x9e3779b9 + (h << 6) + (h >> 2);
	h ^= ((u32)k->sport << 16 | k->dport) + 0x9e3779b9 + (h << 6) + (h >> 2);
	h ^= k->proto;
	return h;
}

static __noinline int account(struct flow_key *key, u32 len, u32 ifindex)
{
	struct flow_stat *st, fresh = {};
	u64 now = bpf_ktime_get_ns();

	st = bpf_map_lookup_elem(&flows, key);
	if (!st) {
		fresh.first_seen = now;
		fresh.ifindex = ifindex;
		bpf_map_update_elem(&flows, key, &fresh, BPF_NOEXIST);
		bpf_map_push_elem(&new_flows, key, BPF_EXIST);
		st = bpf_map_lookup_elem(&flows, key);
		if (!st)
			return 0;
	}
	__sync_fetch_and_add(&st->packets, 1);
	__sync_fetch_and_add(&st->bytes, len);
	st->last_seen = now;
	per_proto[key->proto & 0xff]++;
	return 0;
}

/* A global function: the verifier checks it once, with its arguments unknown. */
__noinline int allowed_v4(u32 addr)
{
	struct lpm_v4_key k = { .prefixlen = 32, .addr = addr };
	u32 *verdict = bpf_map_lookup_elem(&allow_v4, &k);

	return verdict ? *verdict : 1;
}

struct loop_ctx {
	u32 hash;
	u32 best;
	u32 best_weight;
};

static int pick_backend(u32 i, struct loop_ctx *c)
{
	struct backend *b;
	u32 idx = i;

	if (i >= nr_backends)
		return 1;
	b = bpf_map_lookup_elem(&backends, &idx);
	if (b && b->weight * (c->hash % 97) > c->best_weight) {
		c->best = i;
		c->best_weight = b->weight * (c->hash % 97);
	}
	return 0;
}

SEC("xdp")
int xdp_ingress(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	struct parsed p = {};

	__sync_fetch_and_add(&packets_seen, 1);
	if (parse_packet(data, data_end, &p) < 0)
		return XDP_PASS;
	if (drop_icmp && p.key.proto == IPPROTO_ICMP) {
		__sync_fetch_and_add(&packets_dropped, 1);
		return XDP_DROP;
	}
	if (p.key.family == AF_INET && !allowed_v4(p.key.src.v4))
		return XDP_DROP;
	account(&p.key, p.len, ctx->ingress_ifindex);
	bpf_tail_call(ctx, &xdp_stages, 0);
	return XDP_PASS;
}

SEC("xdp")
int xdp_stage2(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	struct parsed p = {};
	struct loop_ctx c = {};
	struct backend *b;

	if (parse_packet(data, data_end, &p) < 0)
		return XDP_PASS;
	c.hash = flow_hash(&p.key);
	bpf_loop(MAX_BACKENDS, pick_backend, &c, 0);
	b = bpf_map_lookup_elem(&backends, &c.best);
	if (!b)
		b = &default_backend;
	if (bpf_map_peek_elem(&seen_addrs, &b->addr) == 0)
		return bpf_redirect_map(&cpus, c.hash % 2, XDP_PASS);
	bpf_tail_call(ctx, &xdp_stages, 1);
	return bpf_redirect_map(&tx_ports, redirect_ifindex, 0);
}

SEC("xdp")
int xdp_stage3(struct xdp_md *ctx)
{
	return bpf_redirect_map(&xsks, ctx->rx_queue_index, XDP_PASS);
}

SEC("tc")
int tc_ingress(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *data_end = (void *)(long)skb->data_end;
	struct parsed p = {};
	u32 key = skb->ifindex, *inner;
	u64 *count;
	u32 slot = 0;

	if (parse_packet(data, data_end, &p) < 0)
		return TC_ACT_OK;
	account(&p.key, skb->len, skb->ifindex);
	inner = bpf_map_lookup_elem(&counts_by_ifindex, &key);
	if (inner) {
		count = bpf_map_lookup_elem(inner, &slot);
		if (count)
			__sync_fetch_and_add(count, 1);
	}
	return TC_ACT_OK;
}

SEC("tc")
int tc_egress(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *data_end = (void *)(long)skb->data_end;
	struct parsed p = {};

	if (parse_packet(data, data_end, &p) < 0)
		return TC_ACT_OK;
	if (p.key.family == AF_INET && !allowed_v4(p.key.dst.v4))
		return TC_ACT_SHOT;
	skb->mark = flow_hash(&p.key);
	return TC_ACT_OK;
}

SEC("cgroup_skb/ingress")
int cgroup_ingress(struct __sk_buff *skb)
{
	struct flow_stat *st;
	struct bpf_sock *sk = skb->sk;

	if (!sk)
		return 1;
	sk = bpf_sk_fullsock(sk);
	if (!sk)
		return 1;
	st = bpf_sk_storage_get(&sk_stats, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (st) {
		__sync_fetch_and_add(&st->packets, 1);
		__sync_fetch_and_add(&st->bytes, skb->len);
	}
	return 1;
}

SEC("cgroup_skb/egress")
int cgroup_egress(struct __sk_buff *skb)
{
	u32 proto = skb->protocol == bpf_htons(ETH_P_IP) ? 4 : 6;
	struct flow_stat *st = bpf_map_lookup_elem(&proto_stats, &proto);

	if (st) {
		st->packets++;
		st->bytes += skb->len;
	}
	return 1;
}

SEC("sockops")
int sockops_established(struct bpf_sock_ops *ops)
{
	struct flow_key key = {};

	if (ops->family != AF_INET)
		return 0;
	switch (ops->op) {
	case BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB:
	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
		key.family = AF_INET;
		key.src.v4 = ops->local_ip4;
		key.dst.v4 = ops->remote_ip4;
		key.sport = bpf_htonl(ops->local_port) >> 16;
		key.dport = ops->remote_port >> 16;
		bpf_sock_hash_update(ops, &sock_hash, &key, BPF_NOEXIST);
		break;
	default:
		break;
	}
	return 0;
}

SEC("sk_msg")
int sk_msg_redirect(struct sk_msg_md *msg)
{
	struct flow_key key = {};

	key.family = AF_INET;
	key.src.v4 = msg->remote_ip4;
	key.dst.v4 = msg->local_ip4;
	key.sport = msg->remote_port >> 16;
	key.dport = bpf_htonl(msg->local_port) >> 16;
	return bpf_msg_redirect_hash(msg, &sock_hash, &key, BPF_F_INGRESS);
}

SEC("sk_skb/stream_verdict")
int sk_skb_verdict(struct __sk_buff *skb)
{
	return bpf_sk_redirect_map(skb, &sock_map, skb->local_port & 1023, 0);
}

SEC("socket")
int socket_counter(struct __sk_buff *skb)
{
	u32 proto = skb->protocol;
	struct flow_stat *st = bpf_map_lookup_elem(&proto_stats, &proto);

	if (st)
		__sync_fetch_and_add(&st->packets, 1);
	return skb->len;
}

SEC("cgroup/connect4")
int connect4(struct bpf_sock_addr *ctx)
{
	struct lpm_v4_key k = { .prefixlen = 32, .addr = ctx->user_ip4 };

	if (bpf_map_lookup_elem(&allow_v4, &k))
		return 1;
	return ctx->user_port == bpf_htons(9) ? 0 : 1;
}

SEC("cgroup/sock_create")
int sock_create(struct bpf_sock *sk)
{
	return sk->type == 3 /* SOCK_RAW */ && !nr_backends ? 0 : 1;
}

SEC("flow_dissector")
int dissect(struct __sk_buff *skb)
{
	struct bpf_flow_keys *keys = skb->flow_keys;
	void *data = (void *)(long)skb->data, *data_end = (void *)(long)skb->data_end;
	u32 nhoff = keys->nhoff & 0xff;
	struct iphdr *ip = data + nhoff;

	if ((void *)(ip + 1) > data_end)
		return BPF_DROP;
	keys->addr_proto = ETH_P_IP;
	keys->ipv4_src = ip->saddr;
	keys->ipv4_dst = ip->daddr;
	keys->ip_proto = ip->protocol;
	return BPF_OK;
}

SEC("kprobe/tcp_retransmit_skb")
int BPF_KPROBE(tcp_retransmit, struct sock *sk, struct sk_buff *skb)
{
	struct flow_key key = {};
	u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);

	key.family = family;
	if (family == AF_INET) {
		key.src.v4 = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		key.dst.v4 = BPF_CORE_READ(sk, __sk_common.skc_daddr);
	} else {
		BPF_CORE_READ_INTO(&key.src.v6, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr32);
		BPF_CORE_READ_INTO(&key.dst.v6, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr32);
	}
	key.sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	key.dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	key.proto = IPPROTO_TCP;
	return account(&key, BPF_CORE_READ(skb, len), BPF_CORE_READ(skb, dev, ifindex));
}

SEC("kprobe/__dev_queue_xmit")
int BPF_KPROBE(dev_queue_xmit, struct sk_buff *skb)
{
	struct net_device *dev = BPF_CORE_READ(skb, dev);
	int ifindex = BPF_CORE_READ(dev, ifindex);
	struct net_device *snap = bpf_map_lookup_elem(&devices, &ifindex);
	u64 cookie;

	if (snap)
		bpf_probe_read_kernel(snap, bpf_core_type_size(struct net_device), dev);
	if (bpf_core_field_exists(dev->nd_net))
		cookie = (u64)BPF_CORE_READ(dev, nd_net.net, net_cookie);
	else
		cookie = 0;
	if (cookie) {
		struct net *ns = bpf_map_lookup_elem(&namespaces, &cookie);

		if (ns)
			bpf_probe_read_kernel(ns, sizeof(*ns), BPF_CORE_READ(dev, nd_net.net));
	}
	return 0;
}

SEC("tp_btf/netif_receive_skb")
int BPF_PROG(netif_receive, struct sk_buff *skb)
{
	struct flow_stat *e;
	u32 len = skb->len;

	if (len < 64)
		return 0;
	e = bpf_ringbuf_reserve(&net_events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->bytes = len;
	e->ifindex = skb->dev ? skb->dev->ifindex : 0;
	e->first_seen = bpf_ktime_get_ns();
	if (bpf_core_type_exists(struct cgroup)) {
		u64 id = bpf_get_current_cgroup_id();
		struct cgroup *cg = bpf_map_lookup_elem(&cgroups, &id);

		e->flags = cg ? 1 : 0;
	}
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tracepoint/skb/kfree_skb")
int kfree_skb(struct trace_event_raw_kfree_skb *ctx)
{
	u32 reason = ctx->reason;
	struct flow_stat *st;

	if (reason > 255)
		reason = 255;
	st = bpf_map_lookup_elem(&proto_stats, &reason);
	if (st)
		st->packets++;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
