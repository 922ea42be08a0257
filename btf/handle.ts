/**
 * BTF in the kernel: `BPF_BTF_LOAD` into a handle that owns the fd, probes for the kinds the
 * running kernel knows, reading loaded BTF back, and mapping the kernel's own BTF. This is the only file of `btf/` that
 * reaches `ffi.ts`; `btf/mod.ts` does not export it, so the rest of the package stays
 * runnable without permissions.
 *
 * @module
 */

import {
  allocBuffer,
  Attr,
  bpf,
  BpfCmd,
  bpfErrno,
  bpfError,
  closeFd,
  libc,
  mmap,
  openFd,
} from "../ffi.ts";
import { HOST_BYTE_ORDER } from "../asm/mod.ts";
import { Errno, SyscallError } from "../errors.ts";
import { FD } from "../_internal/fd.ts";
import { feature } from "../_internal/feature.ts";
import { fdById, openEach, walkIds } from "../_internal/object_ids.ts";
import { Builder, type KernelCompat } from "./marshal.ts";
import { cachedKernelSpec } from "./load.ts";
import { parseSpec, Spec } from "./spec.ts";
import {
  Datasec,
  DeclTag,
  Enum,
  EnumValue,
  Float,
  Func,
  FuncProto,
  Int,
  Linkage,
  Pointer,
  type Type,
  TypeTag,
  Var,
  VarSecinfo,
} from "./types.ts";

/** Loads a blob and reports whether the kernel took it; closes the fd. */
function loads(types: Type[]): boolean {
  const b = new Builder();
  for (const t of types) b.add(t);
  const bytes = b.marshal({ byteOrder: HOST_BYTE_ORDER });
  const attr = new Attr().pointer(0, bytes).u32(16, bytes.length);
  const fd = bpfErrno(BpfCmd.BTF_LOAD, attr);
  if (fd >= 0) {
    new FD(fd, "BTF").close();
    return true;
  }
  return false;
}

const int = () => new Int("int", 4, 1);

/** A memoised probe: call it to require the feature, or ask `supported()`. */
export interface BtfFeatureProbe {
  (): void;
  /** The feature's name, such as `"BTF_KIND_ENUM64"`. */
  readonly feature: string;
  /** The first kernel version that has the feature. */
  readonly minKernel: string;
  /** Whether the running kernel has the feature; probes once per process. */
  supported(): boolean;
}

/**
 * Probes for what the running kernel's BTF loader accepts. Each runs once per process;
 * {@linkcode kernelCompat} turns the answers into writer options.
 */
export const btfFeatures: {
  /** `BPF_BTF_LOAD` itself (Linux 4.18). */
  readonly btf: BtfFeatureProbe;
  /** FUNC and FUNC_PROTO (Linux 5.0). */
  readonly funcs: BtfFeatureProbe;
  /** VAR and DATASEC (Linux 5.2). */
  readonly datasec: BtfFeatureProbe;
  /** Global FUNC linkage (Linux 5.6). */
  readonly globalFuncs: BtfFeatureProbe;
  /** FLOAT (Linux 5.13). */
  readonly float: BtfFeatureProbe;
  /** DECL_TAG (Linux 5.16). */
  readonly declTag: BtfFeatureProbe;
  /** TYPE_TAG (Linux 5.17). */
  readonly typeTag: BtfFeatureProbe;
  /** ENUM64 and signed enums (Linux 6.0). */
  readonly enum64: BtfFeatureProbe;
} = {
  btf: feature("BTF", "4.18", () => loads([int()])),
  funcs: feature("BTF_KIND_FUNC", "5.0", () => {
    return loads([new Func("probe", new FuncProto(int()), Linkage.Static)]);
  }),
  datasec: feature("BTF_KIND_DATASEC", "5.2", () => {
    const v = new Var("probe", int(), Linkage.Static);
    return loads([new Datasec(".data", 4, [new VarSecinfo(v, 0, 4)])]);
  }),
  globalFuncs: feature("BTF_FUNC_GLOBAL", "5.6", () => {
    return loads([new Func("probe", new FuncProto(int()), Linkage.Global)]);
  }),
  float: feature("BTF_KIND_FLOAT", "5.13", () => loads([new Float("float", 4)])),
  declTag: feature("BTF_KIND_DECL_TAG", "5.16", () => {
    const v = new Var("probe", int(), Linkage.Static);
    return loads([new DeclTag("tag", v, -1)]);
  }),
  typeTag: feature("BTF_KIND_TYPE_TAG", "5.17", () => {
    return loads([new Pointer(new TypeTag("tag", int()))]);
  }),
  enum64: feature("BTF_KIND_ENUM64", "6.0", () => {
    return loads([new Enum("probe", 8, [new EnumValue("PROBE", 1n << 40n)], false, true)]);
  }),
};

