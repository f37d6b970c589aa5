// What the outputs cost: the daemon (`firebreak run`, its own process) at 1 s polls with MQTT only,
// and with every output on (MQTT to a real Mosquitto, Alertmanager, InfluxDB 1.x history, /metrics
// scraped every 5 s), at the example site and at ~10k points (bench/site-gen.ts). CPU from
// /proc/<pid>/stat, RSS from /proc/<pid>/status; configurations alternate within each run so a
// loaded machine weighs on both alike, and the same-run ratio (all / MQTT only) is the figure to trust.
// Usage: npm run build && node dist/bench/outputs-cost.js [--quick]   (from the repository root)
import { execFileSync } from "node:child_process";
import { cpus, loadavg } from "node:os";
import { mkdtemp, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseDocument } from "yaml";
import { loadSiteConfig } from "../src/config/load.js";
import { systemClock } from "../src/runtime/clock.js";
import { loadScenario, startSimulation } from "../simulators/simulation.js";
import { startAlertmanager } from "../test/support/alertmanager.js";
import { startDaemon, type DaemonProcess } from "../test/support/daemon-process.js";
import { startInfluxd } from "../test/support/influxd.js";
import { startMosquitto } from "../test/support/mosquitto.js";
import { freePort } from "../test/support/ports.js";
import { writeSiteFile } from "../test/support/site-file.js";
import { procCpuSeconds, sleep } from "./procs.js";
import { benchSite, siteYaml, SIZES } from "./site-gen.js";
import { startSims } from "./sims.js";

const quick = process.argv.includes("--quick");
const WARM_S = 20;
const MEASURE_S = 60;
const SCRAPE_S = 5;
const RUNS = quick ? 1 : 3;
type Outputs = "mqtt" | "all";

interface Servers {
  readonly mqttUrl: string;
  readonly amUrl: string;
  readonly influxUrl: string;
  readonly pids: Record<string, number>;
  /** Rows in an InfluxDB database, and alerts Alertmanager holds: did the outputs work. */
  influxRows(db: string): Promise<number>;
  amAlerts(): Promise<number>;
}

interface Site {
  readonly name: string;
  readonly points: number;
  /** The site's YAML with devices pointed at the simulators and MQTT at the broker. */
  readonly yaml: string;
  stop(): Promise<void>;
}

export interface Sample {
  readonly site: string;
  readonly points: number;
  readonly outputs: Outputs;
  readonly run: number;
  readonly seconds: number;
  readonly cpuPct: number;
  readonly pointUpdates: number;
  readonly cpuMsPer10k: number;
  readonly rssMiB: number;
  readonly rssMaxMiB: number;
  readonly loadavg: readonly number[];
  /** CPU % of the servers over the same window (they serve only this daemon). */
  readonly serverCpuPct: Record<string, number>;
  readonly scrapes: number;
  /** What /metrics said at the end: proof the outputs were working. */
  readonly checks: Record<string, number>;
  /**
   * Where time went, for overruns: the event loop's longest delay over the window (prom-client's
   * monitorEventLoopDelay is reset at each scrape: the largest of the scrapes'), its p99 over the
   * last scrape interval, polls longer than 1 s and 0.5 s over the window, and the daemon's
   * warn/error lines by message.
   */
  readonly findings: { readonly loopLagMaxMs: number; readonly loopLagP99Ms: number; readonly pollsOver1s: number; readonly pollsOver500ms: number; readonly polls: number; readonly logs: Record<string, number> };
}

/** Sum of the series of one metric in a Prometheus text exposition, by label `by` (or all under ""). */
function series(text: string, name: string, by?: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (!line.startsWith(name + "{") && !line.startsWith(name + " ")) continue;
    const value = Number(line.slice(line.lastIndexOf(" ") + 1));
    const key = by === undefined ? "" : (new RegExp(`${by}="([^"]*)"`).exec(line)?.[1] ?? "");
    out.set(key, (out.get(key) ?? 0) + value);
  }
  return out;
}

/** Polls whose duration exceeded `le` seconds (a bucket bound of firebreak_poll_duration_seconds), over all devices. */
function pollsOver(text: string, le: string): number {
  const all = [...series(text, "firebreak_poll_duration_seconds_count", "device").values()].reduce((a, b) => a + b, 0);
  let within = 0;
  for (const line of text.split("\n")) if (line.startsWith("firebreak_poll_duration_seconds_bucket{") && line.includes(`le="${le}"`)) within += Number(line.slice(line.lastIndexOf(" ") + 1));
  return all - within;
}

