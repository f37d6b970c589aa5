// The README's metrics table ("Health and metrics") names exactly the firebreak_* metrics that
// /metrics registers: a metric added without a row, or a row left for a renamed metric, fails here.
// Rows abbreviate siblings as `_suffix` after a full name: `firebreak_mqtt_connected`, `_queue_depth`
// stands for firebreak_mqtt_queue_depth.
import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import type { DaemonFigures } from "../../src/outputs/http/figures.js";
import { FirebreakMetrics } from "../../src/outputs/http/metrics.js";

const figures: DaemonFigures = {
  site: "s",
  instance: "i",
  version: "0",
  readiness: () => ({ devicesStarted: true, stateRestored: true, brokerConnected: true }),
  devices: () => [],
  points: () => [],
  evaluations: () => ({ poll: 0, tick: 0, failed: 0 }),
  alarms: () => [],
  zones: () => [],
  openTriggers: () => [],
  mqtt: () => undefined,
  stateFailures: () => 0,
};

/** The metric names in the first column of the README's metrics table. */
function readmeMetrics(readme: string): string[] {
  const section = readme.slice(readme.indexOf("### Health and metrics"), readme.indexOf("## Command line"));
  const names: string[] = [];
  for (const line of section.split("\n")) {
    if (!line.startsWith("| `firebreak_")) continue;
    const cell = line.split("|")[1] ?? "";
    const codes = [...cell.matchAll(/`([a-z_]+)(?:\{[^}]*\})?`/g)].map((m) => m[1]!);
    const prefix = /^firebreak_[a-z]+/.exec(codes[0] ?? "")?.[0] ?? "";
    for (const c of codes) names.push(c.startsWith("_") ? prefix + c : c);
  }
  return names;
}

describe("the README's metrics table", () => {
  it("lists every firebreak_* metric /metrics registers, and no other", async () => {
    const registered = new FirebreakMetrics(figures, { defaultMetrics: false }).registry
      .getMetricsAsArray()
      .map((m) => m.name)
      .sort();
    const documented = [...new Set(readmeMetrics(await readFile("README.md", "utf8")))].sort();
    expect(registered.length).toBeGreaterThan(20);
    expect(documented).toEqual(registered);
  });
});
