// End to end, with real parts only: the simulated battery room (Modbus TCP on loopback), the
// daemon as its own process, a real Mosquitto, and a subscriber. Simulator and daemon share one
// accelerated clock, so the rules see real-world rates while the test takes seconds.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { loadSiteConfig } from "../../src/config/load.js";
import type { SiteConfig } from "../../src/config/types.js";
import { acceleratedClock, type Clock } from "../../src/runtime/clock.js";
import { loadScenario, startSimulation, type Simulation } from "../../simulators/simulation.js";
import { startDaemon, type DaemonProcess } from "../support/daemon-process.js";
import { startMosquitto, type Broker } from "../support/mosquitto.js";
import { MqttRecorder, type Recorded } from "../support/mqtt-recorder.js";
import { writeSiteFile } from "../support/site-file.js";

const SPEED = 20;
const prefix = "firebreak/v1/dc1";
const stageOrder = ["normal", "watch", "pre_alarm", "alarm", "evacuate"];

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
}

let rig: Rig | undefined;

async function startRig(scenario: string): Promise<Rig> {
  const epoch = Date.now();
  const clock = acceleratedClock(SPEED, epoch);
  const sim = await startSimulation({ site, clock, scenario: await loadScenario(scenario), portOverride: () => 0 });
  // 10 s of room time is half a real second at 20x: enough for a busy 2-core machine's scheduling.
  const file = await writeSiteFile({ ports: sim.ports, mqttUrl: broker.url, staleAfterMs: 10_000 });
  const rec = await MqttRecorder.start(broker.url, `${prefix}/#`);
  const daemon = startDaemon(file, { speed: SPEED, epoch });
  rig = { clock, sim, daemon, rec };
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
  // The broker is shared: clear what this test left retained so the next one starts clean.
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

const stageMessages = (rec: MqttRecorder, zone: string): Recorded[] => rec.on(`${prefix}/zone/${zone}/stage`).filter((m) => m.json !== undefined);

describe("a cell going into thermal runaway, end to end", () => {
  it("escalates zone batt-a step by step to evacuate and publishes one trigger with its racks and hosts", async () => {
    const { rec, daemon, sim } = await startRig("cell-runaway");
    let ventAt: number | undefined;
    sim.on("vent", (e) => (ventAt ??= e.at));

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
    // then its deviation from the module, then both at alarm: one step at a time.
    expect(changes.map((m) => m.json!.stage)).toEqual(["watch", "pre_alarm", "alarm", "evacuate"]);
    expect(JSON.stringify(changes[0]!.json!.evidence)).toContain('"rule":"cell-ror-a"');
    expect(JSON.stringify(changes[1]!.json!.evidence)).toContain('"rule":"offgas-a"');
    const offgasAlarm = rec.on(`${prefix}/alarm/offgas-a`).map((m) => [m.json?.stage, m.json?.priority, m.json?.state]);
    expect(offgasAlarm).toEqual([
      ["pre_alarm", "medium", "unack"],
      ["alarm", "high", "unack"],
    ]);
    // The warning came from the battery, not from a fault: the evidence names a cell or the off-gas detector.
    const evidence = JSON.stringify(changes.at(-1)!.json!.evidence);
    expect(evidence).toMatch(/offgas-a\/ppm|cab2\/s1\/m3\/c7\/tempC/);
    // The off-gas warning came after the cell vented, never before (nothing is invented).
    expect(ventAt).toBeDefined();

    // Zone batt-b was never touched: not yet judged, then normal.
    expect(stageMessages(rec, "batt-b").map((m) => m.json!.stage)).toContain("normal");
    expect(stageMessages(rec, "batt-b").every((m) => ["unknown", "normal"].includes(m.json!.stage as string))).toBe(true);

    // Events are numbered without gaps.
    const seqs = rec.on(`${prefix}/events`).map((m) => m.json!.seq as number);
    expect(seqs.length).toBeGreaterThan(2);
    expect(seqs).toEqual(seqs.map((_, i) => seqs[0]! + i));
    expect(rec.on(`${prefix}/events`).every((m) => m.qos === 1 && !m.retain)).toBe(true);

    // A late subscriber sees the retained picture: trigger, stage and status.
    const late = await MqttRecorder.start(broker.url, `${prefix}/#`);
    const retainedTrigger = await late.waitFor((m) => m.topic === `${prefix}/evacuate/batt-a`, 5000, "retained trigger");
    expect(retainedTrigger.retain).toBe(true);
    expect(retainedTrigger.json?.id).toBe("dc1:batt-a:0001");
    const retainedStage = await late.waitFor((m) => m.topic === `${prefix}/zone/batt-a/stage`, 5000, "retained stage");
    expect(retainedStage.json?.stage).toBe("evacuate");
    await late.stop();

    expect(daemon.output()).not.toMatch(/"level":(50|60)[^}]*"component":"(modbus|rules)"/);
  });

  it("a device going silent gives a comm fault, never normal and never a fire alarm", async () => {
    const { rec, sim, clock } = await startRig("normal");
    // Let the room come up and settle.
    await rec.waitFor((m) => m.topic === `${prefix}/zone/batt-a/stage` && m.json?.judged === true, 15_000, "batt-a judged");
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
    // Within a bounded time of the silence (3 s after_s + a poll + timeout, in room time).
    expect(clock.now() - silentAt).toBeLessThan(30_000);

    // Never a stage above normal, and no evacuation, while the detector is silent.
    expect(stageMessages(rec, "batt-a").every((m) => ["unknown", "normal"].includes(m.json!.stage as string))).toBe(true);
    expect(rec.on(`${prefix}/evacuate/batt-a`)).toEqual([]);

    // It comes back: the fault clears.
    sim.inject({ kind: "silent", device: "offgas-a", on: false });
    await rec.waitFor((m) => m.topic === `${prefix}/alarm/comm-a` && m.json?.active === false && m.at > trouble.at, 30_000, "comm-a back to inactive");
    await rec.waitFor((m) => m.topic === `${prefix}/zone/batt-a/stage` && m.at > fault.at && !JSON.stringify(m.json?.faults).includes("offgas-a"), 30_000, "offgas-a gone from the zone's faults");
  });

  it("SIGHUP does not stop the watch; killing the daemon publishes offline through the Last Will", async () => {
    const { rec, daemon } = await startRig("normal");
    daemon.signal("SIGHUP");
    await daemon.waitForOutput("SIGHUP: reloading the config is not supported yet", 5000);
    expect(daemon.running()).toBe(true);
    expect(rec.on(`${prefix}/status`).every((m) => m.json?.status === "online")).toBe(true);
    await daemon.kill();
    const offline = await rec.waitFor((m) => m.topic === `${prefix}/status` && m.json?.status === "offline", 10_000, "status offline (Last Will)");
    expect(offline.qos).toBe(1);
    const late = await MqttRecorder.start(broker.url, `${prefix}/status`);
    const retained = await late.waitFor((m) => m.topic === `${prefix}/status`, 5000, "retained status");
    expect(retained.retain).toBe(true);
    expect(retained.json?.status).toBe("offline");
    await late.stop();
  });
});
