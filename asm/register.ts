/**
 * The eleven eBPF registers.
 *
 * @module
 */

/**
 * A register number: R0 holds return values, R1–R5 arguments, R6–R9 survive calls, and R10
 * is the read-only frame pointer.
 */
export type Register = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 | 10;

/** Return value of calls and of the program. */
export const R0: Register = 0;
/** First argument; the context pointer at program entry. */
export const R1: Register = 1;
/** Second argument. */
export const R2: Register = 2;
/** Third argument. */
export const R3: Register = 3;
/** Fourth argument. */
export const R4: Register = 4;
/** Fifth argument. */
export const R5: Register = 5;
/** Callee-saved. */
export const R6: Register = 6;
/** Callee-saved. */
export const R7: Register = 7;
/** Callee-saved. */
export const R8: Register = 8;
/** Callee-saved. */
export const R9: Register = 9;
/** The read-only frame pointer. */
export const R10: Register = 10;
/** The frame pointer: another name for R10. */
export const RFP: Register = R10;

/** The highest register number. */
export const MAX_REGISTER = 10;

/** Whether `value` is a register number (an integer from 0 to 10). */
export function isRegister(value: unknown): value is Register {
  return typeof value === "number" && (value >>> 0) === value && value <= MAX_REGISTER;
}

/** Throws a RangeError naming `what` unless `value` is a register number. */
export function checkRegister(value: unknown, what = "register"): Register {
  if (!isRegister(value)) {
    throw new RangeError(`Invalid ${what}: expected a register from 0 to 10, got ${value}`);
  }
  return value;
}

/** The name of a register: `r0`…`r10`, or `w0`…`w10` for its lower 32 bits. */
export function registerName(reg: Register, wide = true): string {
  return (wide ? "r" : "w") + reg;
}
