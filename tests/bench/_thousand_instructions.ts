// The program the Program.load benchmarks load: 1,000 ALU instructions in a socket filter,
// so the verifier's time is steady and the library's share is what varies.
import { asm, ProgramSpec, ProgramType } from "../../mod.ts";

export const INSTRUCTION_COUNT = 1000;

/** A new spec of INSTRUCTION_COUNT instructions, built from instruction objects each call. */
export function thousandInstructionSpec(): ProgramSpec {
  const { R0, Mov, Add, Return } = asm;
  const list = [Mov.Imm(R0, 0)];
  for (let i = 1; i < INSTRUCTION_COUNT - 1; i++) list.push(Add.Imm(R0, i & 7));
  list.push(Return());
  return new ProgramSpec({
    name: "bench",
    type: ProgramType.SocketFilter,
    license: "GPL",
    instructions: new asm.Instructions(list),
  });
}
