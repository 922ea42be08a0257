/**
 * `btf list`, `btf dump ID [--raw|--c]`: the BTF objects in the kernel as `bpftool btf`
 * shows them — which programs and maps use each — and one object's types, raw (bpftool's
 * `format raw`, the default) or as C declarations.
 *
 * @module
 */

import { BtfHandle, loadedBtf } from "../../btf/handle.ts";
import { formatC, formatRaw, loadKernelSpec, rawTypes, type Spec } from "../../btf/mod.ts";
import { loadedMaps } from "../../map/mod.ts";
import { loadedPrograms } from "../../prog/mod.ts";
import { type Options, type Output, parseId, UsageError } from "./command.ts";
import { withBases } from "../inspect.ts";
import { table } from "./output.ts";

/** One BTF object as `bpftool -j btf list` prints it. */
export interface BtfRecord {
  id: number;
  size: number;
  prog_ids: number[];
  map_ids: number[];
  kernel: boolean;
  name?: string;
}

/** `btf list`: every BTF object with the programs and maps that use it. */
export function btfList(): Output {
  const users = new Map<number, { prog_ids: number[]; map_ids: number[] }>();
  const of = (id: number) => {
    let u = users.get(id);
    if (u === undefined) users.set(id, u = { prog_ids: [], map_ids: [] });
    return u;
  };
  for (using prog of loadedPrograms()) {
    const { id, btfId } = prog.info();
    if (btfId !== 0) of(btfId).prog_ids.push(id);
  }
  for (using map of loadedMaps()) {
    const { id, btfId } = map.info();
    if (btfId !== 0) of(btfId).map_ids.push(id);
  }
  const records: BtfRecord[] = [];
  for (using btf of loadedBtf()) {
    const info = btf.info();
    const r: BtfRecord = { id: info.id, size: info.size, ...of(info.id), kernel: info.kernelBtf };
    if (info.name !== "") r.name = info.name;
    records.push(r);
  }
  return {
    json: records,
    text: () =>
      table(
        ["ID", "SIZE", "NAME", "KERNEL", "PROGS", "MAPS"],
        records.map((r) => [
          r.id,
          r.size,
          r.name,
          r.kernel ? "yes" : "no",
          r.prog_ids.join(",") || undefined,
          r.map_ids.join(",") || undefined,
        ]),
      ),
  };
}

/** The types of BTF object `id`; a kernel module's on top of vmlinux, as it was built. */
export function btfSpec(id: number): Spec {
  using handle = BtfHandle.fromId(id);
  const info = handle.info();
  const split = info.kernelBtf && info.name !== "vmlinux";
  return handle.spec(split ? loadKernelSpec() : undefined);
}

/** `btf dump ID`. */
export function btfDump(id: number, options: Options): Output {
  const spec = btfSpec(id);
  if (options.format === "c") {
    const c = formatC(withBases(spec));
    return { json: { c }, text: () => c.replace(/\n$/, "") };
  }
  return {
    json: { types: [...rawTypes(spec)] },
    text: () => formatRaw(spec).replace(/\n$/, ""),
  };
}

/** Runs `btf VERB …`. */
export function btf(verb: string | undefined, args: string[], options: Options): Output {
  switch (verb) {
    case undefined:
    case "list":
      return btfList();
    case "show":
      return btfList();
    case "dump":
      return btfDump(parseId(args, "BTF object"), options);
  }
  throw new UsageError(`Unknown command: 'btf ${verb}'`);
}
