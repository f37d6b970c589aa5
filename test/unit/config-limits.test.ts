// The config loader's limits: every bad file is refused with a located ConfigError, in bounded
// time, never a crash or a hang (issue 9). The hostile corpus through the CLI is in
// test/integration/config-hostile.test.ts; the fast-check fuzz in ./config-fuzz.test.ts.
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { readConfigFile } from "../../src/config/config-file.js";
import { loadSiteConfig } from "../../src/config/load.js";
import { matchPoints, PointGlob } from "../../src/config/point-glob.js";
import { readSecretFile } from "../../src/config/secret-files.js";
import { MAX_ALIASES } from "../../src/config/yaml-limits.js";
import { YamlSource } from "../../src/config/yaml-source.js";
import { configIssues } from "../support/config-issues.js";

const base = await readFile("test/fixtures/hostile/base-valid.yaml", "utf8");

async function siteFile(text: string, extra: Record<string, string> = {}): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "fb-limits-"));
  for (const [name, content] of Object.entries(extra)) await writeFile(join(dir, name), content);
  const file = join(dir, "site.yaml");
  await writeFile(file, text);
  return file;
}

const issuesOf = (file: string): Promise<string[]> => configIssues(file, { positions: true });

describe("YAML errors are located", () => {
  it.each([
    ["a: 1\nb: {x: 1,, }\n", "2:10", "Unexpected , in flow map"],
    ["a: 1\nb: @x\n", "2:4", "Plain value cannot start with reserved character @"],
    ["a: 1\nb:\n\t- 1\n", "3:1", "Tabs are not allowed as indentation"],
    ['a: 1\nb: "abc\nc: 2\n', "4:1", 'Missing closing "quote'],
  ])("%j at %s", (text, at, message) => {
    const { issues } = YamlSource.parse("f.yaml", text);
    expect(issues.map((i) => `${i.line}:${i.column} ${i.message}`)).toContain(`${at} ${message}`);
  });

  it("an unresolved alias is refused where it is used", async () => {
    const file = await siteFile(base.replace("points: [room1/tempC]", "points: *nowhere"));
    expect(await issuesOf(file)).toEqual(["8:51 : alias *nowhere has no anchor &nowhere before it; define the anchor first"]);
  });

  it(`allows ${MAX_ALIASES} aliases and refuses the next one, located`, async () => {
    const uses = (n: number) => `${base}x-anchor: &A 1\nx-uses: [${Array.from({ length: n }, () => "*A").join(", ")}]\n`;
    // At the limit the aliases are fine; the only problem left is the unknown keys.
    expect((await issuesOf(await siteFile(uses(MAX_ALIASES)))).every((i) => i.includes("unknown key"))).toBe(true);
    const over = await issuesOf(await siteFile(uses(MAX_ALIASES + 1)));
    expect(over).toEqual([`10:${10 + 4 * MAX_ALIASES} : more than ${MAX_ALIASES} aliases (*name); write the repeated part out, or split the file`]);
  });

  it("refuses a billion-laughs file and an alias inside its own anchor", async () => {
    let bomb = `${base}x0: &a0 [lol]\n`;
    for (let i = 1; i < 10; i++) bomb += `x${i}: &a${i} [${Array.from({ length: 10 }, () => `*a${i - 1}`).join(", ")}]\n`;
    expect((await issuesOf(await siteFile(bomb)))[0]).toMatch(/^1[0-9]:\d+ : aliases expand to more than 200000 nodes/);
    expect(await issuesOf(await siteFile(`${base}log: &loop { level: *loop }\n`))).toEqual(["9:21 : alias *loop is inside its own anchor &loop, which makes an endless structure"]);
  });

  it("refuses a duplicate key at the second one", async () => {
    expect(await issuesOf(await siteFile(`${base}site: h2\n`))).toEqual(['9:1 : key "site" appears twice in this map (first at line 1:1); keys are unique']);
  });

  it("refuses deep nesting with a message, not a stack overflow", async () => {
    const issues = await issuesOf(await siteFile(`${base}x: ${"[".repeat(100_000)}${"]".repeat(100_000)}\n`));
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatch(/^9:\d+ : nesting too deep for the YAML parser/);
    expect(await issuesOf(await siteFile(`${base}x: ${"[".repeat(100)}${"]".repeat(100)}\n`))).toEqual(["9:68 : nesting is deeper than 64 levels; a site config needs fewer than 10"]);
  });
});

