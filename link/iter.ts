/**
 * Iterators (`BPF_LINK_TYPE_ITER`): a `tracing` program of attach type `iter/…` made into a
 * link, from which BPF_ITER_CREATE opens readable files: each read runs the program over
 * kernel objects (tasks, maps, map elements, …) and returns what it printed.
 *
 * @module
 */

import { allocBuffer, Attr, bpf, BpfCmd, readFd } from "../ffi.ts";
import { FD } from "../_internal/fd.ts";
import { Errno } from "../errors.ts";
import { AttachType } from "../prog/attach_type.ts";
import type { Program } from "../prog/program.ts";
import { ProgramType, programTypeName } from "../prog/program_type.ts";
import type { BpfMap } from "../map/bpf_map.ts";
import { LinkCreate, linkCreate } from "./_link_create.ts";
import { RawLink } from "./link.ts";

/** One pass of an iterator: a file whose reads run the program. */
export class IterReader implements Disposable {
  readonly #fd: FD;

  /** Takes ownership of `fd`, from BPF_ITER_CREATE. */
  constructor(fd: number) {
    this.#fd = new FD(fd, "iterator");
  }

  /** Reads the next chunk into `buffer`; returns the byte count, 0 at the end. */
  read(buffer: Uint8Array): number {
    for (;;) {
      const n = readFd(this.#fd.raw, buffer);
      if (n === -Errno.EINTR || n === -Errno.EAGAIN) continue;
      return n;
    }
  }

  /** Reads to the end and returns every byte. */
  readAll(): Uint8Array {
    const chunks: Uint8Array[] = [];
    let total = 0;
    const buf = allocBuffer(1 << 16);
    for (;;) {
      const n = this.read(buf);
      if (n === 0) break;
      chunks.push(buf.slice(0, n));
      total += n;
    }
    const out = new Uint8Array(total);
    let at = 0;
    for (const c of chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }

  /** Reads to the end and decodes the output as UTF-8. */
  text(): string {
    return new TextDecoder().decode(this.readAll());
  }

  /** The output as a stream of chunks; the reader closes at the end of the stream. */
  stream(chunkSize = 1 << 16): ReadableStream<Uint8Array> {
    const buf = allocBuffer(chunkSize);
    return new ReadableStream<Uint8Array>({
      pull: (controller) => {
        const n = this.read(buf);
        if (n === 0) {
          this.close();
          controller.close();
        } else controller.enqueue(buf.slice(0, n));
      },
      cancel: () => this.close(),
    });
  }

  /** Closes the file. */
  close(): void {
    this.#fd.close();
  }

  /** Same as close, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/** An iterator program made into a link; {@linkcode IterLink.open} starts a pass. */
export class IterLink extends RawLink {
  /** Opens a new pass over the objects (BPF_ITER_CREATE). */
  open(): IterReader {
    const attr = new Attr().u32(0, this.fd);
    return new IterReader(bpf(BpfCmd.ITER_CREATE, attr));
  }

  /** Runs one whole pass and returns its output as text. */
  text(): string {
    using reader = this.open();
    return reader.text();
  }
}

const scratch = new Attr();

/** Options of {@linkcode attachIter}: what the iterator walks (bpf_iter_link_info). */
export interface IterOptions {
  /** For map element iterators (`iter/bpf_map_elem`, `iter/sockmap`…): the map. */
  map?: BpfMap;
  /** For task iterators: only this thread … */
  tid?: number;
  /** … or only the threads of this process. */
  pid?: number;
}

/**
 * Makes a link of an iterator program (a `tracing` program loaded with
 * `AttachType.TraceIter` and its `iter/<target>` BTF id).
 *
 * @example
 * ```ts ignore
 * using it = attachIter(prog);
 * console.log(it.text());
 * ```
 */
export function attachIter(program: Program, options: IterOptions = {}): IterLink {
  if (program.type !== ProgramType.Tracing) {
    throw new TypeError(
      `Cannot make an iterator of ${programTypeName(program.type)}: use a tracing program`,
    );
  }
  if (options.tid !== undefined && options.pid !== undefined) {
    throw new TypeError("Give tid or pid, not both");
  }
  // One attr for every call (FFI_NOTES rule 2): an ArrayBuffer costs more than the syscall.
  const attr = scratch.reset()
    .u32(LinkCreate.progFd, program.fd)
    .u32(LinkCreate.attachType, AttachType.TraceIter);
  if (options.map || options.tid !== undefined || options.pid !== undefined) {
    const info = allocBuffer(16);
    const v = new DataView(info.buffer);
    if (options.map) v.setUint32(0, options.map.fd, true);
    if (options.tid !== undefined) v.setUint32(0, options.tid, true);
    if (options.pid !== undefined) v.setUint32(4, options.pid, true);
    attr.pointer(LinkCreate.union, info).u32(LinkCreate.union + 8, info.length);
  }
  const fd = linkCreate(attr, "BPF iterator link", "5.8");
  attr.reset();
  return new IterLink(fd);
}
