// The floor for kept BTF objects in this V8: as many objects as decoding vmlinux keeps,
// each with only the fields the type API needs (a name, the id that typeId reads, the
// kind's own fields), every list an array of its exact length, and an array of every type
// by index. No strings: every name is the same "". Class instances, as the API's are: V8
// pretenures only allocation sites (object and array literals), and the same floor made of
// object literals measured 43–51 MiB over idle with the spec loaded, against these 47–48.
import { Kind, type Spec } from "../../btf/mod.ts";

// One class per field count, every field set in the constructor, in the same order.
class Type1 {
  constructor(public name: string, public id: number, public a: unknown) {}
}
class Type2 {
  constructor(public name: string, public id: number, public a: unknown, public b: unknown) {}
}
class Type3 {
  constructor(
    public name: string,
    public id: number,
    public a: unknown,
    public b: unknown,
    public c: unknown,
  ) {}
}
class Type4 {
  constructor(
    public name: string,
    public id: number,
    public a: unknown,
    public b: unknown,
    public c: unknown,
    public d: unknown,
  ) {}
}
class Member {
  constructor(
    public name: string,
    public type: unknown,
    public offset: number,
    public bitfieldSize: number,
  ) {}
}
class Pair {
  constructor(public name: string, public type: unknown) {}
}
class Secinfo {
  constructor(public type: unknown, public offset: number, public size: number) {}
}

/** The `info` word of every type of `spec` (kind and vlen), in id order. */
export function infoWords(spec: Spec): Uint32Array {
  const { words, offsets, count } = spec.raw;
  const info = new Uint32Array(count);
  for (let i = 0; i < count; i++) info[i] = words[offsets[i] + 1];
  return info;
}

/**
 * Allocates the floor's objects for types of these `info` words and returns them with the
 * number of list entries made (a checksum, so that nothing is optimized away).
 */
export function allocateFloor(info: Uint32Array): { objects: unknown[]; sum: number } {
  const count = info.length;
  const objects = new Array<unknown>(count);
  let sum = 0;
  for (let i = 0; i < count; i++) {
    const kind = (info[i] >>> 24) & 0x1f;
    const vlen = info[i] & 0xffff;
    let t: unknown;
    switch (kind) {
      case Kind.Struct:
      case Kind.Union: {
        const list = new Array<Member>(vlen);
        for (let j = 0; j < vlen; j++) list[j] = new Member("", objects[0], j, 0);
        sum += vlen;
        t = new Type2("", i, 0, list);
        break;
      }
      case Kind.Enum:
      case Kind.Enum64: {
        const list = new Array<Pair>(vlen);
        for (let j = 0; j < vlen; j++) list[j] = new Pair("", 0n);
        sum += vlen;
        t = new Type4("", i, 0, false, false, list);
        break;
      }
      case Kind.FuncProto: {
        const list = new Array<Pair>(vlen);
        for (let j = 0; j < vlen; j++) list[j] = new Pair("", objects[0]);
        sum += vlen;
        t = new Type2("", i, objects[0], list);
        break;
      }
      case Kind.Datasec: {
        const list = new Array<Secinfo>(vlen);
        for (let j = 0; j < vlen; j++) list[j] = new Secinfo(objects[0], 0, 0);
        sum += vlen;
        t = new Type2("", i, 0, list);
        break;
      }
      case Kind.Int:
        t = new Type4("", i, 0, 0, 0, 0);
        break;
      case Kind.Array:
        t = new Type3("", i, objects[0], objects[0], 0);
        break;
      case Kind.Func:
      case Kind.Var:
      case Kind.DeclTag:
        t = new Type2("", i, objects[0], 0);
        break;
      default:
        t = new Type1("", i, objects[0]);
    }
    objects[i] = t;
  }
  return { objects, sum };
}
