// End to end over the history and the pager: the simulated battery room plays a cell runaway (one
// device goes silent too), an in-process daemon watches it with `influx:` and `alertmanager:`
// configured against a real influxd and a real Alertmanager, and then every InfluxQL query of the
// shipped Grafana dashboard (packaging/grafana/firebreak.json: panels, variables, annotations) runs
// against that data and must return series.
import { appendFile, readFile } from "node:fs/promises";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadSiteConfig } from "../../src/config/load.js";
import type { SiteConfig } from "../../src/config/types.js";
import type { CoreEvent } from "../../src/events.js";
import { acceleratedClock, type Clock } from "../../src/runtime/clock.js";
import { Daemon } from "../../src/runtime/daemon.js";
import { loadScenario, startSimulation, type Simulation } from "../../simulators/simulation.js";
import { startAlertmanager, type Alertmanager } from "../support/alertmanager.js";
import { startInfluxd, type Influxd } from "../support/influxd.js";
import { writeSiteFile } from "../support/site-file.js";

const SPEED = 20;
const DB = "firebreak";
let influx: Influxd;
let am: Alertmanager;
let sim: Simulation;
let daemon: Daemon;
let clock: Clock;
let epoch: number;
const events: CoreEvent[] = [];

/** Wait for `cond` (checked every 50 ms real time), at most `timeoutMs`. */
async function until(what: string, cond: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  [influx, am] = await Promise.all([startInfluxd(), startAlertmanager()]);
  const example = await loadSiteConfig("config/example-site.yaml");
  epoch = Date.now();
  clock = acceleratedClock(SPEED, epoch);
  sim = await startSimulation({ site: example, clock, scenario: await loadScenario("cell-runaway"), portOverride: () => 0 });
  const file = await writeSiteFile({ ports: sim.ports, staleAfterMs: 10_000, logLevel: "warn" });
  // Clock-time settings: at 20x a 2 s flush is 100 ms of real time.
  await appendFile(file, `influx: { url: "${influx.url}", database: ${DB}, flush_interval_ms: 2000, batch_size: 5000 }\nalertmanager: { url: "${am.url}", refresh_s: 60 }\n`);
  const { mqtt: _noBroker, ...site }: SiteConfig = await loadSiteConfig(file);
  daemon = new Daemon({ config: site, clock, log: pino({ level: "silent" }), evaluateEveryMs: 1000, onEvent: (e) => events.push(e) });
  daemon.start();
}, 60_000);

afterAll(async () => {
  await daemon?.stop();
  await sim?.stop();
  await Promise.all([influx?.destroy(), am?.destroy()]);
});

/** Every InfluxQL query in the dashboard, with where it is. */
async function dashboardQueries(): Promise<{ where: string; q: string }[]> {
  interface Target { refId?: string; query?: string; datasource?: { type?: string } }
  interface Panel { title: string; targets?: Target[]; panels?: Panel[] }
  const d = JSON.parse(await readFile("packaging/grafana/firebreak.json", "utf8")) as {
    panels: Panel[];
    templating: { list: { name: string; query: string; datasource: { type: string } }[] };
    annotations: { list: { name: string; query: string; datasource: { type: string } }[] };
  };
  const out: { where: string; q: string }[] = [];
  const walk = (ps: Panel[]) => {
    for (const p of ps) {
      for (const t of p.targets ?? []) if (t.datasource?.type === "influxdb" && t.query !== undefined) out.push({ where: `panel "${p.title}" ${t.refId ?? ""}`, q: t.query });
      walk(p.panels ?? []);
    }
  };
  walk(d.panels);
  for (const v of d.templating.list) if (v.datasource.type === "influxdb") out.push({ where: `variable $${v.name}`, q: v.query });
  for (const a of d.annotations.list) if (a.datasource.type === "influxdb") out.push({ where: `annotation "${a.name}"`, q: a.query });
  return out;
}

describe("the Grafana dashboard over a simulated runaway's history", () => {
  it("the runaway evacuates batt-a; its alarms are firing in Alertmanager with their labels", async () => {
    // A device that stops answering gives the quality panels their bad rows (and a trouble alarm).
    await until("every point read once", () => daemon.historyStats() !== undefined && daemon.historyStats()!.written > 0, 30_000);
    sim.inject({ kind: "silent", device: "room-b", on: true });
    await until("the evacuation trigger for batt-a", () => events.some((e) => e.type === "evacuate" && e.zone === "batt-a"), 120_000);
    const alerts = await am.alerts();
    const batt = alerts.filter((a) => a.labels.zone === "batt-a" && a.labels.site === "dc1");
    expect(batt.length).toBeGreaterThan(0);
    expect(batt.find((a) => a.labels.alarm === "offgas-a")?.labels).toMatchObject({ instance: "ups-room-1", class: "condition", state: "active" });
    expect(daemon.pagerStats()).toMatchObject({ failures: 0, rejected: 0, dropped: 0 });
  }, 150_000);

  it("every InfluxQL query of the dashboard returns series", async () => {
    // Let the history catch up: staged rows reach the disk buffer and the buffer drains.
    await new Promise((r) => setTimeout(r, 300));
    await until("the history buffer drained", () => daemon.historyStats()!.buffered === 0, 20_000);
    expect(daemon.historyStats()).toMatchObject({ rejected: 0, dropped: 0 });
    const queries = await dashboardQueries();
    expect(queries.length).toBeGreaterThanOrEqual(12);
    const from = epoch - 60_000;
    const to = clock.now() + 60_000;
    const results: string[] = [];
    for (const { where, q } of queries) {
      const sql = q.replaceAll("$timeFilter", `time >= ${from}ms AND time <= ${to}ms`).replaceAll("$__interval", "10s").replaceAll("$zone", ".*").replaceAll("$site", ".*");
      const [r] = await influx.query(DB, sql);
      expect(r?.error, `${where}: ${sql}`).toBeUndefined();
      const series = r?.series ?? [];
      results.push(`${where}: ${series.length} series, ${series.reduce((n, s) => n + s.values.length, 0)} rows`);
      expect(series.length, `${where} returned no series: ${sql}`).toBeGreaterThan(0);
    }
    console.log(`[figures] dashboard InfluxQL queries against the runaway's history (${queries.length}):\n  ${results.join("\n  ")}`);
  }, 60_000);
});
