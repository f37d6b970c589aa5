// The daemon's log, as `firebreak run` and the demo write it (the same factory), has each key once
// per line and ISO times: a real Modbus simulator, a device that does not answer and a real
// Mosquitto make the driver, MQTT and rule components all write lines.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadSiteConfig } from "../../src/config/load.js";
import type { SiteConfig } from "../../src/config/types.js";
import { systemClock } from "../../src/runtime/clock.js";
import { Daemon } from "../../src/runtime/daemon.js";
import { createLogger } from "../../src/runtime/logger.js";
import { startSimulation, type Simulation } from "../../simulators/simulation.js";
import { ISO_TIME, repeatedKeys } from "../support/log-lines.js";
import { startMosquitto, type Broker } from "../support/mosquitto.js";
import { freePort } from "../support/ports.js";

let dir: string;
let broker: Broker;
let sim: Simulation;
let daemon: Daemon;
const lines: string[] = [];
const waiters: { test: (line: string) => boolean; resolve: () => void }[] = [];

function record(chunk: string): void {
  for (const line of chunk.split("\n")) {
    if (line === "") continue;
    lines.push(line);
    for (const w of waiters.splice(0)) {
      if (w.test(line)) w.resolve();
      else waiters.push(w);
    }
  }
}

/** Resolves once a line matches (already written, or the next ones); fails after `ms`. */
function lineMatching(test: (line: string) => boolean, what: string, ms = 60_000): Promise<void> {
  if (lines.some(test)) return Promise.resolve();
  return new Promise((resolveLine, reject) => {
    const timer = setTimeout(() => reject(new Error(`no log line ${what} within ${ms} ms`)), ms);
    waiters.push({ test, resolve: () => (clearTimeout(timer), resolveLine()) });
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "fb-log-lines-"));
  broker = await startMosquitto();
  const deadPort = await freePort(); // nothing listens here: the room sensor never answers
  await writeFile(
    join(dir, "site.yaml"),
    `site: dc7
profiles_dir: ${resolve("config/profiles")}
rooms: [{ id: r1, zones: [{ id: z1, racks: [{ id: R1, hosts: [h1] }] }] }]
devices:
  - { id: panel-1, profile: clean-agent-panel, zone: z1, modbus: { host: 127.0.0.1, port: 1502 }, poll_interval_ms: 200 }
  - { id: room-1, profile: room-sensor, zone: z1, modbus: { host: 127.0.0.1, port: ${deadPort} }, poll_interval_ms: 200 }
rules:
  - { id: prerelease, kind: threshold, zone: z1, points: [panel-1/preRelease], levels: [{ name: high, value: 0.5, stage: alarm }] }
  - { id: comm, kind: comm_loss, zone: z1, devices: [room-1], after_s: 1 }
mqtt: { url: "${broker.url}" }
state_dir: ${join(dir, "state")}
`,
  );
  const loaded = await loadSiteConfig(join(dir, "site.yaml"));
  sim = await startSimulation({ site: { ...loaded, devices: loaded.devices.filter((d) => d.id === "panel-1") }, clock: systemClock, portOverride: () => 0 });
  const site: SiteConfig = { ...loaded, devices: loaded.devices.map((d) => (d.id === "panel-1" ? { ...d, modbus: { ...d.modbus, port: sim.ports.get(d.id)! } } : d)) };
  daemon = new Daemon({ config: site, clock: systemClock, log: createLogger("debug", { pretty: false, destination: { write: record } }), evaluateEveryMs: 100 });
  daemon.start();
  await Promise.all([
    lineMatching((l) => l.includes('"msg":"mqtt connected"'), "mqtt connected"),
    lineMatching((l) => l.includes('"msg":"modbus device connected"'), "panel-1 connected"),
    lineMatching((l) => l.includes('"msg":"modbus device not answering'), "room-1 not answering"),
    lineMatching((l) => l.includes('"alarm":"comm'), "the comm_loss alarm of room-1"),
  ]);
  await daemon.stop();
}, 150_000);

afterAll(async () => {
  await daemon?.stop();
  await sim?.stop();
  await broker?.destroy();
  await rm(dir, { recursive: true, force: true });
});

describe("the daemon's log lines", () => {
  it("never carry a key twice (checked on the raw text)", () => {
    expect(lines.length).toBeGreaterThan(5);
    const offending = lines.filter((l) => repeatedKeys(l).length > 0);
    expect(offending).toEqual([]);
  });

  it("name the component and device once, as bound", () => {
    const parsed = lines.map((l) => JSON.parse(l) as { msg: string; component?: string; device?: string });
    expect(parsed.find((p) => p.msg === "mqtt connected")).toMatchObject({ component: "mqtt" });
    expect(parsed.find((p) => p.msg === "modbus device connected")).toMatchObject({ component: "modbus", device: "panel-1" });
    expect(parsed.find((p) => p.msg.startsWith("modbus device not answering"))).toMatchObject({ component: "modbus", device: "room-1" });
  });

  it("all have an ISO 8601 UTC time", () => {
    const times = lines.map((l) => (JSON.parse(l) as { time: unknown }).time);
    expect(times.filter((t) => typeof t !== "string" || !ISO_TIME.test(t))).toEqual([]);
  });
});
