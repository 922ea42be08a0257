/**
 * The `maps` and `programs` records of a collection: reading a name it does not hold throws
 * an error that lists the names it does hold, instead of giving `undefined` that fails
 * later as "cannot read properties of undefined".
 *
 * @module
 */

/**
 * Names generic code reads on any object to ask what it is (thenables, JSON, test and UI
 * libraries): these stay `undefined` when absent, so that such code keeps working.
 */
const PROBED = new Set(["then", "toJSON", "asymmetricMatch", "$$typeof", "nodeType", "inspect"]);

/**
 * `record` behind a Proxy whose unknown string keys throw a `TypeError` naming the `what`s
 * that exist. `in`, `Object.keys`, iteration, JSON and `Deno.inspect` behave as on the plain
 * record; symbols and `Object.prototype` names pass through.
 */
export function namedRecord<T>(record: Record<string, T>, what: string): Record<string, T> {
  return new Proxy(record, {
    get(target, key, receiver) {
      if (typeof key === "symbol" || key in target || PROBED.has(key)) {
        return Reflect.get(target, key, receiver);
      }
      const names = Object.keys(target).map((n) => `"${n}"`);
      throw new TypeError(
        `The collection has no ${what} "${key}": ` +
          (names.length === 0 ? `it has no ${what}s` : `it has ${names.join(", ")}`),
      );
    },
  });
}