/** The daemon's warn and error lines, counted by message (pino JSON on stdout). */
function warnings(output: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of output.split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      const l = JSON.parse(line) as { level?: number | string; msg?: string; device?: string };
      const level = typeof l.level === "number" ? l.level : { warn: 40, error: 50, fatal: 60 }[l.level ?? ""] ?? 0;
      if (level >= 40 && l.msg !== undefined) {
        const k = l.msg.slice(0, 120);
        out[k] = (out[k] ?? 0) + 1;
      }
    } catch {
      // not a log line
    }
  }
  return out;
}

/** Point updates so far: completed polls × declared points, per device. */
function pointUpdates(text: string): number {
  const points = series(text, "firebreak_points", "device");
  let n = 0;
  for (const [device, polls] of series(text, "firebreak_device_polls_total", "device")) n += polls * (points.get(device) ?? 0);
  return n;
}

function rssKiB(pid: number, field = "VmRSS"): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (m === null) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(m[1]);
}

async function scrape(base: string): Promise<string> {
  const res = await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(5000) });
  if (!res.ok) throw new Error(`GET /metrics: HTTP ${res.status}`);
  return res.text();
}

/**
 * The site file for one configuration. Both have an `http:` listener, because the point-update count
 * comes from /metrics; with MQTT only it is scraped twice (window start and end), not every 5 s.
 */
async function siteFile(dir: string, site: Site, outputs: Outputs, servers: Servers, run: number, httpPort: number): Promise<string> {
  const doc = parseDocument(site.yaml);
  doc.setIn(["state_dir"], join(dir, `state-${site.name}-${outputs}-${run}`));
  doc.setIn(["log"], doc.createNode({ level: "warn" }));
  doc.setIn(["http"], doc.createNode({ listen: `127.0.0.1:${httpPort}` }));
  if (outputs === "all") {
    doc.setIn(["alertmanager"], doc.createNode({ url: servers.amUrl }));
    doc.setIn(["influx"], doc.createNode({ url: servers.influxUrl, database: influxDb(site, run) }));
  }
  const file = join(dir, `${site.name}-${outputs}-${run}.yaml`);
  await writeFile(file, doc.toString());
  return file;
}

const influxDb = (site: Site, run: number): string => `fb_bench_${site.name.replace(/\W/g, "_")}_${run}`;

async function exampleSite(mqttUrl: string): Promise<Site> {
  const config = await loadSiteConfig("config/example-site.yaml");
  const sim = await startSimulation({ site: config, clock: systemClock, scenario: await loadScenario("normal"), portOverride: () => 0 });
  const file = await writeSiteFile({ ports: sim.ports, mqttUrl, logLevel: "warn" });
  const points = config.devices.reduce((a, d) => a + d.points.length, 0);
  return { name: "example", points, yaml: await readFile(file, "utf8"), stop: () => sim.stop() };
}

async function tenKSite(mqttUrl: string): Promise<Site> {
  const site = benchSite(SIZES[1]!);
  const sims = await startSims(site, 2);
  const yaml = siteYaml({ site, ports: sims.ports, mqttUrl, pollIntervalMs: 1000, timeoutMs: 999, staleAfterMs: 3000, profilesDir: resolve("config/profiles") });
  return { name: "10k", points: site.points, yaml, stop: () => sims.stop() };
}

