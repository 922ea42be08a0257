/**
 * Validation of enum-typed options at the API boundary. A misspelt member
 * (`AttachType.CgroupInetIngres`) is `undefined` at run time, and `undefined` written into an
 * attr is 0, which is often a valid value (BPF_CGROUP_INET_INGRESS): without this check the
 * call goes on with a hook the caller never named.
 *
 * @module
 */

/** The values of each enum checked so far: a program load checks two enums of ≈60 members. */
const allowedValues = new WeakMap<object, Set<unknown>>();

/**
 * Returns `value` when it is one of `allowed`'s values; otherwise a TypeError naming
 * `option` and the allowed members (as `enumName.Member`, or quoted values for string
 * unions when `enumName` is omitted).
 */
export function enumOption<V extends number | string>(
  value: unknown,
  option: string,
  allowed: Readonly<Record<string, V>>,
  enumName?: string,
): V {
  let values = allowedValues.get(allowed);
  if (values === undefined) allowedValues.set(allowed, values = new Set(Object.values(allowed)));
  if (values.has(value)) return value as V;
  const names = enumName === undefined
    ? [...new Set(Object.values(allowed))].map((v) => JSON.stringify(v))
    : Object.keys(allowed).map((k) => `${enumName}.${k}`);
  throw new TypeError(`Invalid ${option}: ${shown(value)}: expected one of ${names.join(", ")}`);
}

/** The members of `all` whose names `keep` accepts: the subset one call allows. */
export function enumSubset<V>(
  all: Readonly<Record<string, V>>,
  keep: (name: string) => boolean,
): Record<string, V> {
  return Object.fromEntries(Object.entries(all).filter(([name]) => keep(name)));
}

/** The same values as a record of themselves, for string unions (`"auto" | "link"`). */
export function choices<V extends string>(...values: V[]): Record<string, V> {
  return Object.fromEntries(values.map((v) => [v, v]));
}

function shown(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "bigint") return `${value}n`;
  if (value === null || typeof value !== "object") return String(value);
  return Object.prototype.toString.call(value);
}
