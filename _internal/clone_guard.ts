/**
 * Objects that own a file descriptor refuse structured cloning (`postMessage` to a Worker,
 * `structuredClone`). A clone would copy only the plain fields: no fd, no methods, a plain
 * object that fails later with "lookup is not a function". JavaScript has no hook to
 * customise cloning; an own enumerable accessor is read by the cloner, so one that throws
 * makes the clone fail at once with a message that says what to do instead.
 *
 * @module
 */

/** How to hand over an object whose class has `releaseFd()` and a `fromFd`-like opener. */
export function handOverHint(release: string, open: string): string {
  return `post its fd instead, \`worker.postMessage(${release})\`, and open it in the ` +
    `worker with \`${open}(fd)\`, which then owns it (Workers share the process's descriptors)`;
}

/** The key of the guard: Deno's console shows it as `"(not structured-cloneable)": [Getter]`. */
const GUARD_KEY = "(not structured-cloneable)";

/**
 * Makes `target` (a `what`, such as "BpfMap") throw a TypeError when structured-cloned;
 * `instead` says how to hand it over (or that it cannot be).
 */
export function refuseStructuredClone(target: object, what: string, instead: string): void {
  if (Object.hasOwn(target, GUARD_KEY)) return; // a subclass of a guarded class
  const d = guardDescriptors(what, instead);
  Object.defineProperty(target, "toJSON", d.toJSON);
  Object.defineProperty(target, GUARD_KEY, d.guard);
}

interface GuardDescriptors {
  toJSON: PropertyDescriptor;
  guard: PropertyDescriptor;
}

/**
 * The two properties of a guarded `what`, made once per kind of object: every object of a
 * kind gets the same functions, which V8 keeps in the objects' shared shape (a program load
 * makes one guarded object).
 */
const descriptors = new Map<string, GuardDescriptors>();

function guardDescriptors(what: string, instead: string): GuardDescriptors {
  const key = `${what}\0${instead}`;
  let d = descriptors.get(key);
  if (d !== undefined) return d;
  d = {
    // JSON.stringify reads enumerable properties too: it keeps giving the plain fields.
    toJSON: {
      enumerable: false,
      configurable: true,
      writable: true,
      value: function toJSON(this: object) {
        return plainFields(this);
      },
    },
    guard: {
      enumerable: true,
      configurable: false,
      get(): never {
        throw new TypeError(
          `Cannot clone a ${what} (postMessage to a Worker, structuredClone): its file ` +
            `descriptor and methods would not arrive: ${instead}`,
        );
      },
    },
  };
  descriptors.set(key, d);
  return d;
}

/** The own enumerable data properties of `target`, without the guard. */
function plainFields(target: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, d] of Object.entries(Object.getOwnPropertyDescriptors(target))) {
    if (key !== GUARD_KEY && d.enumerable && "value" in d) out[key] = d.value;
  }
  return out;
}
