// The hostile-file corpus (test/fixtures/hostile/, plus large files and FIFOs made here) through
// `firebreak check-config` as a process: each case must exit 0 or 2 within a time bound, with
// the expected message and no stack trace (issue 9: "every bad file is refused, never crashes or
// hangs"). Needs the build (`npx tsc -p tsconfig.json`); npm test builds first.
import { execFileSync } from "node:child_process";
import { cp, mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { spawnCli } from "../support/daemon-process.js";

/** Per case. An unloaded run takes about half a second; the bound is for a busy 2-core machine. */
const CASE_BOUND_MS = 30_000;

interface Case {
  /** File name in the work directory, or an absolute path (`/dev/urandom`). */
  readonly file: string;
  readonly code: 0 | 2;
  /** Text the output must contain (stderr for refusals and warnings). */
  readonly says?: string;
}

const cases: readonly Case[] = [
  { file: "base-valid.yaml", code: 0 },
  { file: "aliases-101.yaml", code: 0 },
  { file: "alias-unresolved.yaml", code: 2, says: "alias-unresolved.yaml:9:51 (document): alias *nowhere has no anchor &nowhere before it" },
  { file: "alias-self.yaml", code: 2, says: "alias *loop is inside its own anchor &loop" },
  { file: "alias-bomb.yaml", code: 2, says: "aliases expand to more than 200000 nodes" },
  { file: "aliases-10001.yaml", code: 2, says: "aliases-10001.yaml:10:40005 (document): more than 10000 aliases" },
  { file: "syntax-error.yaml", code: 2, says: "syntax-error.yaml:7:1 (document): Flow map in block collection must be sufficiently indented" },
  { file: "duplicate-key.yaml", code: 2, says: 'duplicate-key.yaml:10:1 (document): key "site" appears twice in this map (first at line 2:1)' },
  { file: "two-documents.yaml", code: 2, says: "a config is one YAML document" },
  { file: "empty-file.yaml", code: 2, says: "the file is empty" },
  { file: "scalar-document.yaml", code: 2, says: "expected object, received string" },
  { file: "sequence-document.yaml", code: 2, says: "expected object, received array" },
  { file: "wrong-types.yaml", code: 2, says: "site: Invalid input: expected string, received number" },
  { file: "tags.yaml", code: 2, says: 'unknown key "x"' },
  { file: "inf-nan.yaml", code: 2, says: "rules[0].levels[0].value: Invalid input: expected number, received Infinity" },
  { file: "not-utf8.yaml", code: 2, says: "it is not UTF-8 text" },
  { file: "on-delay-1e20.yaml", code: 2, says: "rules[0].on_delay_s: must be at most 86400 s" },
  { file: "rate-9e15.yaml", code: 2, says: "rules[0].rate_per_min: must be at most 1000000 per minute" },
  { file: "baseline-1e308.yaml", code: 2, says: "rules[0].baseline_ppm: must be at most 1000000 ppm" },
  { file: "glob-many-stars.yaml", code: 2, says: "matches no point" },
  { file: "glob-100k.yaml", code: 2, says: "rules[0].points[0]: a point glob is at most 256 characters" },
  { file: "keys-40k.yaml", code: 2, says: "and 39980 more unknown keys in this map" },
  { file: "keys-200k.yaml", code: 2, says: "the limit for this file is 1048576 bytes" },
  { file: "duplicates-50k.yaml", code: 2, says: "more problems not listed" },
  { file: "deep-100k.yaml", code: 2, says: "nesting too deep for the YAML parser" },
  { file: "deep-200.yaml", code: 2, says: "nesting is deeper than 64 levels" },
  { file: "password-urandom.yaml", code: 2, says: "mqtt.password_file: cannot read /dev/urandom: it is a character device, not a regular file" },
  { file: "ca-urandom.yaml", code: 2, says: "mqtt.ca_file: cannot read /dev/urandom: it is a character device, not a regular file" },
  { file: "password-fifo.yaml", code: 2, says: "mqtt.password_file: cannot read fifo.pw: it is a FIFO (named pipe), not a regular file" },
  { file: "password-empty.yaml", code: 2, says: "mqtt.password_file: empty.pw is empty; put the password in it" },
  { file: "password-whitespace.yaml", code: 2, says: "whitespace.pw is empty (only whitespace)" },
  { file: "key-is-directory.yaml", code: 2, says: "mqtt.cert_file: cannot read ../hostile: it is a directory, not a regular file" },
  { file: "mqtt-plaintext-password.yaml", code: 2, says: "the password would cross the network in clear text. Use mqtts://host:8883" },
  { file: "mqtt-plaintext-ca.yaml", code: 2, says: "TLS files are ignored without TLS. Use mqtts://" },
  { file: "mqtt-plaintext-allowed.yaml", code: 0, says: "warning: " },
  { file: "profiles-dir-dev.yaml", code: 2, says: 'unknown profile "room-sensor"' },
  { file: "profiles-dir-fifo.yaml", code: 2, says: "x.yaml (a profile): it is a FIFO (named pipe), not a regular file" },
  { file: "config-fifo.yaml", code: 2, says: "it is a FIFO (named pipe), not a regular file" },
  { file: "/dev/urandom", code: 2, says: "cannot read /dev/urandom: it is a character device, not a regular file" },
  { file: "fifo-profiles", code: 2, says: "it is a directory, not a regular file" },
];

let dir = "";

beforeAll(async () => {
  dir = join(await mkdtemp(join(tmpdir(), "fb-hostile-")), "hostile");
  await cp("test/fixtures/hostile", dir, { recursive: true });
  // Cases that cannot live in git: FIFOs, and files too big to keep there.
  execFileSync("mkfifo", [join(dir, "fifo.pw"), join(dir, "config-fifo.yaml")]);
  await mkdir(join(dir, "fifo-profiles"));
  await cp("config/profiles/room-sensor.yaml", join(dir, "fifo-profiles", "room-sensor.yaml"));
  execFileSync("mkfifo", [join(dir, "fifo-profiles", "x.yaml")]);
  const base = await readFile(join(dir, "base-valid.yaml"), "utf8");
  const keys = (n: number, k: (i: number) => string) => base + Array.from({ length: n }, (_, i) => `${k(i)}: 1\n`).join("");
  await writeFile(join(dir, "keys-40k.yaml"), keys(40_000, (i) => `k${i}`));
  await writeFile(join(dir, "keys-200k.yaml"), keys(200_000, (i) => `k${i}`));
  await writeFile(join(dir, "duplicates-50k.yaml"), keys(50_000, () => "k"));
  await writeFile(join(dir, "aliases-10001.yaml"), `${base}x: &A 1\ny: [${Array.from({ length: 10_001 }, () => "*A").join(", ")}]\n`);
  await writeFile(join(dir, "glob-100k.yaml"), base.replace("points: [room1/tempC]", `points: ["${"a*".repeat(50_000)}"]`));
  await writeFile(join(dir, "deep-100k.yaml"), `${base}x: ${"[".repeat(100_000)}${"]".repeat(100_000)}\n`);
  await writeFile(join(dir, "deep-200.yaml"), `${base}x: ${"[".repeat(200)}${"]".repeat(200)}\n`);
}, 60_000);

function checkConfig(file: string): Promise<{ code: number | null; signal: string | null; out: string; ms: number }> {
  const started = performance.now();
  const child = spawnCli(["check-config", "-c", file]);
  let out = "";
  child.stdout?.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr?.on("data", (b: Buffer) => (out += b.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), CASE_BOUND_MS);
  return new Promise((resolve) =>
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, out, ms: performance.now() - started });
    }),
  );
}