async function measureOne(site: Site, outputs: Outputs, servers: Servers, run: number, dir: string): Promise<Sample> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const file = await siteFile(dir, site, outputs, servers, run, port);
  let daemon: DaemonProcess | undefined;
  let scraper: NodeJS.Timeout | undefined;
  let scrapes = 0;
  /** The largest event loop delay any scrape reported (each covers the time since the one before). */
  let lagMaxS = 0;
  const lagOf = (t: string): number => series(t, "nodejs_eventloop_lag_max_seconds").get("") ?? 0;
  try {
    daemon = startDaemon(file);
    const pid = daemon.pid;
    const startedAt = Date.now();
    for (;;) {
      if (!daemon.running()) throw new Error(`daemon exited:\n${daemon.output().slice(-2000)}`);
      const ok = await scrape(base).then(() => true, () => false);
      if (ok) break;
      if (Date.now() - startedAt > 30_000) throw new Error(`no /metrics within 30 s:\n${daemon.output().slice(-2000)}`);
      await sleep(200);
    }
    if (outputs === "all") {
      // Prometheus' way: every 5 s, whether or not the last one is done; failures count as findings below.
      scraper = setInterval(
        () =>
          void scrape(base).then(
            (t) => {
              scrapes++;
              lagMaxS = Math.max(lagMaxS, lagOf(t));
            },
            () => undefined,
          ),
        SCRAPE_S * 1000,
      );
    }
    await sleep(Math.max(0, WARM_S * 1000 - (Date.now() - startedAt)));
    const serverPids = Object.entries(servers.pids);
    const a = { t: performance.now(), cpu: procCpuSeconds(pid), text: await scrape(base), servers: serverPids.map(([, p]) => procCpuSeconds(p) ?? 0) };
    const scrapes0 = scrapes;
    lagMaxS = 0;
    let rssMax = 0;
    for (let s = 0; s < MEASURE_S; s += SCRAPE_S) {
      await sleep(SCRAPE_S * 1000);
      rssMax = Math.max(rssMax, rssKiB(pid));
    }
    const b = { t: performance.now(), cpu: procCpuSeconds(pid), text: await scrape(base), servers: serverPids.map(([, p]) => procCpuSeconds(p) ?? 0) };
    const rss = rssKiB(pid);
    if (a.cpu === undefined || b.cpu === undefined) throw new Error(`no /proc/${pid}/stat`);
    const seconds = (b.t - a.t) / 1000;
    const updates = pointUpdates(b.text) - pointUpdates(a.text);
    const cpuS = b.cpu - a.cpu;
    const checks: Record<string, number> = {};
    for (const name of ["firebreak_mqtt_connected", "firebreak_mqtt_published_total", "firebreak_device_poll_overruns_total", "firebreak_device_poll_failures_total", "firebreak_alarms"]) {
      const v = series(b.text, name).get("");
      if (v !== undefined) checks[name] = v;
    }
    const count = (t: string) => [...series(t, "firebreak_poll_duration_seconds_count", "device").values()].reduce((x, y) => x + y, 0);
    const findings = {
      loopLagMaxMs: 1000 * Math.max(lagMaxS, lagOf(b.text)),
      loopLagP99Ms: 1000 * (series(b.text, "nodejs_eventloop_lag_p99_seconds").get("") ?? NaN),
      pollsOver1s: pollsOver(b.text, "1") - pollsOver(a.text, "1"),
      pollsOver500ms: pollsOver(b.text, "0.5") - pollsOver(a.text, "0.5"),
      polls: count(b.text) - count(a.text),
      logs: warnings(daemon.output()),
    };
    await daemon.stop();
    if (outputs === "all") {
      checks.influxRows = await servers.influxRows(influxDb(site, run));
      checks.alertmanagerAlerts = await servers.amAlerts();
    }
    return {
      site: site.name,
      points: site.points,
      outputs,
      run,
      seconds,
      cpuPct: (100 * cpuS) / seconds,
      pointUpdates: updates,
      cpuMsPer10k: updates > 0 ? (cpuS * 1000 * 10_000) / updates : NaN,
      rssMiB: rss / 1024,
      rssMaxMiB: Math.max(rss, rssMax) / 1024,
      loadavg: loadavg(),
      serverCpuPct: Object.fromEntries(serverPids.map(([n], i) => [n, (100 * (b.servers[i]! - a.servers[i]!)) / seconds])),
      scrapes: scrapes - scrapes0,
      checks,
      findings,
    };
  } finally {
    if (scraper !== undefined) clearInterval(scraper);
    await daemon?.stop();
  }
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((x, y) => x - y);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

function summarize(samples: readonly Sample[]) {
  const rows = [];
  for (const site of [...new Set(samples.map((s) => s.site))]) {
    for (const outputs of ["mqtt", "all"] as const) {
      const mine = samples.filter((s) => s.site === site && s.outputs === outputs);
      if (mine.length === 0) continue;
      rows.push({ site, points: mine[0]!.points, outputs, runs: mine.length, cpuPct: median(mine.map((s) => s.cpuPct)), cpuMsPer10k: median(mine.map((s) => s.cpuMsPer10k)), rssMiB: median(mine.map((s) => s.rssMiB)) });
    }
  }
  // Same-run ratios: all outputs / MQTT only, of the pair measured back to back in one run.
  const ratios = [];
  for (const site of [...new Set(samples.map((s) => s.site))]) {
    const per = [];
    for (const run of [...new Set(samples.map((s) => s.run))]) {
      const m = samples.find((s) => s.site === site && s.run === run && s.outputs === "mqtt");
      const a = samples.find((s) => s.site === site && s.run === run && s.outputs === "all");
      if (m !== undefined && a !== undefined) per.push({ run, cpu: a.cpuPct / m.cpuPct, rss: a.rssMiB / m.rssMiB });
    }
    if (per.length > 0) ratios.push({ site, runs: per.length, cpuRatio: median(per.map((p) => p.cpu)), rssRatio: median(per.map((p) => p.rss)), perRun: per });
  }
  return { rows, ratios };
}

