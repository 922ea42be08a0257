/* The same TCP congestion control as a `.struct_ops` map (no link): registered by writing
 * its value, unregistered by deleting it. libbpf 1.1 loads these. */
#include "compat_struct_ops_cc.h"

SEC(".struct_ops")
struct tcp_congestion_ops legacy_cc = {
	.init = (void *)cc_init,
	.ssthresh = (void *)cc_ssthresh,
	.cong_avoid = (void *)cc_cong_avoid,
	.undo_cwnd = (void *)cc_undo_cwnd,
	.flags = TCP_CONG_NON_RESTRICTED,
	.name = "bpf_compat_ccl",
};
