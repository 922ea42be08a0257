/**
 * `map list`, `map show ID`, `map dump ID`: the maps in the kernel as `bpftool map` shows
 * them, entries decoded through the map's BTF (the `formatted` part of bpftool's JSON) and
 * per-CPU values one per CPU.
 *
 * @module
 */

import { BpfMap, loadedMaps, type MapInfo, MapType } from "../../map/mod.ts";
import { isPerCPU } from "../../map/map_type.ts";
import type { Codec } from "../../map/codec.ts";
import { SyscallError } from "../../errors.ts";
import { mapFlagNames } from "../inspect.ts";
import { type Options, type Output, parseId, UsageError } from "./command.ts";
import { mapTypeName } from "./names.ts";
import { fields, hexList, table, toJson } from "./output.ts";

/** One map as `bpftool -j map show` prints it. */
export interface MapRecord {
  id: number;
  type: string | number;
  name: string;
  flags: number;
  bytes_key: number;
  bytes_value: number;
  max_entries: number;
  bytes_memlock?: number;
  frozen?: number;
  btf_id?: number;
  map_extra?: bigint;
}

/** The record of a map from what the kernel reports. */
export function mapRecord(info: MapInfo): MapRecord {
  const r: MapRecord = {
    id: info.id,
    type: mapTypeName(info.type),
    name: info.name,
    flags: info.flags,
    bytes_key: info.keySize,
    bytes_value: info.valueSize,
    max_entries: info.maxEntries,
  };
  if (info.memlock !== undefined) r.bytes_memlock = info.memlock;
  if (info.frozen !== undefined) r.frozen = info.frozen ? 1 : 0;
  if (info.btfId !== 0) r.btf_id = info.btfId;
  if (info.mapExtra !== 0n) r.map_extra = info.mapExtra;
  return r;
}

const HEADER = ["ID", "TYPE", "NAME", "KEY", "VALUE", "MAX", "FLAGS", "MEMLOCK", "FROZEN", "BTF"];

/** `map list`. */
export function mapList(): Output {
  const records: MapRecord[] = [];
  for (using map of loadedMaps()) records.push(mapRecord(map.info()));
  return {
    json: records,
    text: () =>
      table(
        HEADER,
        records.map((r) => [
          r.id,
          r.type,
          r.name,
          r.bytes_key,
          r.bytes_value,
          r.max_entries,
          mapFlagNames(r.flags),
          r.bytes_memlock,
          r.frozen === undefined ? undefined : r.frozen ? "yes" : "no",
          r.btf_id,
        ]),
      ),
  };
}

/** `map show ID`. */
export function mapShow(id: number): Output {
  using map = BpfMap.fromId(id);
  const r = mapRecord(map.info());
  return {
    json: r,
    text: () =>
      fields([
        ["id", r.id],
        ["type", r.type],
        ["name", r.name],
        ["flags", mapFlagNames(r.flags)],
        ["key bytes", r.bytes_key],
        ["value bytes", r.bytes_value],
        ["max entries", r.max_entries],
        ["memlock bytes", r.bytes_memlock],
        ["frozen", r.frozen === undefined ? undefined : r.frozen ? "yes" : "no"],
        ["btf id", r.btf_id],
        ["map_extra", r.map_extra],
      ]),
  };
}

/** Map types without keys to walk: their elements are popped, peeked or only tested. */
const KEYLESS: ReadonlySet<number> = new Set([
  MapType.Queue,
  MapType.Stack,
  MapType.RingBuf,
  MapType.UserRingbuf,
  MapType.BloomFilter,
]);

/** One entry as `bpftool -j map dump` prints it. */
export type EntryRecord =
  | { key: string[]; value: string[]; formatted?: { key: unknown; value: unknown } }
  /** A key whose value the kernel would not give (prog arrays, socket maps): bpftool's form. */
  | { key: string[]; value: { error: string } }
  | {
    key: string[];
    values: { cpu: number; value: string[] }[];
    formatted?: { key: unknown; values: { cpu: number; value: unknown }[] };
  };