/**
 * Every kind the probes of {@linkcode btfFeatures} ask about, in one blob: a kernel that
 * takes it (any since 6.0) has them all, and one BTF load answers for the seven.
 */
const allProbedKinds = feature("BTF kinds up to ENUM64", "6.0", () => {
  const v = new Var("probe", int(), Linkage.Static);
  return loads([
    new Func("probe_static", new FuncProto(int()), Linkage.Static),
    new Func("probe_global", new FuncProto(int()), Linkage.Global),
    new Datasec(".data", 4, [new VarSecinfo(v, 0, 4)]),
    new Float("float", 4),
    new DeclTag("tag", v, -1),
    new Pointer(new TypeTag("tag", int())),
    new Enum("probe", 8, [new EnumValue("PROBE", 1n << 40n)], false, true),
  ]);
});

/** No kind replaced: the writer options for a kernel that has every probed kind. */
const NOTHING_REPLACED: KernelCompat = Object.freeze({
  replaceFuncs: false,
  replaceDatasec: false,
  stripFuncLinkage: false,
  replaceFloat: false,
  replaceDeclTags: false,
  replaceTypeTags: false,
  replaceEnum64: false,
});

/**
 * The writer options that make BTF acceptable to the running kernel: every kind it lacks
 * is replaced the way libbpf replaces it. A kernel that takes every kind at once is asked
 * nothing more; an older one, kind by kind.
 */
export function kernelCompat(): KernelCompat {
  if (allProbedKinds.supported()) return { ...NOTHING_REPLACED };
  return {
    replaceFuncs: !btfFeatures.funcs.supported(),
    replaceDatasec: !btfFeatures.datasec.supported(),
    stripFuncLinkage: !btfFeatures.globalFuncs.supported(),
    replaceFloat: !btfFeatures.float.supported(),
    replaceDeclTags: !btfFeatures.declTag.supported(),
    replaceTypeTags: !btfFeatures.typeTag.supported(),
    replaceEnum64: !btfFeatures.enum64.supported(),
  };
}

/** What the kernel says about a loaded BTF object (`struct bpf_btf_info`). */
export interface BtfInfo {
  /** The object's id. */
  id: number;
  /** The size of its raw BTF in bytes. */
  size: number;
  /** Its name: `"vmlinux"` or a module name for kernel BTF, `""` otherwise. */
  name: string;
  /** Whether this is the kernel's or a module's own BTF. */
  kernelBtf: boolean;
}

/** Options of {@linkcode BtfHandle.load}. */
export interface BtfLoadOptions {
  /** Writer options; by default those {@linkcode kernelCompat} gives. */
  compat?: KernelCompat;
  /** The size of the log buffer for the retry after a failure (at least 64 KiB). */
  logSize?: number;
}

const BTF_INFO_SIZE = 32;

/**
 * BTF loaded into the kernel with `BPF_BTF_LOAD`: the owner of its fd. Maps and programs
 * refer to it by fd. Closing it (or leaving a `using` scope) releases the fd.
 *
 * @example
 * ```ts ignore
 * import { btf, BtfHandle } from "@ebpf/ebpf";
 * using handle = BtfHandle.load(btf.loadSpec("prog.o"));
 * console.log(handle.info().id);
 * ```
 */
export class BtfHandle {
  readonly #fd: FD;
  readonly #builder: Builder | undefined;

  private constructor(fd: FD, builder?: Builder) {
    this.#fd = fd;
    this.#builder = builder;
  }

