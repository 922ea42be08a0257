/**
 * Programs: loading BPF programs into the kernel, running them, and collections of them.
 *
 * @module
 */

export { ProgramType, programTypeName } from "./program_type.ts";
export { AttachType, attachTypeName } from "./attach_type.ts";