describe("unknown keys and long lists", () => {
  it("lists the first 20 unknown keys of a map and counts the rest, in linear time", async () => {
    const keys = (n: number) => base + Array.from({ length: n }, (_, i) => `k${i}: 1\n`).join("");
    const small = await siteFile(keys(5_000));
    const big = await siteFile(keys(50_000));
    const t0 = performance.now();
    const a = await issuesOf(small);
    const t1 = performance.now();
    const b = await issuesOf(big);
    const t2 = performance.now();
    expect(a).toHaveLength(21);
    expect(a[0]).toBe('9:1 k0: unknown key "k0"; check its spelling against the README\'s config reference');
    expect(b.at(-1)).toBe("1:1 : and 49980 more unknown keys in this map");
    // Ten times the keys: well under a hundred times the time (the old loader was quadratic).
    expect(t2 - t1).toBeLessThan(30 * Math.max(t1 - t0, 20));
  }, 120_000);

  it("caps a flood of problems at 100 and counts the rest", async () => {
    const text = base.replace(/^rules:\n.*$/m, `rules:\n${Array.from({ length: 500 }, (_, i) => `  - { id: r${i}, kind: threshold, zone: z1, points: [room1/tempC], levels: [{ name: high, value: x, stage: watch }] }`).join("\n")}`);
    const issues = await issuesOf(await siteFile(text));
    expect(issues).toHaveLength(101);
    expect(issues[100]).toBe("1:1 : and 400 more problems not listed; fix these first");
  });
});

describe("point globs", () => {
  // The old compiler, kept here as the oracle for the segment matcher.
  const oracle = (glob: string) =>
    new RegExp(`^${glob.split("/").map((seg) => (seg === "**" ? "(?:[^/]+(?:/[^/]+)*)" : seg.split("*").map((l) => l.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join("[^/]*"))).join("/")}$`);

  it.each([
    ["cab1/**/tempC", "cab1/s1/m3/c7/tempC", true],
    ["cab1/**/tempC", "cab1/tempC", false],
    ["cab1/*/*/*/tempC", "cab1/s1/m3/c7/tempC", true],
    ["cab1/*/*/*/tempC", "cab1/s1/m3/tempC", false],
    ["*/**", "a/b", true],
    ["c*b*1/x", "cab1/x", true],
    ["c*b*1/x", "cab/x", false],
    ["room-a/tempC", "room-a/tempC", true],
  ])("%s against %s: %s", (glob, key, want) => {
    expect(new PointGlob(glob).matches(key)).toBe(want);
  });

  it("matches exactly what the old regular expressions matched", () => {
    const seg = fc.stringMatching(/^[ab*]{0,4}$/);
    const glob = fc.array(fc.oneof(seg, fc.constant("**")), { minLength: 1, maxLength: 4 }).map((s) => s.join("/"));
    const key = fc.array(fc.stringMatching(/^[ab]{1,3}$/), { minLength: 1, maxLength: 5 }).map((s) => s.join("/"));
    fc.assert(fc.property(glob, key, (g, k) => new PointGlob(g).matches(k) === oracle(g).test(k)), { numRuns: 2000 });
  });

  it("a 250-character glob of stars against 10,000 keys takes milliseconds", () => {
    const keys = Array.from({ length: 10_000 }, (_, i) => `cab${i}/s1/m1/c1/${"a".repeat(40)}`);
    const t0 = performance.now();
    const { unmatched } = matchPoints([`${"*a".repeat(124)}b`], keys);
    expect(unmatched).toHaveLength(1);
    expect(performance.now() - t0).toBeLessThan(2_000);
  });

  it("refuses a glob longer than 256 characters at the glob", async () => {
    const file = await siteFile(base.replace("points: [room1/tempC]", `points: ["${"a*".repeat(50_000)}"]`));
    expect(await issuesOf(file)).toEqual(["8:52 rules[0].points[0]: a point glob is at most 256 characters"]);
  });
});

describe("files the config names", () => {
  it("refuses a FIFO without blocking, a character device, a directory and an oversized file", async () => {
    const dir = await mkdtemp(join(tmpdir(), "fb-files-"));
    execFileSync("mkfifo", [join(dir, "fifo")]);
    await mkdir(join(dir, "sub"));
    await writeFile(join(dir, "big"), "x".repeat(5000));
    expect(await readConfigFile(join(dir, "fifo"), 100)).toEqual({ ok: false, reason: "it is a FIFO (named pipe), not a regular file" });
    expect(await readConfigFile("/dev/urandom", 100)).toEqual({ ok: false, reason: "it is a character device, not a regular file" });
    expect(await readConfigFile(join(dir, "sub"), 100)).toEqual({ ok: false, reason: "it is a directory, not a regular file" });
    expect(await readConfigFile(join(dir, "big"), 4096)).toEqual({ ok: false, reason: "it is 5000 bytes; the limit for this file is 4096 bytes" });
    expect(await readConfigFile(join(dir, "big"), 5000)).toEqual({ ok: true, text: "x".repeat(5000) });
  });

  it("refuses an empty or blank password and a CA file that is not PEM", async () => {
    const dir = await mkdtemp(join(tmpdir(), "fb-secrets-"));
    await writeFile(join(dir, "empty"), "");
    await writeFile(join(dir, "blank"), " \n\t\n");
    await writeFile(join(dir, "two"), "a\nb\n");
    await writeFile(join(dir, "der"), "0\x82\x01");
    await writeFile(join(dir, "ok"), "s3cret\r\n");
    expect(await readSecretFile(dir, "empty", "password")).toEqual({ ok: false, reason: "empty is empty; put the password in it" });
    expect(await readSecretFile(dir, "blank", "password")).toEqual({ ok: false, reason: "blank is empty (only whitespace); put the password in it" });
    expect(await readSecretFile(dir, "two", "password")).toMatchObject({ ok: false, reason: expect.stringContaining("more than one line") });
    expect(await readSecretFile(dir, "der", "pem")).toMatchObject({ ok: false, reason: expect.stringContaining("is not PEM") });
    expect(await readSecretFile(dir, "ok", "password")).toEqual({ ok: true, text: "s3cret" });
  });

  it("names the file and the key: password_file on /dev/urandom", async () => {
    const file = await siteFile(`${base}mqtt: { url: "mqtts://b:8883", username: fb, password_file: /dev/urandom }\n`);
    expect(await issuesOf(file)).toEqual(["9:61 mqtt.password_file: cannot read /dev/urandom: it is a character device, not a regular file"]);
  });
});

