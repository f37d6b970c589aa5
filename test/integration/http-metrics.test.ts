// Health and metrics over HTTP from `firebreak run` (README "Health and metrics"): a real broker,
// the simulated room, a bearer token; /readyz follows the broker, /metrics carries the figures the
// parts keep, in the Prometheus text format.
import { appendFile, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadSiteConfig } from "../../src/config/load.js";
import { systemClock } from "../../src/runtime/clock.js";
import { loadScenario, startSimulation, type Simulation } from "../../simulators/simulation.js";
import { startDaemon, type DaemonProcess } from "../support/daemon-process.js";
import { startMosquitto, type Broker } from "../support/mosquitto.js";
import { freePort } from "../support/ports.js";
import { writeSiteFile } from "../support/site-file.js";

const TOKEN = "s3cret-scrape-token";
let broker: Broker;
let sim: Simulation;
let daemon: DaemonProcess;
let base: string;

beforeAll(async () => {
  broker = await startMosquitto();
  const site = await loadSiteConfig("config/example-site.yaml");
  sim = await startSimulation({ site, clock: systemClock, scenario: await loadScenario("normal"), portOverride: () => 0 });
  const file = await writeSiteFile({ ports: sim.ports, mqttUrl: broker.url });
  const dir = await mkdtemp(join(tmpdir(), "fb-http-"));
  await writeFile(join(dir, "token"), `${TOKEN}\n`);
  const port = await freePort();
  await appendFile(file, `http:\n  listen: 127.0.0.1:${port}\n  bearer_token_file: ${join(dir, "token")}\n`);
  base = `http://127.0.0.1:${port}`;
  daemon = startDaemon(file);
  await daemon.waitForOutput("health and metrics listening", 15_000);
}, 30_000);

afterAll(async () => {
  await daemon?.stop();
  await sim?.stop();
  await broker?.stop();
});

/** `token` null: no Authorization header at all. */
const get = (path: string, token: string | null = TOKEN) => fetch(base + path, token === null ? {} : { headers: { authorization: `Bearer ${token}` } });

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The value of one series in a Prometheus text exposition, e.g. `firebreak_mqtt_connected`. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe("health and metrics over HTTP", () => {
  it("refuses every path without the bearer token, and a wrong one", async () => {
    expect((await get("/healthz", null)).status).toBe(401);
    expect((await get("/metrics", "wrong")).status).toBe(401);
    expect((await get("/healthz")).status).toBe(200);
    expect((await get("/nope")).status).toBe(404);
  });

  it("/readyz answers 200 once devices are started, the state restored and the broker connected", async () => {
    const body = await until("ready", async () => {
      const r = await get("/readyz");
      return r.status === 200 ? ((await r.json()) as unknown) : undefined;
    }, 15_000);
    expect(body).toEqual({ ready: true, devicesStarted: true, stateRestored: true, brokerConnected: true });
  }, 20_000);

  it("/metrics has per-device polls, point qualities, zones, MQTT figures and the process's own", async () => {
    const text = await until("polls counted", async () => {
      const t = await (await get("/metrics")).text();
      return (sample(t, 'firebreak_device_polls_total{device="cab1"}') ?? 0) >= 2 ? t : undefined;
    }, 15_000);
    expect(text).toContain("# TYPE firebreak_device_polls_total counter");
    expect(text).toContain("# TYPE firebreak_poll_duration_seconds histogram");
    expect(sample(text, 'firebreak_device_connected{device="cab1",protocol="modbus"}')).toBe(1);
    expect(sample(text, 'firebreak_poll_duration_seconds_count{device="cab1"}')).toBeGreaterThanOrEqual(2);
    expect(text).toMatch(/^firebreak_points\{device="cab1",quality="good",reason=""\} [1-9]\d*$/m);
    expect(text).toMatch(/^firebreak_zone_stage\{zone="[^"]+",stage="normal"\} 1$/m);
    expect(sample(text, "firebreak_open_triggers")).toBe(0);
    expect(sample(text, "firebreak_mqtt_connected")).toBe(1);
    expect(sample(text, "firebreak_mqtt_queue_limit")).toBe(10000);
    expect(sample(text, 'firebreak_rule_evaluations_total{trigger="poll"}')).toBeGreaterThan(0);
    expect(text).toMatch(/^nodejs_eventloop_lag_seconds \d/m);
    expect(text).toMatch(/^process_resident_memory_bytes \d/m);
    if (process.env.FB_METRICS_SAMPLE !== undefined) await writeFile(process.env.FB_METRICS_SAMPLE, text);
  }, 20_000);

  it("/readyz turns 503 with brokerConnected false when the broker goes away", async () => {
    await broker.stop();
    const body = await until("not ready", async () => {
      const r = await get("/readyz");
      return r.status === 503 ? ((await r.json()) as { brokerConnected: boolean }) : undefined;
    }, 15_000);
    expect(body.brokerConnected).toBe(false);
    expect((await get("/healthz")).status).toBe(200);
    const text = await (await get("/metrics")).text();
    expect(sample(text, "firebreak_ready")).toBe(0);
    expect(sample(text, 'firebreak_ready{check="broker_connected"}')).toBe(0);
  }, 20_000);
});
