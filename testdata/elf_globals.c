// Global data in every section kind libbpf turns into a map: .data, .rodata, .bss and the
// named .data.*, .rodata.*, .bss.* sections, static and global variables, and a string
// literal (.rodata.str1.1). Two programs of different types read and write them.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

__u64 hits = 3;                                   // .data
static __u32 static_counter = 9;                  // .data, static
const volatile __u32 limit = 64;                  // .rodata
const volatile __u8 mode[4] = {1, 2, 3, 4};       // .rodata
__u64 dropped;                                    // .bss
static __u32 zeroed_static;                       // .bss, static
__u16 ports[3] SEC(".data.ports") = {80, 443, 8080};
const volatile __u64 magic SEC(".rodata.magic") = 0x1122334455667788ULL;
__u32 scratch[8] SEC(".bss.scratch");

SEC("socket")
int count_small(struct __sk_buff *skb)
{
	hits++;
	static_counter += 2;
	zeroed_static++;
	scratch[skb->len & 7] = skb->len;
	if (skb->len > limit + mode[skb->len & 3]) {
		dropped++;
		return 0;
	}
	return ports[skb->protocol % 3] == 443 ? skb->len : (int)(magic & 0xff);
}

SEC("xdp")
int xdp_pass_log(struct xdp_md *ctx)
{
	bpf_printk("xdp pass %u", (unsigned int)hits);
	dropped += static_counter;
	return XDP_PASS;
}

char __license[] SEC("license") = "GPL";
__u32 __version SEC("version") = 0x060c00;
