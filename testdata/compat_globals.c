// variants: nobtf
// Global variables written the way libbpf-bootstrap's minimal.c and bootstrap.c write them:
// a pid filter user space sets after load, a `const volatile` setting fixed at load, counters
// in .bss and a struct in .data. A syscall program, run from user space with BPF_PROG_TEST_RUN,
// plays the event: its context carries the caller's pid and the event's duration.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

int my_pid = 0;                                       // .bss (minimal.c)
const volatile unsigned long long min_duration_ns = 0; // .rodata (bootstrap.c)
unsigned long long events_seen = 0;                   // .bss: every run
unsigned long long events_counted = 0;                // .bss: runs that passed the filters
short last_pid = -1;                                  // .data: an odd size and offset

struct settings {
	unsigned int scale;
	unsigned int bias;
	char tag[8];
};

struct settings settings = { .scale = 2, .bias = 1, .tag = "init" }; // .data

struct event {
	int pid;
	unsigned int pad;
	unsigned long long duration_ns;
};

SEC("syscall")
int handle_event(struct event *e)
{
	__sync_fetch_and_add(&events_seen, 1);
	last_pid = e->pid;
	if (my_pid && e->pid != my_pid)
		return 0;
	if (e->duration_ns < min_duration_ns)
		return 0;
	__sync_fetch_and_add(&events_counted, 1);
	return e->pid * settings.scale + settings.bias + settings.tag[0];
}
