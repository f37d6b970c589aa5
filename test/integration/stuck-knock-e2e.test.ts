// End to end, with real parts only (as runaway-e2e.test.ts): the simulated room over Modbus TCP,
// the daemon as its own process, a real Mosquitto. The initiating cell's own sensor is stuck: the
// stuck rule must report it, and the degraded-knock policy must evacuate on off-gas alone well
// before the runaway (issue 9). A stuck sensor with nothing else going on never evacuates.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { loadSiteConfig } from "../../src/config/load.js";
import type { SiteConfig } from "../../src/config/types.js";
import { acceleratedClock, type Clock } from "../../src/runtime/clock.js";
import { loadScenario, startSimulation, type SimEvent, type Simulation } from "../../simulators/simulation.js";
import { startDaemon, type DaemonProcess } from "../support/daemon-process.js";
import { startMosquitto, type Broker } from "../support/mosquitto.js";
import { MqttRecorder } from "../support/mqtt-recorder.js";
import { writeSiteFile } from "../support/site-file.js";

const SPEED = Number(process.env["FB_E2E_SPEED"] ?? 20);
const prefix = "firebreak/v1/dc1";
const STUCK_POINT = "cab2/s1/m3/c7/tempC";

let broker: Broker;
let site: SiteConfig;

beforeAll(async () => {
  broker = await startMosquitto();
  site = await loadSiteConfig("config/example-site.yaml");
});

afterAll(async () => {
  await broker?.destroy();
});

interface Rig {
  clock: Clock;
  sim: Simulation;
  daemon: DaemonProcess;
  rec: MqttRecorder;
  events: SimEvent[];
}

let rig: Rig | undefined;

async function startRig(scenario: string): Promise<Rig> {
  const epoch = Date.now();
  const clock = acceleratedClock(SPEED, epoch);
  const sim = await startSimulation({ site, clock, scenario: await loadScenario(scenario), portOverride: () => 0 });
  const events: SimEvent[] = [];
  for (const kind of ["vent", "runaway", "scenario-step"] as const) sim.on(kind, (e) => events.push(e));
  const file = await writeSiteFile({ ports: sim.ports, mqttUrl: broker.url, staleAfterMs: 10_000 });
  const rec = await MqttRecorder.start(broker.url, `${prefix}/#`);
  const daemon = startDaemon(file, { speed: SPEED, epoch });
  rig = { clock, sim, daemon, rec, events };
  await rec.waitFor((m) => m.topic === `${prefix}/status` && m.json?.status === "online", 15_000, "status online");
  return rig;
}

afterEach(async () => {
  if (rig === undefined) return;
  const r = rig;
  rig = undefined;
  await r.daemon.stop();
  await r.rec.stop();
  await r.sim.stop();
  await clearRetained(broker.url);
});

async function clearRetained(url: string): Promise<void> {
  const rec = await MqttRecorder.start(url, `${prefix}/#`);
  await new Promise((r) => setTimeout(r, 300)); // retained messages arrive right after SUBACK
  const topics = [...new Set(rec.messages.filter((m) => m.retain && m.payload !== "").map((m) => m.topic))];
  await rec.stop();
  if (topics.length === 0) return;
  const mqtt = (await import("mqtt")).default;
  const c = await mqtt.connectAsync(url);
  for (const t of topics) await c.publishAsync(t, "", { retain: true, qos: 1 });
  await c.endAsync();
}

/** Resolves with the first simulation event that matches, or rejects after `timeoutMs` of real time. */
function simEvent(r: Rig, match: (e: SimEvent) => boolean, timeoutMs: number, what: string): Promise<SimEvent> {
  const seen = r.events.find(match);
  if (seen !== undefined) return Promise.resolve(seen);
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
    for (const kind of ["vent", "runaway", "scenario-step"] as const) {
      r.sim.on(kind, (e) => {
        if (!match(e)) return;
        clearTimeout(t);
        resolve(e);
      });
    }
  });
}

/** Resolves once `roomMs` of the shared clock have passed (the room's time, not a sleep of the test's). */
function roomTime(clock: Clock, roomMs: number): Promise<void> {
  return new Promise((resolve) => void clock.setTimeout(resolve, roomMs));
}

const ms = (iso: unknown): number => Date.parse(String(iso));

