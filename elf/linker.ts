/**
 * Linking subprograms: each entry program gets a copy of every function it calls or takes
 * the address of, transitively, appended after its own code in the order libbpf appends
 * them (depth first, each callee right after the scan finds it), so that the code this
 * library loads matches what libbpf loads instruction for instruction.
 *
 * @module
 */

import { copy, type Instruction, isFunctionCall, isLoadOfFunctionPointer } from "../asm/mod.ts";
import { FormatError } from "../errors.ts";
import type { ElfFunction } from "./program_sections.ts";

/**
 * The instructions of `entry` followed by every subprogram it reaches, all copied. The
 * functions' instructions must be materialized (`materializeSections`).
 */
export function linkProgram(
  entry: ElfFunction,
  functions: ReadonlyMap<string, ElfFunction>,
): Instruction[] {
  const out: Instruction[] = [];
  const linked = new Set<string>([entry.name]);
  // An explicit stack of (function, next instruction to scan) instead of recursion, so
  // that a long call chain in a hostile object cannot overflow the JavaScript stack.
  const stack: { fn: ElfFunction; next: number }[] = [{ fn: entry, next: 0 }];
  append(out, entry);
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    const list = top.fn.instructions!;
    let pushed = false;
    while (top.next < list.length) {
      const ins = list[top.next++];
      const ref = ins.reference;
      if (ref === undefined || !(isFunctionCall(ins) || isLoadOfFunctionPointer(ins))) continue;
      if (linked.has(ref)) continue;
      const callee = functions.get(ref);
      if (callee === undefined) {
        throw new FormatError(`ELF: "${entry.name}" calls "${ref}", which is not a function`, 0);
      }
      linked.add(ref);
      append(out, callee);
      stack.push({ fn: callee, next: 0 });
      pushed = true;
      break;
    }
    if (!pushed) stack.pop();
  }
  return out;
}

function append(out: Instruction[], fn: ElfFunction): void {
  for (const ins of fn.instructions!) out.push(copy(ins));
}
