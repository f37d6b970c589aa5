// End to end, with real parts only (as runaway-e2e.test.ts): the simulated room over Modbus TCP,
// the daemon as its own process, a real Mosquitto. The initiating cell's own sensor is stuck: the
// stuck rule must report it within a minute of room time of sticking, and the degraded-knock policy
// must evacuate on off-gas alone well before the runaway (issue 9). A stuck sensor with nothing else
// going on never evacuates. The simulated sensors dither by about a count (simulators/sensor-noise.ts),
// as real ones do: a good sensor flickers and a stuck one does not, so the fault needs no heat.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { loadSiteConfig } from "../../src/config/load.js";
import type { SiteConfig } from "../../src/config/types.js";
import { acceleratedClock, type Clock } from "../../src/runtime/clock.js";
import { loadScenario, startSimulation, type SimEvent, type Simulation } from "../../simulators/simulation.js";
import { startDaemon, type DaemonProcess } from "../support/daemon-process.js";
import { startMosquitto, type Broker } from "../support/mosquitto.js";
import { MqttRecorder, type Recorded } from "../support/mqtt-recorder.js";
import { writeSiteFile } from "../support/site-file.js";

const SPEED = Number(process.env["FB_E2E_SPEED"] ?? 20);
// The one-minute figure is a latency in room time: at 20x a loaded 2-core machine's second of real
// delay (a late poll, a slow MQTT delivery) is 20 s of it. That test runs at half the speed.
const LATENCY_SPEED = Number(process.env["FB_E2E_LATENCY_SPEED"] ?? 10);
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
  /** Room time at which a message reached the subscriber (its real arrival time on the shared clock). */
  roomAt: (m: Recorded) => number;
  /** Room time the scenario's 0 s was played at: once the daemon watched the room. */
  playedAt: number;
}

let rig: Rig | undefined;

/**
 * The room starts quiet and the daemon watches it; the scenario is played once both zones are
 * judged, so its 0 s is a moment the daemon sees (a daemon already running when a sensor sticks),
 * and no figure below includes the daemon's start-up (seconds of real time: minutes of room time at 20x).
 */
