/**
 * The error CO-RE relocation throws where libbpf refuses to load: an access string that
 * does not fit its type, candidates that disagree, an instruction that does not hold the
 * value the compiler should have put there.
 *
 * @module
 */

import type { CoreRelo } from "./ext.ts";

/**
 * A CO-RE relocation that cannot be applied, not even by poisoning its instruction. The
 * message names the relocation (`CO-RE relocation #3: …`).
 */
export class CoreRelocationError extends Error {
  /** The relocation's number, in instruction order (as in the messages). */
  readonly index: number;
  /** The relocation record. */
  readonly relo: CoreRelo;

  /** Makes the error; `detail` says what is wrong. */
  constructor(index: number, relo: CoreRelo, detail: string, options?: ErrorOptions) {
    super(`CO-RE relocation #${index}: ${detail}`, options);
    this.name = "CoreRelocationError";
    this.index = index;
    this.relo = relo;
  }
}
