// Just enough loader for the asm kernel tests: raw bpf_attr calls through ffi.ts (prog/ and
// map/ do not exist yet). Programs come only from asm builders.
import { allocBuffer, Attr, bpf, BpfCmd, bpfErrno, closeFd, cString } from "../../ffi.ts";
import { errnoName } from "../../errors.ts";
import type { asm } from "../../mod.ts";

export const MapType = { HASH: 1, ARRAY: 2 } as const;
export const ProgType = { SOCKET_FILTER: 1 } as const;

/** A map fd owned by a test, usable as an asm map reference. */
export class TestMap implements asm.MapLike {
  readonly #fd: number;
  readonly name: string;
  readonly valueSize: number;

  constructor(type: number, keySize: number, valueSize: number, maxEntries: number, name = "m") {
    const attr = new Attr().u32(0, type).u32(4, keySize).u32(8, valueSize).u32(12, maxEntries);
    this.#fd = bpf(BpfCmd.MAP_CREATE, attr);
    this.name = name;
    this.valueSize = valueSize;
  }

  fd(): number {
    return this.#fd;
  }

  lookup(key: Uint8Array): Uint8Array | undefined {
    const value = allocBuffer(this.valueSize);
    const attr = new Attr().u32(0, this.#fd).pointer(8, key).pointer(16, value);
    return bpfErrno(BpfCmd.MAP_LOOKUP_ELEM, attr) < 0 ? undefined : value;
  }

  update(key: Uint8Array, value: Uint8Array): void {
    const attr = new Attr().u32(0, this.#fd).pointer(8, key).pointer(16, value);
    bpf(BpfCmd.MAP_UPDATE_ELEM, attr);
  }

  [Symbol.dispose](): void {
    closeFd(this.#fd);
  }
}

export function u32Key(n: number): Uint8Array {
  const b = allocBuffer(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
}

/** A loaded program. */
export class TestProgram {
  readonly fd: number;

  constructor(fd: number) {
    this.fd = fd;
  }

  /** BPF_PROG_TEST_RUN with `data` as the packet; returns the program's return value. */
  run(data: Uint8Array = allocBuffer(64)): number {
    const input = allocBuffer(data.length);
    input.set(data);
    const out = allocBuffer(data.length + 256);
    const attr = new Attr()
      .u32(0, this.fd)
      .u32(8, input.length)
      .u32(12, out.length)
      .pointer(16, input)
      .pointer(24, out)
      .u32(32, 1);
    bpf(BpfCmd.PROG_TEST_RUN, attr);
    return attr.getU32(4);
  }

  [Symbol.dispose](): void {
    closeFd(this.fd);
  }
}

/** The result of a load attempt: the fd, or the errno and verifier log. */
export function tryLoad(
  insns: asm.Instructions,
  type: number = ProgType.SOCKET_FILTER,
  logSize = 0,
): { fd: number; errno: number; log: string } {
  const bytes = insns.marshal("little");
  const buf = allocBuffer(bytes.length);
  buf.set(bytes);
  const log = allocBuffer(logSize);
  const attr = new Attr()
    .u32(0, type)
    .u32(4, bytes.length / 8)
    .pointer(8, buf)
    .pointer(16, cString("GPL"))
    .u32(24, logSize > 0 ? 1 : 0)
    .u32(28, logSize)
    .pointer(32, log);
  const r = bpfErrno(BpfCmd.PROG_LOAD, attr);
  const end = log.indexOf(0);
  const text = new TextDecoder().decode(log.subarray(0, end < 0 ? log.length : end));
  return { fd: r, errno: r < 0 ? -r : 0, log: text };
}

/** Loads a program; on failure throws with the verifier's log and our disassembly. */
export function load(insns: asm.Instructions, type: number = ProgType.SOCKET_FILTER): TestProgram {
  const first = tryLoad(insns, type);
  if (first.fd >= 0) return new TestProgram(first.fd);
  const again = tryLoad(insns, type, 1 << 22);
  if (again.fd >= 0) return new TestProgram(again.fd);
  const log = again.log.split("\n").slice(-30).join("\n");
  throw new Error(
    `BPF_PROG_LOAD failed: ${errnoName(again.errno)}\n${log}\n--- program ---\n${insns}`,
  );
}

/** Why the kernel rejects `insns` with EINVAL (an unknown instruction), or undefined. */
export function unsupported(insns: asm.Instructions, feature: string): string | undefined {
  const r = tryLoad(insns);
  if (r.fd >= 0) {
    closeFd(r.fd);
    return undefined;
  }
  return r.errno === 22 ? `kernel lacks ${feature}` : undefined;
}