describe("a stuck sensor on the initiating cell, end to end", () => {
  it("reports the stuck sensor within a minute and evacuates on off-gas alone at least 4 minutes before the runaway", async () => {
    const r = await startRig("stuck-initiating-cell");
    const { rec, clock } = r;
    // When the sensor stuck, and when it became observable: both neighbours read one count (0.1 °C) up.
    const stuckAt = (await simEvent(r, (e) => e.kind === "scenario-step" && e.command?.kind === "stuck", 10_000, "the stuck injection")).at;
    let neighboursMovedAt: number | undefined;
    const watchNeighbours = setInterval(() => {
      const cells = r.sim.state().cells;
      const up = ["cab2/s1/m3/c6", "cab2/s1/m3/c8"].every((c) => Math.round(cells.find((x) => x.cell === c)!.surfaceC * 10) > 240);
      if (up) neighboursMovedAt ??= clock.now();
    }, 20);

    const stuck = await rec.waitFor((m) => m.topic === `${prefix}/alarm/cell-stuck-a` && m.json?.active === true, 60_000, "cell-stuck-a trouble alarm");
    expect(stuck.json).toMatchObject({ class: "trouble", zone: "batt-a" });
    expect(JSON.stringify(stuck.json?.evidence)).toContain(STUCK_POINT);
    const faultAt = ms(stuck.json?.since);
    const zoneFault = await rec.waitFor((m) => m.topic === `${prefix}/zone/batt-a/stage` && m.json?.fault === true && JSON.stringify(m.json.faults).includes("cell-stuck-a"), 20_000, "zone batt-a fault naming cell-stuck-a");
    expect(JSON.stringify(zoneFault.json?.faults)).toContain(STUCK_POINT);

    const trigger = await rec.waitFor((m) => m.topic === `${prefix}/evacuate/batt-a` && m.json !== undefined, 60_000, "the evacuation trigger for batt-a");
    const evacuateAt = ms(trigger.json?.issuedAt);
    expect(trigger.json).toMatchObject({ zone: "batt-a", stage: "evacuate", racks: ["R12", "R13"] });
    // The evidence says the zone went on one knock because the other is blind, and why.
    const evidence = trigger.json?.evidence as { rule: string; reason?: string; point?: string }[];
    const degraded = evidence.find((e) => e.rule === "batt-a:degraded-knock");
    expect(degraded?.reason).toMatch(/^knock cell-temperature in fault: cell-stuck-a: cab2\/s1\/m3\/c7\/tempC stuck/);
    expect(evidence.some((e) => e.rule === "offgas-a")).toBe(true);

    const runawayAt = (await simEvent(r, (e) => e.kind === "runaway", 60_000, "the runaway")).at;
    clearInterval(watchNeighbours);
    expect(neighboursMovedAt).toBeDefined();
    const figures = {
      faultAfterStuckS: (faultAt - stuckAt) / 1000,
      faultAfterNeighboursMovedS: (faultAt - neighboursMovedAt!) / 1000,
      evacuateAfterStartS: (evacuateAt - r.sim.startedAt) / 1000,
      runawayAfterStartS: (runawayAt - r.sim.startedAt) / 1000,
      marginBeforeRunawayS: (runawayAt - evacuateAt) / 1000,
    };
    console.log(`stuck-initiating-cell figures (room seconds): ${JSON.stringify(figures)}`);
    // A stuck sensor reads like a good one until the temperature around it moves: the fault comes
    // within a minute of that (the sensor's first neighbour reading a count up while it does not).
    expect(figures.faultAfterNeighboursMovedS).toBeLessThanOrEqual(60);
    expect(figures.marginBeforeRunawayS).toBeGreaterThanOrEqual(240);
  }, 120_000); // the runaway comes at ~540 s of room time: 27 s at 20x

  it("a stuck sensor alone (sensor-stuck, no heating) is never a fire stage and never evacuates", async () => {
    const r = await startRig("sensor-stuck");
    const { rec, clock } = r;
    // The sentinel cell of the scenario is a fault: proof that the watch runs and sees the cabinet.
    await rec.waitFor((m) => m.topic === `${prefix}/zone/batt-a/stage` && m.json?.fault === true && JSON.stringify(m.json.faults).includes("cab1/s1/m1/c2/tempC"), 30_000, "zone batt-a fault naming the sentinel cell");
    // Six minutes of room time: longer than any stuck rule's flat_s, and than the runaway scenario's evacuation.
    await roomTime(clock, 360_000);
    const stages = rec.on(`${prefix}/zone/batt-a/stage`).filter((m) => m.json !== undefined);
    expect(stages.length).toBeGreaterThan(0);
    expect(stages.every((m) => m.json!.stage === "normal")).toBe(true);
    expect(rec.on(`${prefix}/evacuate/batt-a`).filter((m) => m.payload !== "")).toEqual([]);
    expect(rec.on(`${prefix}/events`).filter((m) => m.json?.type === "zone_stage")).toEqual([]);
  }, 90_000);
});