  /**
   * Writes types (a whole spec, or a list and what it references) and loads them. Kinds the
   * kernel lacks are replaced first (see {@linkcode kernelCompat}). Raw bytes are loaded
   * as they are. A rejection throws a {@linkcode SyscallError} that quotes the kernel's log.
   */
  static load(
    source: Spec | Iterable<Type> | Uint8Array,
    options: BtfLoadOptions = {},
  ): BtfHandle {
    if (source instanceof Uint8Array) return new BtfHandle(loadRaw(source, options.logSize));
    const builder = new Builder();
    for (const t of source instanceof Spec ? source.types() : source) builder.add(t);
    const bytes = builder.marshal({
      ...(options.compat ?? kernelCompat()),
      byteOrder: HOST_BYTE_ORDER,
    });
    return new BtfHandle(loadRaw(bytes, options.logSize), builder);
  }

  /** Opens the loaded BTF object with this id (`BPF_BTF_GET_FD_BY_ID`). */
  static fromId(id: number): BtfHandle {
    return new BtfHandle(new FD(fdById(BpfCmd.BTF_GET_FD_BY_ID, id, "BTF"), "BTF"));
  }

  /** The fd number; throws a ClosedError once the handle is closed. */
  get fd(): number {
    return this.#fd.raw;
  }

  /** Whether `close()` has been called. */
  get closed(): boolean {
    return this.#fd.closed;
  }

  /** The kernel's description of the object. */
  info(): BtfInfo {
    return this.#info(0).info;
  }

  /** The id of the type `type` got in this handle's BTF, when it was loaded from types. */
  typeId(type: Type): number | undefined {
    return this.#builder?.typeId(type);
  }

  /**
   * Reads the BTF back from the kernel and parses it; `base` is needed for module BTF.
   * For kernel BTF this is the same data `/sys/kernel/btf` holds.
   */
  spec(base?: Spec): Spec {
    const { info } = this.#info(0);
    const { bytes } = this.#info(info.size);
    return parseSpec(bytes, { base });
  }

  #info(btfSize: number): { info: BtfInfo; bytes: Uint8Array } {
    const buf = allocBuffer(BTF_INFO_SIZE);
    const bytes = allocBuffer(btfSize);
    const name = allocBuffer(64);
    // The info struct holds two more pointers. A scratch attr takes their addresses and
    // keeps both buffers referenced until the call below has returned.
    const holder = new Attr(16).pointer(0, bytes).pointer(8, name);
    const v = new DataView(buf.buffer);
    v.setBigUint64(0, holder.getU64(0), true);
    v.setUint32(8, btfSize, true);
    v.setBigUint64(16, holder.getU64(8), true);
    v.setUint32(24, name.length, true);
    const attr = new Attr().u32(0, this.#fd.raw).u32(4, BTF_INFO_SIZE).pointer(8, buf);
    bpf(BpfCmd.OBJ_GET_INFO_BY_FD, attr);
    holder.reset();
    const nameLen = v.getUint32(24, true);
    let end = 0;
    while (end < Math.min(nameLen, name.length) && name[end] !== 0) end++;
    return {
      info: {
        id: v.getUint32(12, true),
        size: v.getUint32(8, true),
        name: new TextDecoder().decode(name.subarray(0, end)),
        kernelBtf: v.getUint32(28, true) !== 0,
      },
      bytes,
    };
  }

  /** Closes the fd; a second call does nothing. */
  close(): void {
    this.#fd.close();
  }

  /** Closes the fd at the end of a `using` scope. */
  [Symbol.dispose](): void {
    this.close();
  }
}

function loadRaw(bytes: Uint8Array, logSize = 1 << 16): FD {
  // A copy in a fresh ArrayBuffer: its address is stable and it lives as long as the attr.
  const blob = allocBuffer(bytes.length);
  blob.set(bytes);
  const attr = new Attr().pointer(0, blob).u32(16, blob.length);
  const fd = bpfErrno(BpfCmd.BTF_LOAD, attr);
  if (fd >= 0) return new FD(fd, "BTF");
  const errno = -fd;
  if (errno === Errno.EPERM) throw bpfError(BpfCmd.BTF_LOAD, errno);
  // Only a failure pays for a log: load again with one to say why.
  const log = allocBuffer(Math.max(logSize, 1 << 16));
  attr.pointer(8, log).u32(20, log.length).u32(24, 1);
  const again = bpfErrno(BpfCmd.BTF_LOAD, attr);
  if (again >= 0) return new FD(again, "BTF");
  let end = log.indexOf(0);
  if (end < 0) end = log.length;
  // The kernel's BTF checker ends its log with the type it refused and why.
  const lines = new TextDecoder().decode(log.subarray(0, end)).trim().split("\n");
  const tail = lines[lines.length - 1].trim();
  throw bpfError(
    BpfCmd.BTF_LOAD,
    errno,
    undefined,
    tail === "" ? undefined : `the kernel's BTF check: ${tail}`,
  );
}

