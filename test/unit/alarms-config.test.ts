// The `alarms:` section of the site config and the per-rule `priority:` override.
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadSiteConfig } from "../../src/config/load.js";
import { ConfigError } from "../../src/errors.js";

const example = "config/example-site.yaml";

async function variant(edit: (text: string) => string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "fb-alarms-"));
  const file = join(dir, "site.yaml");
  await writeFile(file, edit(await readFile(example, "utf8")));
  return file;
}

describe("alarms config", () => {
  it("a site without an alarms section gets the cited defaults", async () => {
    const c = await loadSiteConfig(example);
    expect(c.alarms).toEqual({ chatter: { maxChanges: 4, windowMs: 60_000 }, flood: { per10Min: 10, endBelowPer10Min: 5 }, shelving: { maxDurationMs: 8 * 3_600_000 } });
  });

  it("reads alarms: keys in seconds and a rule's priority override", async () => {
    const file = await variant((t) => `${t.replace("  - id: offgas-a\n", "  - id: offgas-a\n    priority: high\n")}\nalarms:\n  chatter: { max_changes: 6 }\n  flood: { per_10_min: 20 }\n  shelving: { max_duration_s: 3600 }\n`);
    const c = await loadSiteConfig(file);
    expect(c.alarms).toEqual({ chatter: { maxChanges: 6, windowMs: 60_000 }, flood: { per10Min: 20, endBelowPer10Min: 5 }, shelving: { maxDurationMs: 3_600_000 } });
    expect(c.rules.find((r) => r.id === "offgas-a")?.priority).toBe("high");
  });

  it("refuses a bad value with its key path", async () => {
    const file = await variant((t) => `${t}\nalarms:\n  chatter: { window_s: 0 }\n`);
    const err = await loadSiteConfig(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues.map((i) => i.path)).toEqual(["alarms.chatter.window_s"]);
  });
});