function decode(codec: Codec | undefined, bytes: Uint8Array): unknown {
  if (codec === undefined) return undefined;
  return codec.decode(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), bytes, 0);
}

/** The entries of a map: raw bytes always, values decoded through its BTF when it has some. */
export function mapEntries(map: BpfMap): EntryRecord[] {
  if (KEYLESS.has(map.type)) {
    throw new TypeError(`Map type '${mapTypeName(map.type)}' has no keys to dump`);
  }
  const keyCodec = map.keyCodec;
  const valueCodec = map.valueCodec;
  const formatted = keyCodec !== undefined && valueCodec !== undefined;
  const perCpu = isPerCPU(map.type);
  const stride = (map.valueSize + 7) & ~7;
  const out: EntryRecord[] = [];
  for (const key of map.keyBytes()) {
    // An entry deleted between the key walk and the lookup is skipped, as bpftool does; one
    // the kernel will not show is listed with the reason.
    let value: Uint8Array | undefined;
    try {
      value = map.lookupBytes(key);
    } catch (e) {
      if (!(e instanceof SyscallError)) throw e;
      out.push({ key: hexList(key), value: { error: e.message } });
      continue;
    }
    if (value === undefined) continue;
    if (!perCpu) {
      const rec: EntryRecord = { key: hexList(key), value: hexList(value) };
      if (formatted) {
        rec.formatted = { key: decode(keyCodec, key), value: decode(valueCodec, value) };
      }
      out.push(rec);
      continue;
    }
    const cpus = Array.from(
      { length: value.length / stride },
      (_, cpu) => value.subarray(cpu * stride, cpu * stride + map.valueSize),
    );
    const rec: EntryRecord = {
      key: hexList(key),
      values: cpus.map((v, cpu) => ({ cpu, value: hexList(v) })),
    };
    if (formatted) {
      rec.formatted = {
        key: decode(keyCodec, key),
        values: cpus.map((v, cpu) => ({ cpu, value: decode(valueCodec, v) })),
      };
    }
    out.push(rec);
  }
  return out;
}

/** A decoded value on one line, in JSON syntax (bigints exact). */
const shown = (v: unknown) => toJson(v);

/** The entries as a table: decoded where the map has BTF, else bytes in hex. */
function entriesTable(entries: EntryRecord[]): string {
  const rows = entries.flatMap((e) => {
    if ("values" in e) {
      return e.values.map((v, i) => [
        i === 0 ? (e.formatted ? shown(e.formatted.key) : e.key.map(hex).join(" ")) : "",
        v.cpu,
        e.formatted ? shown(e.formatted.values[i].value) : v.value.map(hex).join(" "),
      ]);
    }
    const key = e.key.map(hex).join(" ");
    if (!Array.isArray(e.value)) return [[key, `(${e.value.error})`]];
    if (!("formatted" in e) || e.formatted === undefined) {
      return [[key, e.value.map(hex).join(" ")]];
    }
    return [[shown(e.formatted.key), shown(e.formatted.value)]];
  });
  const perCpu = entries.some((e) => "values" in e);
  const text = table(perCpu ? ["KEY", "CPU", "VALUE"] : ["KEY", "VALUE"], rows);
  return `${text}\n${entries.length} entr${entries.length === 1 ? "y" : "ies"}`;
}

const hex = (b: string) => b.slice(2);

/** `map dump ID`. */
export function mapDump(id: number): Output {
  using map = BpfMap.fromId(id);
  const entries = mapEntries(map);
  return { json: entries, text: () => entriesTable(entries) };
}

/** Runs `map VERB …`. */
export function map(verb: string | undefined, args: string[], _options: Options): Output {
  switch (verb) {
    case undefined:
    case "list":
      return mapList();
    case "show":
      return args.length === 0 ? mapList() : mapShow(parseId(args, "map"));
    case "dump":
      return mapDump(parseId(args, "map"));
  }
  throw new UsageError(`Unknown command: 'map ${verb}'`);
}
