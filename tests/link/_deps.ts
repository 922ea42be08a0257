// Re-exports the syscall layer and harness pieces the link tests use.
export { allocBuffer, Attr, BpfCmd, bpfErrno, cString, getpid, setBackend } from "../../ffi.ts";
export type { Backend } from "../../ffi.ts";
export {
  assertNoFdLeak,
  ensureBpffs,
  ensureTracefs,
  kernelTest,
  openFdCount,
  run,
} from "../_harness.ts";
