/**
 * Running the commands under test: the repository root, and a command's success and its
 * output (stdout then stderr) as text.
 *
 * @module
 */

/** The repository root, with a trailing slash. */
export const root: string = new URL("../../", import.meta.url).pathname;

const dec = new TextDecoder();

/** Runs `cmd` in `cwd`; whether it succeeded, and its stdout and stderr together. */
export function command(cmd: string, args: string[], cwd = root): { ok: boolean; out: string } {
  const r = new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" }).outputSync();
  return { ok: r.success, out: dec.decode(r.stdout) + dec.decode(r.stderr) };
}

/** Runs this Deno with `args` in `cwd`. */
export function deno(args: string[], cwd = root): { ok: boolean; out: string } {
  return command(Deno.execPath(), args, cwd);
}
