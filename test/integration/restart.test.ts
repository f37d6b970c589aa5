// A restart never lies: the daemon, killed with SIGKILL in the middle of an incident, comes back
// from its state store with the same picture (latched stage, trigger id and issuedAt, alarms not
// re-announced, seq continuing) before it publishes anything. Real Mosquitto, the simulated room
// over Modbus TCP, the daemon as its own process on a clock shared with the simulator.
import mqtt from "mqtt";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
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
const stageRank = ["unknown", "normal", "watch", "pre_alarm", "alarm", "evacuate"];

let broker: Broker;
let site: SiteConfig;

// A broker per test: a trigger retained by one test must not be adopted by the next.
beforeEach(async () => {
  broker = await startMosquitto();
});

beforeAll(async () => {
  site = await loadSiteConfig("config/example-site.yaml");
});

afterEach(async () => {
  await broker?.destroy();
});

interface Rig {
  clock: Clock;
  epoch: number;
  sim: Simulation;
  file: string;
  daemons: DaemonProcess[];
  rec: MqttRecorder;
}

let rig: Rig | undefined;

afterEach(async () => {
  if (rig === undefined) return;
  const r = rig;
  rig = undefined;
  for (const d of r.daemons) await d.stop();
  await r.rec.stop();
  await r.sim.stop();
});

async function startRig(scenario: string): Promise<Rig> {
  const epoch = Date.now();
  const clock = acceleratedClock(SPEED, epoch);
  const sim = await startSimulation({ site, clock, scenario: await loadScenario(scenario), portOverride: () => 0 });
  const file = await writeSiteFile({ ports: sim.ports, mqttUrl: broker.url, staleAfterMs: 30_000 });
  // A persistent subscriber, as a pager gateway would be: it must miss nothing across our restarts.
  const rec = await MqttRecorder.start(broker.url, `${prefix}/#`, { clientId: `restart-test-${process.pid}`, clean: false });
  rig = { clock, epoch, sim, file, daemons: [], rec };
  return rig;
}

function launch(r: Rig): DaemonProcess {
  const d = startDaemon(r.file, { speed: SPEED, epoch: r.epoch });
  r.daemons.push(d);
  return d;
}

const eventsOf = (msgs: readonly Recorded[]) => msgs.filter((m) => m.topic === `${prefix}/events` && m.json !== undefined);

