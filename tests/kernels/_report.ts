/**
 * Reads `deno test` output into per-file results, so that a run under another kernel can be
 * summarised: which tests passed, failed, and were skipped with what reason (the harness puts
 * the reason in the ignored test's name, `name [skipped: reason]`).
 *
 * @module
 */

/** One test file's results in a `deno test` run. */
export interface FileResult {
  file: string;
  passed: string[];
  failed: string[];
  /** Ignored tests: the name, and the reason the harness put in it (empty when none). */
  skipped: { name: string; reason: string }[];
}

/** What a whole `deno test` run reported. */
export interface RunReport {
  files: FileResult[];
  /** Deno's own totals from its summary line, or undefined when the run never got there. */
  summary?: { ok: boolean; passed: number; failed: number; ignored: number };
}

const RUNNING = /^running \d+ tests? from (\S+)/;
/** A top-level test's result line; steps are indented and not counted. */
const RESULT = /^(\S.*?) \.\.\. (ok|FAILED|ignored)(?: \(.*\))?$/;
const SUMMARY =
  /^(ok|FAILED) \| (\d+) passed(?: \(\d+ steps?\))? \| (\d+) failed(?: \(\d+ steps?\))?(?: \| (\d+) ignored)?/;
const SKIP_REASON = /^(.*) \[skipped: (.*)\]$/;

/** Parses `deno test` output (colours off: `NO_COLOR=1`). */
export function parseDenoTest(output: string): RunReport {
  const files: FileResult[] = [];
  let current: FileResult | undefined;
  let summary: RunReport["summary"];
  for (const raw of output.split("\n")) {
    const line = raw.replace(/\r$/, "");
    const running = RUNNING.exec(line);
    if (running) {
      current = { file: running[1], passed: [], failed: [], skipped: [] };
      files.push(current);
      continue;
    }
    const s = SUMMARY.exec(line);
    if (s) {
      summary = {
        ok: s[1] === "ok",
        passed: Number(s[2]),
        failed: Number(s[3]),
        ignored: Number(s[4] ?? 0),
      };
      current = undefined;
      continue;
    }
    const r = RESULT.exec(line);
    if (!r || !current) continue;
    const [, name, outcome] = r;
    if (outcome === "ok") current.passed.push(name);
    else if (outcome === "FAILED") current.failed.push(name);
    else {
      const m = SKIP_REASON.exec(name);
      current.skipped.push(m ? { name: m[1], reason: m[2] } : { name, reason: "" });
    }
  }
  return { files, summary };
}

/** A fixed-width table of per-file counts, with a total row. */
export function formatTable(report: RunReport): string {
  const rows = report.files.map((f) => [
    f.file.replace(/^\.\//, ""),
    String(f.passed.length),
    String(f.failed.length),
    String(f.skipped.length),
  ]);
  const sum = (i: number) => rows.reduce((n, r) => n + Number(r[i]), 0);
  rows.push(["total", String(sum(1)), String(sum(2)), String(sum(3))]);
  const head = ["file", "passed", "failed", "skipped"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const fmt = (r: string[]) =>
    r.map((c, i) => i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i])).join("  ");
  return [fmt(head), ...rows.map(fmt)].join("\n");
}

/**
 * Whether a skip reason names the kernel that has the feature ("Linux 6.6", "requires Linux
 * 6.4"): every skip should, so that a reader knows where the test does run.
 */
export function namesKernel(reason: string): boolean {
  return /\bLinux \d+\.\d+/.test(reason);
}
