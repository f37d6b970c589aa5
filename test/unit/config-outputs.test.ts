// The `alertmanager:` and `influx:` sections: off unless present, defaults, passwords from files,
// and bad values refused with their key path.
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadSiteConfig } from "../../src/config/load.js";
import { configIssues } from "../support/config-issues.js";

async function withSections(extra: string, files: Record<string, string> = {}): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "fb-config-out-"));
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  const file = join(dir, "site.yaml");
  await writeFile(file, (await readFile("config/example-site.yaml", "utf8")).replace(/^profiles_dir:.*$/m, "") + `\nprofiles_dir: ${join(process.cwd(), "config/profiles")}\n${extra}`);
  return file;
}

const issuesOf = (file: string): Promise<string[]> => configIssues(file);

describe("the alertmanager: and influx: sections", () => {
  it("both outputs are off without their sections", async () => {
    const c = await loadSiteConfig(await withSections(""));
    expect(c.alertmanager).toBeUndefined();
    expect(c.influx).toBeUndefined();
  });

  it("defaults: refresh every 60 s with endsAt three refreshes ahead; batches of 5000 every second into a million-row buffer", async () => {
    const c = await loadSiteConfig(await withSections(`alertmanager: { url: "http://am.example:9093/" }\ninflux: { url: "http://influx.example:8086", database: firebreak }\n`));
    expect(c.alertmanager).toEqual({ url: "http://am.example:9093", refreshMs: 60_000, endsAfterMs: 180_000, timeoutMs: 5000, queueLimit: 10_000, retryMinMs: 500, retryMaxMs: 30_000 });
    expect(c.influx).toMatchObject({ url: "http://influx.example:8086", database: "firebreak", createDatabase: true, batchSize: 5000, flushIntervalMs: 1000, bufferLimit: 1_000_000, pointHeartbeatMs: 300_000 });
  });

  it("reads the InfluxDB password from its file", async () => {
    const c = await loadSiteConfig(await withSections(`influx: { url: "https://influx.example:8086", database: fb, username: writer, password_file: influx.pw }\n`, { "influx.pw": "hunter2\n" }));
    expect(c.influx).toMatchObject({ username: "writer", password: "hunter2" });
  });

  it("refuses bad values with their key path", async () => {
    const issues = await issuesOf(await withSections(`alertmanager: { url: "am:9093", refresh_s: 60, ends_after_s: 30 }\ninflux: { url: "http://i:8086", database: "my db", batch_size: 0, password_file: x.pw }\n`));
    expect(issues).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^alertmanager\.url: use http:\/\/host:port/),
        expect.stringMatching(/^influx\.database: use letters/),
        expect.stringMatching(/^influx\.batch_size: must be at least 1 rows/),
      ]),
    );
  });

  it("refuses an ends_after_s not longer than refresh_s, and a password file it cannot read", async () => {
    expect(await issuesOf(await withSections(`alertmanager: { url: "http://am:9093", refresh_s: 60, ends_after_s: 60 }\n`))).toEqual([expect.stringMatching(/^alertmanager\.ends_after_s: must be longer than refresh_s/)]);
    expect(await issuesOf(await withSections(`influx: { url: "http://i:8086", database: fb, username: w, password_file: /nonexistent/pw }\n`))).toEqual([expect.stringMatching(/^influx\.password_file: cannot read \/nonexistent\/pw/)]);
  });
});
