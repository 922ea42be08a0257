// tests/setup.ts installs what the tests run: every program a test starts is either in its
// list of requirements or part of every Debian and Ubuntu system (coreutils, util-linux, gzip,
// bash, grep, mount). A test that starts a new tool fails here until setup installs it.
import { assertEquals } from "@std/assert";
import { missingPackages, REQUIREMENTS } from "./setup.ts";

const root = new URL("..", import.meta.url).pathname;

/** Programs on every Debian/Ubuntu system (Essential and required packages). */
const BASE = new Set([
  "apt-cache",
  "apt-get",
  "bash",
  "cat",
  "dpkg-deb",
  "grep",
  "mount",
  "mountpoint",
  "nsenter",
  "zcat",
  "pwd",
  "setpriv",
  "sh",
  "true",
  "umount",
  "uname",
  "unshare",
  "yes",
]);

function* sources(dir: string): Generator<string> {
  for (const e of Deno.readDirSync(dir)) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory) yield* sources(path);
    else if (e.name.endsWith(".ts")) yield path;
  }
}

/** The programs tests start by name: `new Deno.Command("x"`, `run("x"`, `sh("x"`. */
function programsStarted(): Set<string> {
  const found = new Set<string>();
  const call = /\b(?:Command|run|sh)\(\s*"([A-Za-z0-9_./-]+)"/g;
  const tool = /"((?:clang|llvm-[a-z]+)-\d+)"/g;
  for (const file of sources(`${root}tests`)) {
    if (file.endsWith("/setup_test.ts")) continue; // its comments name examples
    const text = Deno.readTextFileSync(file);
    for (const m of text.matchAll(call)) found.add(m[1].replace(/^\/(usr\/)?bin\//, ""));
    for (const m of text.matchAll(tool)) found.add(m[1]);
  }
  return found;
}

Deno.test("setup: every program the tests start is installed by setup or always there", () => {
  const provided = new Set(REQUIREMENTS.flatMap((r) => r.commands ?? []));
  const started = programsStarted();
  const unknown = [...started].filter((p) =>
    !provided.has(p) && !BASE.has(p) && !p.includes("/") && !p.startsWith("-")
  );
  assertEquals(unknown, [], "add these to tests/setup.ts REQUIREMENTS");
  for (const p of ["bpftool", "clang-19", "gcc", "ip", "llvm-objdump-19"]) {
    assertEquals(started.has(p), true, `the scan finds ${p}`);
  }
});

Deno.test("setup: after `deno task test` set up this machine, nothing is missing", () => {
  assertEquals(missingPackages(), []);
});
