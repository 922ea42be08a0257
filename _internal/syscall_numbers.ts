/**
 * System call numbers per architecture. The numbers differ between x86_64 and aarch64, so
 * they come from this table, never from literals at the call site.
 *
 * @module
 */

/** The system calls the library makes through `syscall(2)`. */
export interface SyscallNumbers {
  bpf: number;
  close: number;
  perf_event_open: number;
  capget: number;
  gettid: number;
  memfd_create: number;
  pidfd_open: number;
}

const TABLES: Record<string, SyscallNumbers> = {
  // arch/x86/entry/syscalls/syscall_64.tbl
  x86_64: {
    bpf: 321,
    close: 3,
    perf_event_open: 298,
    capget: 125,
    gettid: 186,
    memfd_create: 319,
    pidfd_open: 434,
  },
  // include/uapi/asm-generic/unistd.h
  aarch64: {
    bpf: 280,
    close: 57,
    perf_event_open: 241,
    capget: 90,
    gettid: 178,
    memfd_create: 279,
    pidfd_open: 434,
  },
};

/** The syscall numbers of `arch`, or undefined when the library does not know the arch. */
export function syscallNumbersFor(arch: string): SyscallNumbers | undefined {
  return TABLES[arch];
}