describe("bounds carry their unit", () => {
  it.each([
    ["levels: [{ name: high, value: 35, stage: watch }] }", "levels: [{ name: high, value: 35, stage: watch }], on_delay_s: 1e20 }", "rules[0].on_delay_s: must be at most 86400 s"],
    ["levels: [{ name: high, value: 35, stage: watch }] }", "levels: [{ name: high, value: 1e20, stage: watch }] }", "rules[0].levels[0].value: must be at most 1000000000 in the point's unit"],
    ["port: 15027 }", "port: 15027 }, poll_interval_ms: 3600000", "devices[0].poll_interval_ms: must be at most 60000 ms"],
  ])("%#: %s", async (from, to, message) => {
    const issues = await issuesOf(await siteFile(base.replace(from, to)));
    expect(issues.map((i) => i.replace(/^\d+:\d+ /, ""))).toEqual([message]);
  });

  it("rate_per_min 9e15 and baseline_ppm 1e308 are refused with their units", async () => {
    const rule = (r: string) => base.replace(/^ {2}- \{ id: hot.*$/m, r);
    expect(await issuesOf(await siteFile(rule("  - { id: r, kind: rate_of_rise, zone: z1, points: [room1/tempC], rate_per_min: 9e15, stage: watch }")))).toEqual(["8:81 rules[0].rate_per_min: must be at most 1000000 per minute"]);
    expect(await issuesOf(await siteFile(rule("  - { id: g, kind: offgas, zone: z1, points: [room1/tempC], baseline_ppm: 1e308, levels: [{ ppm_above_baseline: 10, stage: alarm }] }")))).toEqual(["8:75 rules[0].baseline_ppm: must be at most 1000000 ppm"]);
  });
});

describe("MQTT credentials need TLS", () => {
  const files = { "pw": "s3cret\n", "ca.pem": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n" };

  it("refuses a password or a CA file on plain mqtt://, naming the fix", async () => {
    const pw = await issuesOf(await siteFile(`${base}mqtt: { url: "mqtt://b:1883", username: fb, password_file: pw }\n`, files));
    expect(pw).toEqual([expect.stringMatching(/^9:14 mqtt\.url: password_file with plain mqtt:\/\/: the password would cross the network in clear text\. Use mqtts:\/\/host:8883/)]);
    const ca = await issuesOf(await siteFile(`${base}mqtt: { url: "mqtt://b:1883", ca_file: ca.pem }\n`, files));
    expect(ca).toEqual([expect.stringMatching(/^9:14 mqtt\.url: ca_file with plain mqtt:\/\/: TLS files are ignored without TLS\. Use mqtts:\/\//)]);
  });

  it("accepts it with allow_plaintext_password: true, and says so in a warning", async () => {
    const c = await loadSiteConfig(await siteFile(`${base}mqtt: { url: "mqtt://b:1883", username: fb, password_file: pw, allow_plaintext_password: true }\n`, files));
    expect(c.mqtt?.password).toBe("s3cret");
    expect(c.warnings?.map((w) => `${w.path}: ${w.message}`)).toEqual(["mqtt.url: password_file with plain mqtt://: the password would cross the network in clear text; allowed by allow_plaintext_password: true"]);
  });

  it("accepts a password and a CA on mqtts:// without a warning", async () => {
    const c = await loadSiteConfig(await siteFile(`${base}mqtt: { url: "mqtts://b:8883", username: fb, password_file: pw, ca_file: ca.pem }\n`, files));
    expect(c.mqtt?.ca).toContain("BEGIN CERTIFICATE");
    expect(c.warnings).toBeUndefined();
  });
});
