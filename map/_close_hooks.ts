/**
 * Hooks run when a handle closes, so that what depends on it (a ring or perf reader on a
 * map) can end its pending waits instead of waiting forever on a handle that is gone. Kept
 * outside the handle's class so that readers register without widening its public API.
 *
 * @module
 */

const hooks = new WeakMap<object, Set<() => void>>();

/** Runs `hook` once when `owner` closes; the returned function unregisters it. */
export function onClose(owner: object, hook: () => void): () => void {
  let set = hooks.get(owner);
  if (!set) hooks.set(owner, set = new Set());
  set.add(hook);
  return () => set.delete(hook);
}

/**
 * Runs and forgets the hooks of `owner`; called at the end of its `close()` (its fd is
 * closed by then: a hook that needs the object keeps its own dup). Every hook runs; the
 * first error is rethrown after them.
 */
export function runCloseHooks(owner: object): void {
  const set = hooks.get(owner);
  if (!set) return;
  hooks.delete(owner);
  let first: { error: unknown } | undefined;
  for (const hook of set) {
    try {
      hook();
    } catch (error) {
      first ??= { error };
    }
  }
  if (first) throw first.error;
}
