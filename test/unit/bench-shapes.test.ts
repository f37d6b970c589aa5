// The bench's scale shapes load as real configs and say what they claim: one rule over every
// point, one zone of 400 rules, 400 zones, the cell points split among the rules with none left out.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { benchSite, SHAPE_COUNT, SIZES, siteYaml, type Shape } from "../../bench/site-gen.js";
import { loadSiteConfig } from "../../src/config/load.js";

async function load(shape: Shape) {
  const site = benchSite(SIZES.find((s) => s.target === 10_000)!);
  const dir = await mkdtemp(join(tmpdir(), "fb-shapes-"));
  try {
    const file = join(dir, "site.yaml");
    await writeFile(file, siteYaml({ site, shape, ports: site.gateways.map((_, i) => 1502 + i), mqttUrl: "mqtt://127.0.0.1:1", pollIntervalMs: 1000, timeoutMs: 500, staleAfterMs: 3000, profilesDir: resolve("config/profiles") }));
    return await loadSiteConfig(file);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe("bench scale shapes", () => {
  it("hall-rule: one threshold rule over every point of the site", async () => {
    const config = await load("hall-rule");
    const all = config.devices.reduce((n, d) => n + d.points.length, 0);
    expect(config.rules).toHaveLength(1);
    expect(config.rules[0]).toMatchObject({ kind: "threshold" });
    expect((config.rules[0] as { points: readonly string[] }).points).toHaveLength(all);
  }, 180_000);

  it.each([
    ["zone-400", 1],
    ["zones-400", SHAPE_COUNT],
  ] as const)("%s: 400 threshold rules in %i zone(s), every cell point in exactly one", async (shape, zones) => {
    const config = await load(shape);
    expect(config.rules).toHaveLength(SHAPE_COUNT);
    expect(new Set(config.rules.map((r) => r.zone)).size).toBe(zones);
    const points = config.rules.flatMap((r) => (r.kind === "comm_loss" ? [] : r.points));
    const cells = config.devices.flatMap((d) => d.points.filter((p) => /\/c\d+\/(tempC|voltV)$/.test(p.pointId)).map((p) => `${d.id}/${p.pointId}`));
    expect(points.length).toBe(cells.length);
    expect(new Set(points)).toEqual(new Set(cells));
  }, 180_000);
});
