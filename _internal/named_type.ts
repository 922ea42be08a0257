/**
 * Infos the kernel reports (`MapInfo`, `ProgramInfo`) keep their `type` a number, so that
 * it compares with `MapType.Hash`; printed, they show that constant's name.
 *
 * @module
 */

const CUSTOM_INSPECT = Symbol.for("Deno.customInspect");

/**
 * Gives `info` a hidden inspect hook (not enumerable: JSON, `Object.keys` and spreading are
 * unchanged) that prints `type` as `MapType.Hash` instead of `1`.
 */
export function withNamedType<T extends { type: number }>(
  info: T,
  label: string,
  enumName: string,
  names: Readonly<Record<string, number>>,
): T {
  Object.defineProperty(info, CUSTOM_INSPECT, {
    enumerable: false,
    value(inspect: typeof Deno.inspect, options: Deno.InspectOptions): string {
      const name = Object.keys(names).find((k) => names[k] === info.type);
      const type = name === undefined ? `${enumName}(${info.type})` : `${enumName}.${name}`;
      const shown = { ...info, type: { [CUSTOM_INSPECT]: () => type } };
      return `${label} ${inspect(shown, options)}`;
    },
  });
  return info;
}
