// bpf2ts --type's test program: a SEC("syscall") program, run with BPF_PROG_TEST_RUN, sends
// the `struct event` its arguments describe through a ring buffer, and the bindings' generated
// decodeEvent() must read it back as a typed object.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

enum event_kind { EVENT_OPEN = 1, EVENT_CLOSE = 2 };

struct event {
	__u32 pid;
	enum event_kind kind;
	__u64 bytes;
	char comm[8];
	struct {
		__s16 x;
		__s16 y;
	} at;
	__u16 flags[2];
};

// clang writes BTF only for types a global or a function uses: this makes `struct event`'s.
const struct event *unused_event __attribute__((unused));

struct args {
	__u32 pid;
	__u32 kind;
	__u64 bytes;
	__s16 x;
	__s16 y;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

SEC("syscall")
int send_event(struct args *a)
{
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 1;
	e->pid = a->pid;
	e->kind = a->kind;
	e->bytes = a->bytes;
	__builtin_memcpy(e->comm, "sender", 7);
	e->comm[7] = 0;
	e->at.x = a->x;
	e->at.y = a->y;
	e->flags[0] = 1;
	e->flags[1] = 2;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
