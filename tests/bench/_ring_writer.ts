// A socket filter that writes one record of `size` bytes to a ring buffer per test run, for
// the ring benches: records are produced with BPF_PROG_TEST_RUN's repeat, outside the timed
// part of each iteration. The reader tests' writer: every u64 of a record is the packet length.
export { wideRingWriter as ringWriter } from "../map/_writer_progs.ts";
