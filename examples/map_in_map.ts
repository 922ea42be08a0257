// Map in map: an array of two inner arrays, one counter each; the program counts small
// packets in the first and large ones in the second. Runs the program with test packets.
// Run: sudo deno run -A examples/map_in_map.ts
import { BpfMap } from "../mod.ts";
import { loadMapInMap, loadMapInMapSpec } from "./map_in_map_bpf.ts";

// The inner maps are made from the template in the object's spec (`__array(values, …)`).
const template = loadMapInMapSpec().maps.by_size.innerMap!;
using small = BpfMap.create(template);
using large = BpfMap.create(template);
using objs = loadMapInMap();
objs.maps.by_size.update(0, small.fd);
objs.maps.by_size.update(1, large.fd);

const prog = objs.programs.count_by_size;
for (const size of [60, 60, 60, 1000, 1500]) prog.run({ data: new Uint8Array(size) });
console.log(`small packets: ${small.lookup(0)}, large packets: ${large.lookup(0)}`);
