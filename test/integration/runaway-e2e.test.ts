// End to end, with real parts only: the simulated battery room (Modbus TCP on loopback), the
// daemon as its own process, a real Mosquitto, and a subscriber. Simulator and daemon share one
// accelerated clock, so the rules see real-world rates while the test takes seconds.
//
// At 20x, one real second of process start-up on a loaded machine is 20 s of room time. So an
// incident is started only once the daemon is evaluating (otherwise how much of it the daemon sees
// depends on how fast the machine starts a process), each test has a broker of its own (no
// retained stage, trigger or offline status, and no persistent session, leaks into the next), and
// every wait is on a message, a simulator event or a daemon log line, with a bound.
import { rm } from "node:fs/promises";
import { dirname } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { loadSiteConfig } from "../../src/config/load.js";
import type { SiteConfig } from "../../src/config/types.js";
import { acceleratedClock, type Clock } from "../../src/runtime/clock.js";
import { loadScenario, startSimulation, type SimEvent, type SimEventKind, type Simulation } from "../../simulators/simulation.js";
import { startDaemon, type DaemonProcess } from "../support/daemon-process.js";
import { startMosquitto, type Broker } from "../support/mosquitto.js";
import { MqttRecorder, type Recorded } from "../support/mqtt-recorder.js";
import { writeSiteFile } from "../support/site-file.js";

const SPEED = 20;
const prefix = "firebreak/v1/dc1";
const stageOrder = ["normal", "watch", "pre_alarm", "alarm", "evacuate"];

let site: SiteConfig;

beforeAll(async () => {
  site = await loadSiteConfig("config/example-site.yaml");
});

interface Room {
  broker: Broker;
  clock: Clock;
  epoch: number;
  sim: Simulation;
  rec: MqttRecorder;
  file: string;
}

/** Stops what a test started, last started first; run by afterEach even when a start failed half-way. */
const cleanups: (() => Promise<unknown>)[] = [];

afterEach(async () => {
  const errors: unknown[] = [];
  while (cleanups.length > 0) await cleanups.pop()!().catch((e: unknown) => errors.push(e));
  if (errors.length > 0) throw errors[0];
});

/** Broker, simulated room and a subscriber to everything the daemon publishes; no daemon yet. */
async function startRoom(scenario: string): Promise<Room> {
  const broker = await startMosquitto();
  cleanups.push(() => broker.destroy());
  const epoch = Date.now();
  const clock = acceleratedClock(SPEED, epoch);
  const sim = await startSimulation({ site, clock, scenario: await loadScenario(scenario), portOverride: () => 0 });
  cleanups.push(() => sim.stop());
  // Readings go stale after 30 s of room time: 1.5 s of real time at 20x. The default (3 polls, 3 s,
  // 150 ms real) and the earlier 10 s (0.5 s real) let a loaded machine's scheduling gaps blind the
  // rules: measured under load, cell temperatures flapped bad/stale ("last reading 11 s old") for a
  // minute of room time after the short, delaying the rate-of-rise warning towards the vent.
  const file = await writeSiteFile({ ports: sim.ports, mqttUrl: broker.url, staleAfterMs: 30_000 });
  cleanups.push(() => rm(dirname(file), { recursive: true, force: true }));
  const rec = await MqttRecorder.start(broker.url, `${prefix}/#`);
  cleanups.push(() => rec.stop());
  return { broker, clock, epoch, sim, rec, file };
}

/** Start the daemon on the room's clock; resolve once it is online and its rules are evaluating. */
async function startWatching(room: Room): Promise<DaemonProcess> {
  const daemon = startDaemon(room.file, { speed: SPEED, epoch: room.epoch });
  cleanups.push(() => daemon.stop());
  await room.rec.waitFor((m) => m.topic === `${prefix}/status` && m.json?.status === "online", 20_000, "status online");
  // "every point has its first reading: rules evaluating", or "start-up grace over: rules evaluating; …"
  await daemon.waitForOutput("rules evaluating", 20_000);
  return daemon;
}

/** The next simulator event of a kind, bounded in real time. */
function nextSimEvent(sim: Simulation, kind: SimEventKind, timeoutMs: number): Promise<SimEvent> {
  return new Promise((resolve, reject) => {
    let done = false;
    const timer = setTimeout(() => {
      done = true;
      reject(new Error(`no simulator "${kind}" event within ${timeoutMs} ms`));
    }, timeoutMs);
    sim.on(kind, (e) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(e);
    });
  });
}