const VMLINUX_BTF = "/sys/kernel/btf/vmlinux";
const O_RDONLY = 0;
const PROT_READ = 1;
const MAP_PRIVATE = 2;

// Holds the address and length only: holding the ArrayBuffer would keep it alive forever.
const unmapWhenCollected = new FinalizationRegistry<
  { pointer: Deno.PointerObject; length: number }
>(
  ({ pointer, length }) => libc().munmap(pointer, BigInt(length)),
);

/**
 * Maps `/sys/kernel/btf/vmlinux` read-only, as libbpf 1.6 does, instead of reading it: no
 * copy is made (the pages are the kernel's own, so the process's memory does not grow by
 * the 5 MiB of BTF) and none of the 4 KiB reads sysfs serves one at a time. Returns
 * undefined when the kernel does not allow the mapping (before Linux 6.16) or has no BTF.
 * The mapping is released when the returned bytes are garbage collected.
 *
 * The memory is read-only: writing into the bytes, or into the `raw` tables of a spec
 * parsed from them, kills the process with SIGSEGV. Needs `--allow-all` (Deno opens `/sys`
 * under no narrower permission).
 */
export function mapKernelBtf(): Uint8Array | undefined {
  let size: number;
  try {
    size = Deno.statSync(VMLINUX_BTF).size;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
  if (size <= 0) return undefined;
  let fd: number;
  try {
    fd = openFd(VMLINUX_BTF, O_RDONLY);
  } catch (e) {
    if (e instanceof SyscallError) return undefined;
    throw e;
  }
  try {
    const m = mmap(size, PROT_READ, MAP_PRIVATE, fd);
    unmapWhenCollected.register(m.buffer, { pointer: m.pointer, length: m.length });
    return new Uint8Array(m.buffer);
  } catch (e) {
    // EACCES, EINVAL or ENODEV: a kernel whose sysfs file cannot be mapped.
    if (e instanceof SyscallError) return undefined;
    throw e;
  } finally {
    closeFd(fd);
  }
}

/**
 * The running kernel's BTF, like `loadKernelSpec` from `@ebpf/ebpf/btf` and sharing its
 * per-process cache, but mapped with {@linkcode mapKernelBtf} where the kernel allows it
 * (Linux 6.16+) and read otherwise. Parsing a mapping is twice as fast as reading the file
 * and keeps no private copy of it; the spec's `raw` tables are then read-only memory.
 *
 * @example
 * ```ts
 * import { mapKernelSpec } from "@ebpf/ebpf/btf/handle";
 * console.log(mapKernelSpec().typeByName("task_struct")?.kind); // "struct"
 * ```
 */
export function mapKernelSpec(): Spec {
  return cachedKernelSpec(mapKernelBtf);
}

/**
 * The ids of every BTF object in the kernel (`BPF_BTF_GET_NEXT_ID`), ascending: vmlinux,
 * kernel modules and what programs loaded. Lazy: ids are fetched as the loop asks for them.
 * Needs CAP_SYS_ADMIN (a `PermissionError` otherwise).
 *
 * @example
 * ```ts ignore
 * for (const id of btfIds()) console.log(id);
 * ```
 */
export function btfIds(): Generator<number, void, undefined> {
  return walkIds(BpfCmd.BTF_GET_NEXT_ID);
}

/**
 * Opens every BTF object in the kernel, in id order, skipping those freed while the walk
 * runs. Each handle belongs to the caller, who closes it (`using` does).
 *
 * @example
 * ```ts ignore
 * for (using btf of loadedBtf()) console.log(btf.info().name);
 * ```
 */
export function loadedBtf(): Generator<BtfHandle, void, undefined> {
  return openEach(btfIds(), BtfHandle.fromId);
}
