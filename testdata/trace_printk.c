// bpf_printk output as trace_pipe shows it: one line per call, with the writer's task, pid
// and CPU in front of the message.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* Set by user space before a run: tells this run's line from anybody else's. */
volatile __u32 nonce;

SEC("syscall")
int say_hello(void *ctx)
{
	bpf_printk("ebpf trace_pipe test %u: hello, %d and %s", nonce, -7, "world");
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