const stageMessages = (rec: MqttRecorder, zone: string): Recorded[] => rec.on(`${prefix}/zone/${zone}/stage`).filter((m) => m.json !== undefined);

describe("a cell going into thermal runaway, end to end", () => {
  it("escalates zone batt-a step by step to evacuate and publishes one trigger with its racks and hosts", async () => {
    // The cell-runaway scenario's short, started once the daemon is watching, as in the field, where
    // the daemon has run for months before a cell shorts. Started with the room instead (at_s: 20),
    // the short raced the daemon's start-up: on a loaded machine the daemon came up ~100 s of room
    // time late, its rate-of-rise rule had not yet the 30 s of history it needs when the cell vented,
    // and the zone rightly jumped normal -> pre_alarm with skipped: ["watch"] (the next test).
    const room = await startRoom("normal");
    const { rec, sim } = room;
    const daemon = await startWatching(room);
    const short = (await loadScenario("cell-runaway")).steps[0]!.command;
    let ventAt: number | undefined;
    sim.on("vent", (e) => (ventAt ??= e.at));
    sim.inject(short);

    // About 200 s of room time after the short: 10 s at 20x.
    const trigger = await rec.waitFor((m) => m.topic === `${prefix}/evacuate/batt-a` && m.json !== undefined, 60_000, "the evacuation trigger for batt-a");
    expect(trigger.retain).toBe(false); // a live subscriber gets it as a fresh publish
    expect(trigger.qos).toBe(1);
    expect(trigger.json).toMatchObject({
      v: 1,
      id: "dc1:batt-a:0001",
      zone: "batt-a",
      stage: "evacuate",
      racks: ["R12", "R13"],
      hosts: ["k8s-node-31", "k8s-node-32", "k8s-node-33", "k8s-node-34"],
    });
    expect(typeof trigger.json?.reason).toBe("string");
    expect((trigger.json?.evidence as unknown[]).length).toBeGreaterThan(0);

    // The stage climbed without skipping silently: each change names the one before it, and any
    // jump lists the stages it passed. Transitions are read from the numbered events; the retained
    // stage topic also carries fault-only updates of the same picture.
    const stageEvents = rec.on(`${prefix}/events`).filter((m) => m.json?.type === "zone_stage" && m.json.zone === "batt-a");
    // The zone's first verdict after start comes from `unknown` (it was published as not yet judged, never as normal).
    expect(stageEvents[0]?.json).toMatchObject({ stage: "normal", previous: "unknown" });
    const changes = stageEvents.slice(1);
    const sinceOf = (m: Recorded): number => Date.parse(String(m.json!.since));
    expect(changes.length).toBeGreaterThan(0);
    let current = "normal";
    for (const m of changes) {
      const { stage, previous, skipped } = m.json as { stage: string; previous: string; skipped: string[] };
      expect(previous).toBe(current);
      expect(stageOrder.indexOf(stage)).toBeGreaterThan(stageOrder.indexOf(previous));
      expect([previous, ...skipped, stage]).toEqual(stageOrder.slice(stageOrder.indexOf(previous), stageOrder.indexOf(stage) + 1));
      current = stage;
    }
    expect(current).toBe("evacuate");
    // The physics orders the signals (docs/sources.md#offgas-first): the cell's rise first, then its vent (off-gas),
    // then its deviation from the module, then both at alarm: one step at a time. A daemon watching
    // from before the short sees the rise ~55 s of room time (~2.7 s real) before the vent.
    expect(changes.map((m) => m.json!.stage)).toEqual(["watch", "pre_alarm", "alarm", "evacuate"]);
    expect(JSON.stringify(changes[0]!.json!.evidence)).toContain('"rule":"cell-ror-a"');
    expect(JSON.stringify(changes[1]!.json!.evidence)).toContain('"rule":"offgas-a"');
    // The off-gas alarm rose with the gas: pre_alarm, then alarm, never down a level. On a loaded
    // machine a poll can time out or a reading go stale (real-time hiccups are 20x longer in room
    // time); the condition alarm then returns to normal while its trouble alarm offgas-a:fault says
    // the detector's reading is not good, and comes back with the next good reading. What must never
    // happen is a return to normal while the detector reads good: that would be a silent pass.
    const offgasAlarm = rec.on(`${prefix}/alarm/offgas-a`).filter((m) => m.json !== undefined);
    const raised = offgasAlarm.filter((m) => m.json!.active === true).map((m) => [m.json!.stage, m.json!.priority, m.json!.state]);
    expect(raised[0]).toEqual(["pre_alarm", "medium", "unack"]);
    expect(raised.at(-1)).toEqual(["alarm", "high", "unack"]);
    expect(raised.every(([st], i) => i === 0 || stageOrder.indexOf(String(st)) >= stageOrder.indexOf(String(raised[i - 1]![0])))).toBe(true);
    const sensing = rec.on(`${prefix}/alarm/offgas-a:fault`).filter((m) => m.json !== undefined);
    const sensingBadAt = (t: number): boolean => sensing.filter((m) => sinceOf(m) <= t).at(-1)?.json!.active === true;
    for (const m of offgasAlarm.filter((x) => x.json!.active === false)) {
      expect(sensingBadAt(sinceOf(m)), `offgas-a returned to normal at ${String(m.json!.since)} while its reading was good`).toBe(true);
    }
    // The warning came from the battery, not from a fault: the evidence names a cell or the off-gas detector.
    const evidence = JSON.stringify(changes.at(-1)!.json!.evidence);
    expect(evidence).toMatch(/offgas-a\/ppm|cab2\/s1\/m3\/c7\/tempC/);
    // The rise warned before the cell vented, and the off-gas warning came after it, never before
    // (nothing is invented). Simulator and daemon share one clock, so the times compare.
    expect(ventAt).toBeDefined();
    expect(sinceOf(changes[0]!)).toBeLessThan(ventAt!);
    expect(sinceOf(changes[1]!)).toBeGreaterThanOrEqual(ventAt!);

    // Zone batt-b was never touched: not yet judged, then normal.
    expect(stageMessages(rec, "batt-b").map((m) => m.json!.stage)).toContain("normal");
    expect(stageMessages(rec, "batt-b").every((m) => ["unknown", "normal"].includes(m.json!.stage as string))).toBe(true);

    // Events are numbered without gaps.
    const seqs = rec.on(`${prefix}/events`).map((m) => m.json!.seq as number);
    expect(seqs.length).toBeGreaterThan(2);
    expect(seqs).toEqual(seqs.map((_, i) => seqs[0]! + i));
    expect(rec.on(`${prefix}/events`).every((m) => m.qos === 1 && !m.retain)).toBe(true);

    // A late subscriber sees the retained picture: trigger, stage and status.
    const late = await MqttRecorder.start(room.broker.url, `${prefix}/#`);
    cleanups.push(() => late.stop());
    const retainedTrigger = await late.waitFor((m) => m.topic === `${prefix}/evacuate/batt-a`, 10_000, "retained trigger");
    expect(retainedTrigger.retain).toBe(true);
    expect(retainedTrigger.json?.id).toBe("dc1:batt-a:0001");
    const retainedStage = await late.waitFor((m) => m.topic === `${prefix}/zone/batt-a/stage`, 10_000, "retained stage");
    expect(retainedStage.json?.stage).toBe("evacuate");

    expect(daemon.output()).not.toMatch(/"level":(50|60)[^}]*"component":"(modbus|rules)"/);
  }, 120_000); // the sum of its bounds, so a slow step fails with its own message

  it("a daemon that starts after the cell vented jumps over watch and lists it in `skipped`, never silently", async () => {
    // The room plays the scenario from its own start; the daemon comes up only after the vent. Its
    // rate-of-rise rule needs 30 s of history (half its window) before it judges, the off-gas rule
    // 2 s: the zone cannot see watch first, and must not hold back pre_alarm to show it.
    const room = await startRoom("cell-runaway");
    await nextSimEvent(room.sim, "vent", 30_000); // ~150 s of room time: 7.5 s at 20x
    await startWatching(room);
    // The first verdict (from `unknown`) may be normal while the rules' on-delays and windows fill: skip it.
    const first = await room.rec.waitFor(
      (m) => m.topic === `${prefix}/events` && m.json?.type === "zone_stage" && m.json.zone === "batt-a" && m.json.previous !== "unknown",
      20_000,
      "the first stage change of batt-a",
    );
    const { stage, previous, skipped } = first.json as { stage: string; previous: string; skipped: string[] };
    expect(previous).toBe("normal");
    expect(skipped).toContain("watch");
    expect([previous, ...skipped, stage]).toEqual(stageOrder.slice(0, stageOrder.indexOf(stage) + 1));
    expect(JSON.stringify(first.json!.evidence)).toContain('"rule":"offgas-a"');
    // The retained stage carries the same jump for a subscriber that missed the event.
    const retained = await room.rec.waitFor((m) => m.topic === `${prefix}/zone/batt-a/stage` && m.json?.stage === stage, 10_000, `zone batt-a stage ${stage}`);
    expect(retained.json).toMatchObject({ previous: "normal", skipped });
  }, 90_000);

  it("a device going silent gives a comm fault, never normal and never a fire alarm", async () => {
    const room = await startRoom("normal");
    const { rec, sim, clock } = room;
    // Silence before the rules evaluate would be judged by the start-up grace (40 s of room time),
    // not by the comm_loss rule: wait until the daemon evaluates.
    await startWatching(room);
    const silentAt = clock.now();
    sim.inject({ kind: "silent", device: "offgas-a", on: true });

    const fault = await rec.waitFor(
      (m) => m.topic === `${prefix}/zone/batt-a/stage` && m.json?.fault === true && JSON.stringify(m.json.faults).includes("offgas-a"),
      20_000,
      "zone batt-a fault naming offgas-a",
    );
    expect(fault.json?.stage).toBe("normal");
    expect(JSON.stringify(fault.json?.faults)).toContain("offgas-a");
    const trouble = await rec.waitFor((m) => m.topic === `${prefix}/alarm/comm-a` && m.json?.active === true, 20_000, "comm-a trouble alarm");
    expect(trouble.json).toMatchObject({ class: "trouble", zone: "batt-a" });
    // Decided within a bounded time of the silence, read on the daemon's clock (the alarm's `since`),
    // not when this test got round to look: on an accelerated clock comm_loss's after_s (3 s) is
    // raised to its real-time floor, 2 s real = 40 s of room time at 20x (src/runtime/real-time-floors.ts),
    // plus a poll, a timeout and the evaluation tick.
    expect(Date.parse(String(trouble.json?.since)) - silentAt).toBeLessThan(2_000 * SPEED + 25_000);

    // Never a stage above normal, and no evacuation, while the detector is silent.
    expect(stageMessages(rec, "batt-a").every((m) => ["unknown", "normal"].includes(m.json!.stage as string))).toBe(true);
    expect(rec.on(`${prefix}/evacuate/batt-a`)).toEqual([]);

    // It comes back: the fault clears.
    sim.inject({ kind: "silent", device: "offgas-a", on: false });
    await rec.waitFor((m) => m.topic === `${prefix}/alarm/comm-a` && m.json?.active === false && m.at > trouble.at, 30_000, "comm-a back to inactive");
    await rec.waitFor((m) => m.topic === `${prefix}/zone/batt-a/stage` && m.at > fault.at && !JSON.stringify(m.json?.faults).includes("offgas-a"), 30_000, "offgas-a gone from the zone's faults");
  }, 150_000); // the sum of its bounds

  it("SIGHUP does not stop the watch; killing the daemon publishes offline through the Last Will", async () => {
    const room = await startRoom("normal");
    const { rec } = room;
    const daemon = await startWatching(room);
    daemon.signal("SIGHUP");
    await daemon.waitForOutput("SIGHUP: reloading the config is not supported yet", 10_000);
    expect(daemon.running()).toBe(true);
    expect(rec.on(`${prefix}/status`).every((m) => m.json?.status === "online")).toBe(true);
    await daemon.kill();
    const offline = await rec.waitFor((m) => m.topic === `${prefix}/status` && m.json?.status === "offline", 10_000, "status offline (Last Will)");
    expect(offline.qos).toBe(1);
    const late = await MqttRecorder.start(room.broker.url, `${prefix}/status`);
    cleanups.push(() => late.stop());
    const retained = await late.waitFor((m) => m.topic === `${prefix}/status`, 10_000, "retained status");
    expect(retained.retain).toBe(true);
    expect(retained.json?.status).toBe("offline");
  }, 90_000);
});
