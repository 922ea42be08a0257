/**
 * tracefs: event ids for tracepoints, and the legacy `kprobe_events`/`uprobe_events` files
 * used when the kernel has no kprobe or uprobe PMU.
 *
 * @module
 */

import { NotSupportedError } from "../errors.ts";
import { ensureMounted, TRACEFS } from "../_internal/mounts.ts";
import { readOptional } from "./_perf_event.ts";

const ROOTS = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];

/** What appends to tracefs control files; replaceable in tests. */
export type FileAppender = (path: string, text: string) => void;

let appender: FileAppender = (path, text) => Deno.writeTextFileSync(path, text, { append: true });

/** Replaces the tracefs writer; returns the restorer. */
export function setTracefsAppender(next: FileAppender): () => void {
  const previous = appender;
  appender = next;
  return () => {
    appender = previous;
  };
}

function mountedRoot(): string | undefined {
  for (const root of ROOTS) {
    if (readOptional(`${root}/available_events`) !== undefined) return root;
  }
  return undefined;
}

/**
 * The mounted tracefs root. When none is mounted, mounts tracefs at /sys/kernel/tracing if
 * this process may, and otherwise throws an error that gives the mount command.
 */
export function tracefsRoot(): string {
  const root = mountedRoot();
  if (root !== undefined) return root;
  ensureMounted(TRACEFS);
  const mounted = mountedRoot();
  if (mounted === undefined) {
    throw new NotSupportedError("tracefs", undefined, `nothing readable at ${TRACEFS.path}`);
  }
  return mounted;
}

const NAME = /^[A-Za-z0-9_.-]+$/;

/** Checks a tracefs group or event name (no path tricks). */
export function checkEventName(what: string, name: string): void {
  if (!NAME.test(name)) {
    throw new TypeError(`Invalid ${what}: "${name}": use letters, digits, '_', '.' or '-'`);
  }
}

/** The id of the tracefs event `group/name`, for `perf_event_attr.config`. */
export function eventId(group: string, name: string): number {
  checkEventName("tracepoint group", group);
  checkEventName("tracepoint name", name);
  const root = tracefsRoot();
  const text = readOptional(`${root}/events/${group}/${name}/id`);
  if (text === undefined) {
    throw new Deno.errors.NotFound(`Tracepoint "${group}/${name}" does not exist`);
  }
  const id = Number(text.trim());
  if (!Number.isInteger(id) || id < 0) {
    throw new SyntaxError(`Invalid tracefs event id of "${group}/${name}": "${text.trim()}"`);
  }
  return id;
}

let counter = 0;

/** A legacy probe event created through `kprobe_events` or `uprobe_events`. */
export interface TraceFsProbe {
  group: string;
  name: string;
  id: number;
  remove(): void;
}

/**
 * Creates a probe event by writing `definition` (without its `p:`/`r:` head) to
 * `<root>/<file>`, and returns its id and a remover. `kind` is `"p"` or `"r"`.
 */
export function createProbeEvent(
  file: "kprobe_events" | "uprobe_events",
  kind: "p" | "r",
  definition: string,
  feature: string,
): TraceFsProbe {
  const control = `${tracefsRoot()}/${file}`;
  if (readOptional(control) === undefined) {
    throw new NotSupportedError(feature, undefined, `no PMU and no tracefs ${file}`);
  }
  const group = `ebpf_deno_${Deno.pid}`;
  const name = `${kind}_${counter++}`;
  appender(control, `${kind}:${group}/${name} ${definition}\n`);
  let removed = false;
  const remove = () => {
    if (removed) return;
    removed = true;
    appender(control, `-:${group}/${name}\n`);
  };
  try {
    return { group, name, id: eventId(group, name), remove };
  } catch (e) {
    remove();
    throw e;
  }
}