async function startRig(name: string, speed = SPEED): Promise<Rig> {
  const epoch = Date.now();
  const clock = acceleratedClock(speed, epoch);
  const scenario = await loadScenario(name);
  const sim = await startSimulation({ site, clock, portOverride: () => 0, ...(scenario.sensorNoise !== undefined ? { noise: scenario.sensorNoise } : {}) });
  const events: SimEvent[] = [];
  for (const kind of ["vent", "runaway", "scenario-step"] as const) sim.on(kind, (e) => events.push(e));
  const file = await writeSiteFile({ ports: sim.ports, mqttUrl: broker.url, staleAfterMs: 10_000 });
  const rec = await MqttRecorder.start(broker.url, `${prefix}/#`);
  const daemon = startDaemon(file, { speed, epoch });
  const partial = { clock, sim, daemon, rec, events, roomAt: (m: Recorded) => epoch + (m.at - epoch) * speed };
  rig = { ...partial, playedAt: Number.NaN };
  await rec.waitFor((m) => m.topic === `${prefix}/status` && m.json?.status === "online", 15_000, "status online");
  for (const zone of ["batt-a", "batt-b"]) await rec.waitFor((m) => m.topic === `${prefix}/zone/${zone}/stage` && m.json?.judged === true, 30_000, `${zone} judged`);
  rig.playedAt = clock.now();
  sim.play(scenario);
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
    const r = await startRig("stuck-initiating-cell", LATENCY_SPEED);
    const { rec } = r;
    // When the sensor stuck: the scenario's step at 0 s, played while the daemon watches.
    const stuckAt = (await simEvent(r, (e) => e.kind === "scenario-step" && e.command?.kind === "stuck", 10_000, "the stuck injection")).at;

    const stuck = await rec.waitFor((m) => m.topic === `${prefix}/alarm/cell-stuck-a` && m.json?.active === true, 60_000, "cell-stuck-a trouble alarm");
    // Room time when the trouble reached the subscriber: what an operator sees, end to end.
    const troubleSeenAt = r.roomAt(stuck);
    // The fault came from the dither, not from heat: neither neighbour of the stuck cell has warmed by a count yet.
    const neighbours = r.sim.state().cells.filter((c) => ["cab2/s1/m3/c6", "cab2/s1/m3/c8"].includes(c.cell));
    expect(neighbours.map((c) => c.surfaceC < 24.05)).toEqual([true, true]);
    expect(stuck.json).toMatchObject({ class: "trouble", zone: "batt-a" });
    expect(JSON.stringify(stuck.json?.evidence)).toContain(STUCK_POINT);
    // Only the stuck sensor: the dither of the good ones never looks stuck.
    const stuckPoints = (stuck.json?.evidence as { point?: string }[]).map((e) => e.point);
    expect(stuckPoints).toEqual([STUCK_POINT]);
    const faultAt = ms(stuck.json?.since);
    // The message that names the stuck point: a cabinet that timed out on a loaded machine at the
    // same moment fills the first places of each rule's fault list (three named per rule).
    const zoneFault = await rec.waitFor((m) => m.topic === `${prefix}/zone/batt-a/stage` && m.json?.fault === true && (m.json.faults as { rule?: string; point?: string }[]).some((f) => f.rule === "cell-stuck-a" && f.point === STUCK_POINT), 30_000, "zone batt-a fault naming cell-stuck-a and the stuck point");
    const zoneFaultSeenAt = r.roomAt(zoneFault);

    const trigger = await rec.waitFor((m) => m.topic === `${prefix}/evacuate/batt-a` && m.json !== undefined, 60_000, "the evacuation trigger for batt-a");
    const evacuateAt = ms(trigger.json?.issuedAt);
    expect(trigger.json).toMatchObject({ zone: "batt-a", stage: "evacuate", racks: ["R12", "R13"] });
    // The evidence says the zone went on one knock because the other is blind, and why.
    const evidence = trigger.json?.evidence as { rule: string; reason?: string; point?: string }[];
    const degraded = evidence.find((e) => e.rule === "batt-a:degraded-knock");
    // The reason names the knock's first fault: the stuck sensor, unless a late poll on a loaded
    // machine made another of its points bad at that moment; the zone's faults then still name it.
    expect(degraded?.reason).toMatch(/^knock cell-temperature in fault: /);
    const atEvacuate = rec.on(`${prefix}/zone/batt-a/stage`).find((m) => m.json?.stage === "evacuate");
    expect((atEvacuate?.json?.faults as { rule?: string; point?: string }[]).some((f) => f.rule === "cell-stuck-a" && f.point === STUCK_POINT)).toBe(true);
    expect(evidence.some((e) => e.rule === "offgas-a")).toBe(true);

    const runawayAt = (await simEvent(r, (e) => e.kind === "runaway", 60_000, "the runaway")).at;
    // No other stuck trouble on any good sensor of the zone over the whole run.
    const stuckAlarms = rec.on(`${prefix}/alarm/cell-stuck-a`).concat(rec.on(`${prefix}/alarm/cell-stuck-slow-a`)).filter((m) => m.json?.active === true);
    const flagged = new Set(stuckAlarms.flatMap((m) => (m.json!.evidence as { point?: string }[]).map((e) => e.point)));
    expect([...flagged]).toEqual([STUCK_POINT]);
    expect(chattering(rec)).toEqual([]);
    const figures = {
      faultAfterStuckS: (faultAt - stuckAt) / 1000,
      troubleSeenAfterStuckS: (troubleSeenAt - stuckAt) / 1000,
      zoneFaultSeenAfterStuckS: (zoneFaultSeenAt - stuckAt) / 1000,
      evacuateAfterStartS: (evacuateAt - r.playedAt) / 1000,
      runawayAfterStartS: (runawayAt - r.playedAt) / 1000,
      marginBeforeRunawayS: (runawayAt - evacuateAt) / 1000,
    };
    console.log(`stuck-initiating-cell figures (room seconds): ${JSON.stringify(figures)}`);
    // Issue 9: the stuck sensor is a fault within a minute of room time of sticking, measured from
    // the injection to the trouble alarm and the zone's fault arriving at the MQTT subscriber.
    expect(figures.troubleSeenAfterStuckS).toBeLessThanOrEqual(60);
    expect(figures.zoneFaultSeenAfterStuckS).toBeLessThanOrEqual(60);
    expect(figures.marginBeforeRunawayS).toBeGreaterThanOrEqual(240);
  }, 150_000); // the runaway comes at ~540 s of room time: 54 s at 10x

  it("a stuck sensor alone (sensor-stuck, no heating) is reported, is never a fire stage and never evacuates", async () => {
    const r = await startRig("sensor-stuck");
    const { rec } = r;
    // The sentinel cell of the scenario is a fault: proof that the watch runs and sees the cabinet.
    await rec.waitFor((m) => m.topic === `${prefix}/zone/batt-a/stage` && m.json?.fault === true && JSON.stringify(m.json.faults).includes("cab1/s1/m1/c2/tempC"), 30_000, "zone batt-a fault naming the sentinel cell");
    // The stuck cell is a module's end cell (one neighbour): the whole-module rule finds it, from the dither of the other cells.
    const stuck = await rec.waitFor((m) => m.topic === `${prefix}/alarm/cell-stuck-slow-a` && m.json?.active === true, 30_000, "cell-stuck-slow-a naming the stuck end cell");
    const stuckAt = r.events.find((e) => e.kind === "scenario-step" && e.command?.kind === "stuck")!.at;
    console.log(`sensor-stuck: end cell reported stuck ${((r.roomAt(stuck) - stuckAt) / 1000).toFixed(1)} s of room time after it stuck`);
    // Ten minutes of room time in all: many times every stuck rule's flat_s, and past the runaway scenario's evacuation.
    await untilRoomTime(r, TEN_MINUTES_MS);
    summary("sensor-stuck", r);
    const stages = rec.on(`${prefix}/zone/batt-a/stage`).filter((m) => m.json !== undefined);
    expect(stages.length).toBeGreaterThan(0);
    // `unknown` until the daemon has judged the zone (never published as normal), then normal.
    expect(stages.every((m) => ["unknown", "normal"].includes(m.json!.stage as string))).toBe(true);
    expect(rec.on(`${prefix}/evacuate/batt-a`).filter((m) => m.payload !== "")).toEqual([]);
    expect(rec.on(`${prefix}/events`).filter((m) => m.json?.type === "zone_stage").every((m) => m.json!.stage === "normal")).toBe(true);
    // The stuck cell, and no good one (the dither never makes a good sensor look stuck).
    expect(plausibilityTroubles(rec)).toEqual(["cell-stuck-slow-a cab1/s1/m1/c1/tempC"]);
    expect(chattering(rec)).toEqual([]);
  }, 120_000);
});