/** A JavaScript stack frame, as Node prints an uncaught error. */
const STACK = /^\s+at .+(:\d+:\d+\)?|\(native\))$/m;

describe("hostile config files through check-config", () => {
  it(`every case exits 0 or 2 within ${CASE_BOUND_MS / 1000} s, says why, and prints no stack`, async () => {
    const results: { c: Case; code: number | null; signal: string | null; out: string; ms: number }[] = [];
    // Two at a time: the machine has two cores.
    const queue = [...cases];
    const worker = async () => {
      for (let c = queue.shift(); c !== undefined; c = queue.shift()) results.push({ c, ...(await checkConfig(c.file.startsWith("/") ? c.file : join(dir, c.file))) });
    };
    await Promise.all([worker(), worker()]);
    const failures = results.filter((r) => r.code !== r.c.code || r.signal !== null || STACK.test(r.out) || (r.c.says !== undefined && !r.out.includes(r.c.says)));
    const slowest = results.reduce((a, b) => (b.ms > a.ms ? b : a));
    console.info(`hostile corpus: ${results.length} cases, ${results.filter((r) => r.code === 0).length} exit 0, ${results.filter((r) => r.code === 2).length} exit 2, ${failures.length} failed; slowest ${slowest.c.file} ${Math.round(slowest.ms)} ms`);
    expect(failures.map((f) => `${f.c.file}: exit ${f.code} signal ${f.signal} after ${Math.round(f.ms)} ms, expected ${f.c.code}${f.c.says ? ` with "${f.c.says}"` : ""}:\n${f.out.slice(0, 600)}`)).toEqual([]);
    expect(results).toHaveLength(cases.length);
  }, 600_000);
});