async function main(): Promise<void> {
  const stops: (() => Promise<void>)[] = [];
  const dir = await mkdtemp(join(tmpdir(), "fb-outputs-cost-"));
  // Bounded: 4 configurations per run, each ~WARM + MEASURE + start/stop, plus servers and sims.
  const boundMs = (RUNS * 4 * (WARM_S + MEASURE_S + 40) + 180) * 1000;
  const bound = setTimeout(() => {
    console.error(`outputs-cost: over its ${boundMs / 1000} s bound, stopping everything`);
    void cleanup().finally(() => process.exit(2));
  }, boundMs);
  bound.unref();
  async function cleanup(): Promise<void> {
    for (const stop of stops.splice(0).reverse()) await stop().catch((e: unknown) => console.error(`stop: ${String(e)}`));
    await rm(dir, { recursive: true, force: true });
  }
  process.once("SIGINT", () => void cleanup().finally(() => process.exit(130)));
  const samples: Sample[] = [];
  const loadStart = loadavg();
  try {
    const broker = await startMosquitto({ persistence: false });
    stops.push(() => broker.destroy());
    const am = await startAlertmanager();
    stops.push(() => am.destroy());
    const influx = await startInfluxd();
    stops.push(() => influx.destroy());
    const servers: Servers = { mqttUrl: broker.url, amUrl: am.url, influxUrl: influx.url, pids: { mosquitto: broker.pid, alertmanager: am.service.pid, influxd: influx.service.pid },
      amAlerts: async () => (await am.alerts()).length,
      async influxRows(db) {
        // A regex FROM merges the measurements' columns (nulls where a field is not theirs): a
        // measurement's rows are its largest field count.
        const res = await influx.query(db, "SELECT count(*) FROM /.*/");
        return (res[0]?.series ?? []).reduce((a, s) => a + s.values.reduce((b, v) => b + Math.max(0, ...v.slice(1).map((c) => Number(c ?? 0))), 0), 0);
      },
    };
    console.log(`servers: mosquitto ${broker.pid}, alertmanager ${am.service.pid}, influxd ${influx.service.pid}; ${RUNS} run(s), warm ${WARM_S} s, measure ${MEASURE_S} s; load ${loadStart.map((l) => l.toFixed(1)).join(" ")}`);
    for (const make of [exampleSite, tenKSite]) {
      const site = await make(broker.url);
      stops.push(() => site.stop());
      for (let run = 1; run <= RUNS; run++) {
        // Alternate which configuration goes first, so a drift in the machine's load favours neither.
        const order: Outputs[] = run % 2 === 1 ? ["mqtt", "all"] : ["all", "mqtt"];
        for (const outputs of order) {
          const s = await measureOne(site, outputs, servers, run, dir);
          samples.push(s);
          console.log(
            `${site.name} (${site.points} points) ${outputs.padEnd(4)} run ${run}: CPU ${s.cpuPct.toFixed(1)} %, ${s.cpuMsPer10k.toFixed(1)} ms/10k updates (${s.pointUpdates} in ${s.seconds.toFixed(1)} s), RSS ${s.rssMiB.toFixed(0)} MiB (max ${s.rssMaxMiB.toFixed(0)}), servers ${Object.entries(s.serverCpuPct).map(([n, c]) => `${n} ${c.toFixed(1)} %`).join(", ")}, load ${s.loadavg.map((l) => l.toFixed(1)).join(" ")}; ${JSON.stringify(s.checks)}; ${JSON.stringify(s.findings)}`,
          );
        }
      }
      await stops.pop()?.();
    }
  } finally {
    await cleanup();
    clearTimeout(bound);
  }
  const { rows, ratios } = summarize(samples);
  console.log("\n| points | outputs | CPU % of a core | CPU ms / 10k point updates | RSS MiB |\n| --- | --- | --- | --- | --- |");
  for (const r of rows) console.log(`| ${r.points.toLocaleString("en-US")} (${r.site}) | ${r.outputs === "all" ? "all (MQTT, Alertmanager, InfluxDB, /metrics every 5 s)" : "MQTT only"} | ${r.cpuPct.toFixed(1)} | ${r.cpuMsPer10k.toFixed(1)} | ${r.rssMiB.toFixed(0)} |`);
  for (const r of ratios) console.log(`${r.site}: all / MQTT only, same run: CPU × ${r.cpuRatio.toFixed(2)}, RSS × ${r.rssRatio.toFixed(2)} (median of ${r.runs})`);
  const sha = execFileSync("git", ["rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
  const out = resolve("bench/results", `${new Date().toISOString().slice(0, 16).replace(":", "")}-${sha}-outputs-cost${quick ? "-quick" : ""}.json`);
  await mkdir(resolve("bench/results"), { recursive: true });
  const machine = { cpus: cpus().length, model: cpus()[0]?.model, node: process.version, loadavgStart: loadStart, loadavgEnd: loadavg() };
  await writeFile(out, JSON.stringify({ kind: "outputs-cost", quick, warmS: WARM_S, measureS: MEASURE_S, scrapeS: SCRAPE_S, machine, rows, ratios, samples }, null, 2) + "\n");
  console.log(`wrote ${out}`);
}

await main();