const TEN_MINUTES_MS = 600_000;

/** Resolves once the scenario has run `roomMs` of room time. */
function untilRoomTime(r: Rig, roomMs: number): Promise<void> {
  return roomTime(r.clock, Math.max(0, r.playedAt + roomMs - r.clock.now()));
}

/** One line for the record: what the plausibility rules flagged and what chattered in a run. */
function summary(name: string, r: Rig): void {
  const alarms = new Set(r.rec.messages.filter((m) => m.topic.startsWith(`${prefix}/alarm/`) && m.json?.active === true).map((m) => m.topic.slice(prefix.length + 7)));
  console.log(`${name}, ${((r.clock.now() - r.playedAt) / 1000).toFixed(0)} s of room time: plausibility troubles ${JSON.stringify(plausibilityTroubles(r.rec))}, chattering ${JSON.stringify(chattering(r.rec))}, alarms active at some point ${JSON.stringify([...alarms].sort())}`);
}

/** Every (rule, point) a stuck or disagree rule flagged during the run, sorted. */
function plausibilityTroubles(rec: MqttRecorder): string[] {
  const rules = ["cell-stuck-a", "cell-stuck-slow-a", "cell-stuck-b", "room-disagree"];
  const flagged = rules.flatMap((rule) =>
    rec
      .on(`${prefix}/alarm/${rule}`)
      .filter((m) => m.json?.active === true)
      .flatMap((m) => (m.json!.evidence as { point?: string }[]).map((e) => `${rule} ${e.point}`)),
  );
  return [...new Set(flagged)].sort();
}

/**
 * Condition and plausibility alarms the lifecycle's chattering filter marked (the payload's
 * `chattering` field). `<rule>:fault`, comm-loss and flood alarms are left out: on a loaded 2-core
 * machine at 20x polls time out and readings go stale for seconds of room time, which is the
 * machine, not the sensors' noise.
 */
function chattering(rec: MqttRecorder): string[] {
  // `<device>:poll_rate`: at 20x a loaded machine may not keep a device's rate, and says so.
  const machine = (topic: string): boolean => topic.endsWith(":fault") || topic.endsWith(":poll_rate") || /\/alarm\/(comm-|alarm-flood)/.test(topic);
  return [...new Set(rec.messages.filter((m) => m.topic.startsWith(`${prefix}/alarm/`) && !machine(m.topic) && m.json?.chattering !== undefined).map((m) => m.topic))];
}

describe("sensor noise over ten room-minutes: no false plausibility trouble, no chattering", () => {
  it("normal: no condition alarm, no plausibility trouble, every zone normal", async () => {
    const r = await startRig("normal");
    await untilRoomTime(r, TEN_MINUTES_MS);
    summary("normal", r);
    expect(plausibilityTroubles(r.rec)).toEqual([]);
    expect(chattering(r.rec)).toEqual([]);
    // `<rule>:fault` and comm troubles are left out: on a loaded 2-core machine at 20x a poll can be
    // late by seconds of room time (a stale reading), which is the machine, not the sensors.
    const active = r.rec.messages.filter((m) => m.topic.startsWith(`${prefix}/alarm/`) && m.json?.active === true && m.json.class !== "trouble").map((m) => m.topic);
    expect([...new Set(active)]).toEqual([]);
    for (const zone of ["batt-a", "batt-b"]) {
      expect(r.rec.on(`${prefix}/zone/${zone}/stage`).every((m) => ["unknown", "normal"].includes(m.json?.stage as string))).toBe(true);
    }
  }, 120_000);

  it("cell-runaway (no stuck sensor): the good sensors around the runaway are never stuck, no alarm chatters", async () => {
    const r = await startRig("cell-runaway");
    await untilRoomTime(r, TEN_MINUTES_MS);
    summary("cell-runaway", r);
    expect(r.events.some((e) => e.kind === "runaway")).toBe(true);
    expect(plausibilityTroubles(r.rec)).toEqual([]);
    expect(chattering(r.rec)).toEqual([]);
  }, 120_000);
});
