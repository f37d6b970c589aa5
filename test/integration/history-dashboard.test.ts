// End to end over the history, the metrics and the pager: the simulated battery room plays a cell
// runaway (one device goes silent too), an in-process daemon watches it with `influx:`,
// `alertmanager:` and `http:` configured against a real influxd, a real Alertmanager and a real
// Prometheus scraping its /metrics (with packaging/prometheus/firebreak-rules.yml loaded). Then
// every query of the shipped Grafana dashboard (packaging/grafana/firebreak.json) runs against that
// data and must return series: the InfluxQL ones (panels, variables, annotations) in influxd, the
// PromQL ones through Prometheus's HTTP API.
import { appendFile, readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadSiteConfig } from "../../src/config/load.js";
import { stages } from "../../src/config/site-schema.js";
import type { SiteConfig } from "../../src/config/types.js";
import type { CoreEvent } from "../../src/events.js";
import { acceleratedClock, type Clock } from "../../src/runtime/clock.js";
import { Daemon } from "../../src/runtime/daemon.js";
import { Observability } from "../../src/runtime/observability.js";
import { loadScenario, startSimulation, type Simulation } from "../../simulators/simulation.js";
import { startAlertmanager, type Alertmanager } from "../support/alertmanager.js";
import { startInfluxd, type Influxd } from "../support/influxd.js";
import { freePort } from "../support/ports.js";
import { startPrometheus, type Prometheus } from "../support/prometheus.js";
import { writeSiteFile } from "../support/site-file.js";

const SPEED = 20;
const DB = "firebreak";
let influx: Influxd;
let am: Alertmanager;
let prom: Prometheus;
let obs: Observability;
let siteName: string;
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
  const httpPort = await freePort();
  [influx, am, prom] = await Promise.all([
    startInfluxd(),
    startAlertmanager(),
    startPrometheus({ targets: [`127.0.0.1:${httpPort}`], scrapeIntervalS: 1, ruleFiles: [resolve("packaging/prometheus/firebreak-rules.yml")] }),
  ]);
  const example = await loadSiteConfig("config/example-site.yaml");
  epoch = Date.now();
  clock = acceleratedClock(SPEED, epoch);
  sim = await startSimulation({ site: example, clock, scenario: await loadScenario("cell-runaway"), portOverride: () => 0 });
  const file = await writeSiteFile({ ports: sim.ports, staleAfterMs: 10_000, logLevel: "warn" });
  // Clock-time settings: at 20x a 2 s flush is 100 ms of real time.
  await appendFile(file, `influx: { url: "${influx.url}", database: ${DB}, flush_interval_ms: 2000, batch_size: 5000 }\nalertmanager: { url: "${am.url}", refresh_s: 60 }\nhttp: { listen: "127.0.0.1:${httpPort}" }\n`);
  const { mqtt: _noBroker, ...site }: SiteConfig = await loadSiteConfig(file);
  siteName = site.site;
  const log = pino({ level: "silent" });
  obs = new Observability({ config: site, clock, log });
  daemon = new Daemon({ config: site, clock, log, evaluateEveryMs: 1000, onEvent: (e) => events.push(e), onPoll: obs.onPoll, onTick: obs.onTick });
  daemon.start();
  await obs.start(daemon);
}, 60_000);