describe("restart from the state store", () => {
  it("SIGKILL after evacuate: the restarted daemon never publishes less than evacuate, keeps the trigger, re-announces nothing, continues seq", async () => {
    const r = await startRig("cell-runaway");
    const first = launch(r);
    const trigger = await r.rec.waitFor((m) => m.topic === `${prefix}/evacuate/batt-a` && m.json !== undefined, 90_000, "the first trigger");
    // Let the evacuate step's own messages (alarms, events) reach the broker before the kill.
    await r.rec.waitFor((m) => m.topic === `${prefix}/events` && m.json?.type === "evacuate", 60_000, "the evacuate event");
    const before = [...r.rec.messages];
    const seqBefore = Math.max(...eventsOf(before).map((m) => m.json!.seq as number));
    const announced = new Set(eventsOf(before).filter((m) => m.json!.type === "alarm").map((m) => m.json!.id as string));
    await first.kill();

    const killedAt = Date.now();
    const second = launch(r);
    await second.waitForOutput("state restored from", 60_000);
    // The new boot announces itself, then republishes the restored picture.
    const online = await r.rec.waitFor((m) => m.at >= killedAt && m.topic === `${prefix}/status` && m.json?.status === "online", 60_000, "the new boot online");
    const stage = await r.rec.waitFor((m) => m.at >= online.at && m.topic === `${prefix}/zone/batt-a/stage`, 60_000, "batt-a stage after restart");
    const pictureMs = stage.at - killedAt;
    console.info(`restart: kill -9 -> retained batt-a stage ${stage.json?.stage} republished in ${pictureMs} ms (daemon start included)`);
    expect(stage.json?.stage).toBe("evacuate");
    // Give the restarted daemon a few evaluations, then judge everything it published.
    const boot = (online.json!.startedAt as string) ?? "";
    await second.waitForOutput("rules evaluating", 60_000);
    await new Promise((res) => setTimeout(res, 1500)); // a window to catch a wrong picture, not a wait for one
    const after = r.rec.messages.filter((m) => m.at >= killedAt);

    // 1. No retained stage below evacuate for batt-a, ever, after the kill.
    for (const m of after.filter((x) => x.topic === `${prefix}/zone/batt-a/stage`)) {
      expect(stageRank.indexOf(m.json!.stage as string)).toBe(stageRank.indexOf("evacuate"));
    }
    // 2. The trigger keeps its id and first issuedAt (and ackBy).
    for (const m of after.filter((x) => x.topic === `${prefix}/evacuate/batt-a` && x.json !== undefined)) {
      expect(m.json).toMatchObject({ id: trigger.json!.id, issuedAt: trigger.json!.issuedAt, ackBy: trigger.json!.ackBy, incident: 1 });
    }
    // 3. No alarm announced before is announced again as new (previous normal -> unack).
    const newBootEvents = eventsOf(after).filter((m) => m.json!.boot === boot);
    for (const m of newBootEvents.filter((x) => x.json!.type === "alarm" && announced.has(x.json!.id as string))) {
      expect(`${m.json!.id as string}: ${m.json!.previous as string} -> ${m.json!.state as string}`).not.toMatch(/: normal -> unack$/);
    }
    // No second trigger and no new incident.
    expect(newBootEvents.filter((m) => m.json!.type === "evacuate" && m.json!.id !== trigger.json!.id)).toEqual([]);
    // 4. seq continues past what was published before the kill.
    for (const m of newBootEvents) expect(m.json!.seq as number).toBeGreaterThan(seqBefore);
    expect(second.output()).not.toMatch(/"level":(50|60)/);
  }, 240_000);
});

describe("what an earlier run left on the broker", () => {
  it("removes a stale retained alarm of ours, and adopts a retained trigger for one of our zones", async () => {
    const r = await startRig("normal");
    const c = await mqtt.connectAsync(broker.url);
    // An alarm retained by an older firebreak (no instance field) that no later boot raised or cleared.
    await c.publishAsync(`${prefix}/alarm/cell-dev-a`, JSON.stringify({ v: 1, id: "cell-dev-a", state: "rtn_unack" }), { retain: true, qos: 1 });
    // A trigger of an open incident, retained by a redundant peer: incident 5 of batt-b.
    await c.publishAsync(`${prefix}/evacuate/batt-b`, JSON.stringify({ v: 1, id: "dc1:batt-b:0005", instance: "peer", zone: "batt-b" }), { retain: true, qos: 1 });
    await c.endAsync();
    const d = launch(r);
    await r.rec.waitFor((m) => m.topic === `${prefix}/alarm/cell-dev-a` && m.payload === "" && !m.retain, 60_000, "the stale alarm removed");
    await d.waitForOutput("adopted the evacuation trigger dc1:batt-b:0005", 60_000);
    // The adopted trigger stays retained: it is not ours to remove, and its incident is open here now.
    const late = await MqttRecorder.start(broker.url, `${prefix}/evacuate/batt-b`);
    const kept = await late.waitFor((m) => m.topic === `${prefix}/evacuate/batt-b`, 5000, "the retained trigger");
    expect(kept.json?.id).toBe("dc1:batt-b:0005");
    await late.stop();
    const clean = await mqtt.connectAsync(broker.url);
    await clean.publishAsync(`${prefix}/evacuate/batt-b`, "", { retain: true, qos: 1 });
    await clean.endAsync();
  }, 120_000);
});
