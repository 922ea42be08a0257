/* A TCP congestion control as a `.struct_ops.link` map: registered by a bpf_link. */
#include "compat_struct_ops_cc.h"

SEC(".struct_ops.link")
struct tcp_congestion_ops my_cc = {
	.init = (void *)cc_init,
	.ssthresh = (void *)cc_ssthresh,
	.cong_avoid = (void *)cc_cong_avoid,
	.undo_cwnd = (void *)cc_undo_cwnd,
	.flags = TCP_CONG_NON_RESTRICTED,
	.name = "bpf_compat_cc",
};