afterAll(async () => {
  await obs?.stop();
  obs?.close();
  await daemon?.stop();
  await sim?.stop();
  await Promise.all([influx?.destroy(), am?.destroy(), prom?.destroy()]);
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

/** Every PromQL target in the dashboard, with where it is. */
async function dashboardPromQL(): Promise<{ where: string; panel: number; refId: string; expr: string }[]> {
  interface Target { refId?: string; expr?: string; datasource?: { type?: string } }
  interface Panel { id: number; title: string; targets?: Target[]; panels?: Panel[] }
  const d = JSON.parse(await readFile("packaging/grafana/firebreak.json", "utf8")) as { panels: Panel[] };
  const out: { where: string; panel: number; refId: string; expr: string }[] = [];
  const walk = (ps: Panel[]) => {
    for (const p of ps) {
      for (const t of p.targets ?? []) if (t.datasource?.type === "prometheus" && t.expr !== undefined) out.push({ where: `panel "${p.title}" ${t.refId ?? ""}`, panel: p.id, refId: t.refId ?? "", expr: t.expr });
      walk(p.panels ?? []);
    }
  };
  walk(d.panels);
  return out;
}

/**
 * Grafana's template variables as Grafana would render them: `$site` as one selected site (a
 * regex-safe name), `$__rate_interval` as a window holding several 1 s scrapes.
 */
function render(expr: string, site: string): string {
  return expr.replaceAll("$__rate_interval", "15s").replaceAll("$__interval", "5s").replaceAll("$site", site);
}

describe("the Grafana dashboard's PromQL panels over a real Prometheus scraping /metrics", () => {
  it("Prometheus scrapes the daemon, and has seen the evacuation of batt-a", async () => {
    await untilAsync("the firebreak target up", async () => (await prom.targets()).some((t) => t.health === "up"), 30_000);
    // The evacuation (first describe block) is in a scrape, and rate() has several samples to work with.
    await untilAsync("batt-a evacuate scraped", async () => (await prom.query('firebreak_zone_stage{zone="batt-a",stage="evacuate"} == 1')).result.length === 1, 30_000);
    await untilAsync("15 s of scrapes", async () => Number((await prom.query('count_over_time(up{job="firebreak"}[15s])')).result[0]?.value[1] ?? 0) >= 5, 30_000);
    const [t] = await prom.targets();
    expect(t?.lastError).toBe("");
    // What the panels' site filter joins on: the target's instance on every series; firebreak_info's own
    // instance label kept as exported_instance (README "Grafana dashboard").
    const [info] = (await prom.query("firebreak_info")).result;
    expect(info?.metric).toMatchObject({ job: "firebreak", instance: t!.scrapeUrl.replace(/^http:\/\/|\/metrics$/g, ""), exported_instance: "ups-room-1", site: siteName });
  }, 70_000);

  it("every PromQL target of the dashboard is valid and returns series for the site; none for another site", async () => {
    const targets = await dashboardPromQL();
    expect(targets.length).toBeGreaterThanOrEqual(5);
    const results: string[] = [];
    for (const { where, expr } of targets) {
      const q = render(expr, siteName);
      const r = await prom.query(q); // throws with Prometheus's parse or execution error
      expect(r.resultType, where).toBe("vector");
      results.push(`${where}: ${r.result.length} series`);
      expect(r.result.length, `${where} returned no series: ${q}`).toBeGreaterThan(0);
      // The site filter is a real filter, not a no-op: another site has nothing.
      expect((await prom.query(render(expr, "no-such-site"))).result, `${where} for another site`).toEqual([]);
    }
    console.log(`[figures] dashboard PromQL targets against a real Prometheus scraping the runaway (${targets.length}):\n  ${results.join("\n  ")}`);
  }, 60_000);

  it("the zone stage panel gives each zone's stage as normal 0 … evacuate 4, batt-a evacuate", async () => {
    const t = (await dashboardPromQL()).find((x) => x.panel === 2);
    expect(t).toBeDefined();
    const r = await prom.query(render(t!.expr, siteName));
    const byZone = Object.fromEntries(r.result.map((s) => [s.metric.zone, Number(s.value[1])]));
    const zones = daemon.watch.snapshot().zones;
    expect(Object.keys(byZone).sort()).toEqual(zones.map((z) => z.zone).sort());
    expect(byZone["batt-a"]).toBe(4);
    for (const z of zones) expect(stages[byZone[z.zone]!], z.zone).toBe(z.stage);
  }, 20_000);

  it("the silenced room-b counts request timeouts (firebreak_device_timeouts_total), one series per Modbus device", async () => {
    const r = await prom.query(`firebreak_device_timeouts_total{job="firebreak"}`);
    const byDevice = Object.fromEntries(r.result.map((s) => [s.metric.device, Number(s.value[1])]));
    expect(Object.keys(byDevice).sort()).toEqual(daemon.pollerStatus().map((d) => d.device).sort());
    expect(byDevice["room-b"]).toBeGreaterThan(0);
    // (An answering device may count one too: at 20x the request timeout is compressed toward its
    // real-time floor, which a loaded machine can miss.)
  }, 20_000);

  it("the shipped alerting rules load and evaluate without error against the live metrics", async () => {
    await untilAsync("every rule evaluated", async () => (await prom.rules()).every((x) => x.health !== "unknown"), 20_000);
    const rules = await prom.rules();
    expect(rules.map((x) => x.name).sort()).toEqual(
      ["FirebreakDeviceSilent", "FirebreakDown", "FirebreakEvacuationUnacknowledged", "FirebreakMqttDropping", "FirebreakMqttQueueFilling", "FirebreakNotReady"],
    );
    for (const x of rules) expect({ rule: x.name, health: x.health, lastError: x.lastError ?? "" }).toEqual({ rule: x.name, health: "ok", lastError: "" });
    // Every firebreak metric a rule reads is one the daemon exports (MQTT ones included, though this
    // run has no broker and so no MQTT samples), and the ones this run has samples for are in Prometheus.
    const text = await (await fetch(`http://127.0.0.1:${obs.httpPort!}/metrics`)).text();
    const names = [...new Set(rules.flatMap((x) => x.query.match(/firebreak_[a-z_]+/g) ?? []))];
    expect(names.length).toBeGreaterThanOrEqual(7);
    for (const n of names) expect(text, `rule metric ${n}`).toContain(`# TYPE ${n} `);
    for (const n of names.filter((x) => !x.startsWith("firebreak_mqtt_"))) expect((await prom.query(`${n}{job="firebreak"}`)).result.length, n).toBeGreaterThan(0);
  }, 30_000);
});

async function untilAsync(what: string, cond: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
