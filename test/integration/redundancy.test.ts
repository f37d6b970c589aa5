// Active/active: two daemons with the same room config (instances room1-a and room1-b, each with its
// own state dir and trigger key) poll the same simulated room playing cell-runaway and publish to one
// Mosquitto; one reference consumer drains the hosts. Asserts: both issue the trigger with the same
// id, the consumer runs each host once, both daemons see its acknowledgments, a signed clear is
// refused by both while the room is hot, kill -9 of one leaves the other's trigger and status on the
// broker and the restarted one (empty state dir) adopts the same id, and once the room has cooled a
// clear is accepted by both, which close the incident and remove the retained trigger.
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt from "mqtt";
import type { KeyObject } from "node:crypto";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { parseDocument } from "yaml";
import { privateKeyFromPem, writeOperatorKeyPair } from "../../src/commands/keys.js";
import { newRequestId, signCommand } from "../../src/commands/sign.js";
import { loadSiteConfig } from "../../src/config/load.js";
import type { SiteConfig } from "../../src/config/types.js";
import { acceleratedClock } from "../../src/runtime/clock.js";
import { loadScenario, startSimulation, type Simulation } from "../../simulators/simulation.js";
import { startDaemon, type DaemonProcess } from "../support/daemon-process.js";
import { actionRuns, actionScript, keyPair, startConsumer, writeConsumerFile, type KeyFiles } from "../support/evacuation-rig.js";
import { startMosquitto, type Broker } from "../support/mosquitto.js";
import { MqttRecorder, type Recorded } from "../support/mqtt-recorder.js";
import { writeSiteFile } from "../support/site-file.js";
import { ctlProcess } from "../support/ctl-process.js";

const SPEED = Number(process.env.FB_E2E_SPEED ?? 20);
const prefix = "firebreak/v1/dc1";
const A = "room1-a";
const B = "room1-b";
let broker: Broker;
let site: SiteConfig;
const procs: DaemonProcess[] = [];
const recs: MqttRecorder[] = [];
let sim: Simulation | undefined;
const sims: Simulation[] = [];

beforeAll(async () => {
  site = await loadSiteConfig("config/example-site.yaml");
});
// A broker per test: what one test leaves retained must not meet the next one's daemons.
beforeEach(async () => {
  broker = await startMosquitto();
});
afterEach(async () => {
  for (const p of procs.splice(0)) await p.stop();
  for (const r of recs.splice(0)) await r.stop();
  await sim?.stop();
  sim = undefined;
  for (const x of sims.splice(0)) await x.stop();
  await broker?.destroy();
});

/** One daemon's site file: the room's devices on `ports`, its own instance, state dir and trigger key; `consumer` required when given. */
async function daemonFile(instance: string, key: KeyFiles, consumer: KeyFiles | undefined, operatorPub: string, stateDir?: string, ports: ReadonlyMap<string, number> = sim!.ports): Promise<string> {
  const file = await writeSiteFile({ ports, mqttUrl: broker.url, staleAfterMs: 10_000, operators: [{ id: "alice", publicKeyFile: operatorPub }], ...(stateDir === undefined ? {} : { stateDir }) });
  const doc = parseDocument(await readFile(file, "utf8"));
  doc.setIn(["instance"], instance);
  // The example site names its client id; a pair copying it would take each other's session over.
  doc.setIn(["mqtt", "client_id"], `firebreak-dc1-${instance}`);
  doc.setIn(["evacuation"], doc.createNode({ signing_key_file: key.key, kid: `dc1-${instance}`, ack_window_s: 60, reannounce_interval_s: 15, consumers: consumer === undefined ? [] : [{ id: "k8s", public_key_file: consumer.pub }] }));
  await writeFile(file, doc.toString());
  return file;
}

interface AlarmRow {
  readonly id?: string;
  readonly zone?: string;
  readonly active?: boolean;
  readonly stage?: string;
}
/** Publish a signed command as alice; wait for one reply from each instance. */
async function command(rec: MqttRecorder, key: KeyObject, verb: "clear" | "status", args: Record<string, string | boolean>, from: readonly string[]): Promise<Record<string, unknown>[]> {
  const requestId = newRequestId();
  const payload = signCommand(verb, { requestId, by: "alice", tsMs: Date.now(), site: "dc1" }, args, key);
  const c = await mqtt.connectAsync(broker.url);
  await c.publishAsync(`${prefix}/cmd/${verb}`, JSON.stringify(payload), { qos: 1 });
  await c.endAsync();
  const replies = await Promise.all(from.map((inst) => rec.waitFor(ofInstance(`${prefix}/cmd/reply/${requestId}`, inst), 60_000, `${inst}'s reply to ${verb}`)));
  return replies.map((r) => r.json!);
}

/** Each instance's `status` satisfies its predicate for the alarms of batt-a (bounded; asked every 2 s). */
async function untilEach(rec: MqttRecorder, key: KeyObject, want: Readonly<Record<string, (alarms: readonly AlarmRow[]) => boolean>>, what: string): Promise<void> {
  const instances = Object.keys(want);
  const deadline = Date.now() + 180_000;
  for (;;) {
    const replies = await command(rec, key, "status", {}, instances);
    const rows = replies.map((r) => ((r["result"] as { alarms?: AlarmRow[] } | undefined)?.alarms ?? []).filter((a) => a.zone === "batt-a"));
    if (rows.every((r, i) => want[instances[i]!]!(r))) return;
    if (Date.now() > deadline) throw new Error(`not ${what} after 180 s: ${JSON.stringify(rows.map((r) => r.map((a) => [a.id, a.active, a.stage])))}`);
    await new Promise((r) => setTimeout(r, 2000));
  }
}

const hotInZone = (alarms: readonly AlarmRow[]) => alarms.some((a) => a.active === true && (a.stage === "alarm" || a.stage === "evacuate"));
const calmInZone = (alarms: readonly AlarmRow[]) => !alarms.some((a) => a.active === true);

const ofInstance = (topic: string, instance: string) => (m: Recorded) => m.topic === topic && m.json?.["instance"] === instance;
const k8sState = (m: Recorded) => (m.json?.["consumers"] as Record<string, { state: string }> | undefined)?.["k8s"]?.state;

describe("two daemons, one room, one consumer (active/active)", () => {
  it("agree on the trigger id, share the consumer's acks, run each host once, survive a kill -9 of either, and clear consistently", async () => {
    const keyA = await keyPair("room1-a");
    const keyB = await keyPair("room1-b", keyA.dir);
    const k8s = await keyPair("k8s", keyA.dir);
    const op = await writeOperatorKeyPair(keyA.dir, "alice");
    const aliceKey = privateKeyFromPem(readFileSync(op.keyFile, "utf8"), op.keyFile);
    const script = await actionScript(keyA.dir);
    const epoch = Date.now();
    const clock = acceleratedClock(SPEED, epoch);
    sim = await startSimulation({ site, clock, scenario: await loadScenario("cell-runaway"), portOverride: () => 0 });
    const fileA = await daemonFile(A, keyA, k8s, op.pubFile);
    const fileB = await daemonFile(B, keyB, k8s, op.pubFile);
    const runs = join(keyA.dir, "k8s.log");
    const trusted = [{ kid: `dc1-${A}`, pub: keyA.pub }, { kid: `dc1-${B}`, pub: keyB.pub }];
    const consumerFile = await writeConsumerFile({ id: "k8s", mqttUrl: broker.url, key: k8s.key, trusted, script, log: runs, sleepS: 2 / SPEED, concurrency: 4 });
    const rec = await MqttRecorder.start(broker.url, `${prefix}/#`);
    recs.push(rec);

    let daemonA = startDaemon(fileA, { speed: SPEED, epoch });
    const daemonB = startDaemon(fileB, { speed: SPEED, epoch });
    const consumer = startConsumer(consumerFile, { speed: SPEED, epoch });
    procs.push(daemonA, daemonB, consumer);

    // 1. Both daemons issue the trigger, with the same id.
    const trig = `${prefix}/evacuate/batt-a`;
    const [tA, tB] = await Promise.all([rec.waitFor(ofInstance(trig, A), 120_000, "room1-a's trigger"), rec.waitFor(ofInstance(trig, B), 120_000, "room1-b's trigger")]);
    expect(tA.json).toMatchObject({ id: "dc1:batt-a:0001", kid: `dc1-${A}` });
    expect(tB.json).toMatchObject({ id: "dc1:batt-a:0001", kid: `dc1-${B}` });
    const issuedGapMs = Math.abs(Date.parse(String(tA.json!["issuedAt"])) - Date.parse(String(tB.json!["issuedAt"])));
    const arrivalGapMs = Math.abs(tA.at - tB.at);
    // `ts` is when each daemon announced; apart from `issuedAt` it shows a daemon slow to publish.
    const announcedGapMs = Math.abs(Date.parse(String(tA.json!["ts"])) - Date.parse(String(tB.json!["ts"])));

    // 2. The consumer drains each host once, and both daemons see its acknowledgments.
    const status = `${prefix}/evacuate/batt-a/status`;
    const done = (inst: string) => (m: Recorded) => ofInstance(status, inst)(m) && k8sState(m) === "done";
    const [sA, sB] = await Promise.all([rec.waitFor(done(A), 90_000, "room1-a's status with k8s done"), rec.waitFor(done(B), 90_000, "room1-b's status with k8s done")]);
    for (const s of [sA, sB]) expect(s.json).toMatchObject({ id: "dc1:batt-a:0001", state: "done", missing: [] });
    const hostsOnce = async () => expect((await actionRuns(runs)).map((l) => l.split(" ")[0]).sort()).toEqual(["k8s-node-31", "k8s-node-32", "k8s-node-33", "k8s-node-34"]);
    await hostsOnce();
    for (const d of [daemonA, daemonB]) await d.waitForOutput("evacuation dc1:batt-a:0001: k8s done", 30_000);

    // 3. A signed clear while the room burns (both daemons hold an active alarm-or-above condition
    // in batt-a): refused by both.
    await untilEach(rec, aliceKey, { [A]: hotInZone, [B]: hotInZone }, "both with an active alarm-stage condition in batt-a");
    const hot = await command(rec, aliceKey, "clear", { zone: "batt-a", reason: "too early" }, [A, B]);
    for (const r of hot) expect(r, JSON.stringify(hot)).toMatchObject({ ok: false, code: "not_allowed" });
    // ctl with --instances 2 shows both answers and exits 3 (refused).
    const ctlHot = await ctlProcess(["clear", "--zone", "batt-a", "--instances", "2", "--as", "alice", "--key", op.keyFile, "--broker", broker.url, "--site", "dc1", "--timeout", "30"]);
    expect(ctlHot.code, ctlHot.out).toBe(3);
    expect(ctlHot.out).toContain(`[${A}] refused`);
    expect(ctlHot.out).toContain(`[${B}] refused`);

    // 3b. Someone removes the retained trigger while both daemons hold the incident open (what a
    // peer's clear looks like to one that refused it): both publish theirs again.
    const wiped = rec.messages.length;
    const eraser = await mqtt.connectAsync(broker.url);
    await eraser.publishAsync(trig, "", { qos: 1, retain: true });
    await eraser.endAsync();
    const since = (i: number, f: (m: Recorded) => boolean) => (m: Recorded) => rec.messages.indexOf(m) >= i && f(m);
    const [rA, rB] = await Promise.all([A, B].map((inst) => rec.waitFor(since(wiped, ofInstance(trig, inst)), 30_000, `${inst} republishes its trigger`)));
    for (const r of [rA!, rB!]) expect(r.json).toMatchObject({ id: "dc1:batt-a:0001" });
    for (const d of [daemonA, daemonB]) await d.waitForOutput("a redundant peer published less than this instance knows", 10_000);
    const reassertMs = Math.max(rA!.at, rB!.at) - rec.messages[wiped]!.at;

    // 4. kill -9 room1-a mid-incident: its Last Will (offline) is answered by room1-b's online at
    // once, and room1-b's trigger and status stay on the broker.
    const killed = rec.messages.length;
    await daemonA.kill();
    const will = await rec.waitFor(since(killed, (m) => ofInstance(`${prefix}/status`, A)(m) && m.json?.["status"] === "offline"), 30_000, "room1-a's Last Will");
    const answer = await rec.waitFor(since(rec.messages.indexOf(will), (m) => ofInstance(`${prefix}/status`, B)(m) && m.json?.["status"] === "online"), 10_000, "room1-b's online after the Last Will");
    const offlineShownMs = answer.at - will.at;
    // The consumer, which reads the shared status topic, says the room is watched again at once.
    const cStatus = `${prefix}/consumer/k8s/status`;
    const unwatched = await rec.waitFor(since(killed, (m) => m.topic === cStatus && m.json?.["room"] === "unwatched"), 10_000, "the consumer's unwatched");
    expect(String(unwatched.json!["reason"])).toContain(A);
    const rewatched = await rec.waitFor(since(rec.messages.indexOf(unwatched), (m) => m.topic === cStatus && m.json?.["room"] === "watched"), 10_000, "the consumer's watched again");
    const unwatchedMs = rewatched.at - unwatched.at;
    const late = await MqttRecorder.start(broker.url, [trig, status]);
    recs.push(late);
    await late.subscribe(`${prefix}/status`); // retained: once it is here, the two above have arrived
    await late.waitFor((m) => m.topic === `${prefix}/status`, 30_000, "retained status");
    expect(late.on(trig).at(-1)?.json).toMatchObject({ id: "dc1:batt-a:0001" });
    expect(late.on(status).at(-1)?.json).toMatchObject({ id: "dc1:batt-a:0001", state: "done" });

    // Restarted on an empty state dir (a replaced machine): it adopts the retained trigger's incident
    // and issues the same id; the consumer answers from its record and runs nothing again.
    const mark = rec.messages.length;
    const fileA2 = await daemonFile(A, keyA, k8s, op.pubFile, await mkdtemp(join(tmpdir(), "fb-redundancy-a2-")));
    const restartedAt = Date.now();
    daemonA = startDaemon(fileA2, { speed: SPEED, epoch });
    procs.push(daemonA);
    await daemonA.waitForOutput("adopted the evacuation trigger dc1:batt-a:0001", 60_000);
    const again = await rec.waitFor((m) => rec.messages.indexOf(m) >= mark && ofInstance(trig, A)(m), 120_000, "the restarted room1-a's trigger");
    expect(again.json).toMatchObject({ id: "dc1:batt-a:0001" });
    await rec.waitFor((m) => rec.messages.indexOf(m) >= mark && done(A)(m), 60_000, "the restarted room1-a's status with k8s done");
    await hostsOnce();

    // 5. The room cools (a calm room on the same ports); once both daemons see no active alarm in the
    // zone, a clear is accepted by both; each closes the incident and the retained trigger is gone.
    const ports = sim.ports;
    await sim.stop();
    sim = await startSimulation({ site, clock, scenario: await loadScenario("normal"), portOverride: (id) => ports.get(id) ?? 0 });
    await untilEach(rec, aliceKey, { [A]: calmInZone, [B]: calmInZone }, "both without an active alarm in batt-a");
    const cleared = await command(rec, aliceKey, "clear", { zone: "batt-a", reason: "cells isolated" }, [A, B]);
    for (const r of cleared) expect(r, JSON.stringify(cleared)).toMatchObject({ ok: true });
    const closed = (inst: string) => (m: Recorded) => ofInstance(`${prefix}/events`, inst)(m) && m.json?.["type"] === "incident_closed" && m.json["id"] === "dc1:batt-a:0001";
    await Promise.all([rec.waitFor(closed(A), 30_000, "room1-a closes 0001"), rec.waitFor(closed(B), 30_000, "room1-b closes 0001")]);
    const after = await MqttRecorder.start(broker.url, [trig, status]);
    recs.push(after);
    await after.subscribe(`${prefix}/status`);
    await after.waitFor((m) => m.topic === `${prefix}/status`, 30_000, "retained status");
    expect(after.on(trig).filter((m) => m.payload !== "")).toEqual([]);
    expect(after.on(status).filter((m) => m.payload !== "")).toEqual([]);
    await hostsOnce();

    const figures = {
      speed: SPEED,
      issuedAtGapRoomS: (issuedGapMs / 1000).toFixed(1),
      announcedTsGapRoomS: (announcedGapMs / 1000).toFixed(1),
      triggerArrivalGapRealS: (arrivalGapMs / 1000).toFixed(2),
      reassertAfterRemovalRealMs: reassertMs,
      peerOfflineShownRealMs: offlineShownMs,
      consumerUnwatchedRealMs: unwatchedMs,
      restartToTriggerRealS: ((again.at - restartedAt) / 1000).toFixed(1),
      hostsRun: (await actionRuns(runs)).length,
    };
    console.log(`redundancy (two daemons): ${JSON.stringify(figures)}`);

  }, 600_000);

  it("when one daemon still sees the fire, a clear it refuses leaves its trigger and stage retained; repeated once it is calm, both accept", async () => {
    // Each daemon reads its own copy of the room (two simulations, same scenario and clock): that is
    // how a device answering one daemon differently from the other looks from here.
    const keyA = await keyPair("room1-a");
    const keyB = await keyPair("room1-b", keyA.dir);
    const op = await writeOperatorKeyPair(keyA.dir, "alice");
    const aliceKey = privateKeyFromPem(readFileSync(op.keyFile, "utf8"), op.keyFile);
    const epoch = Date.now();
    const clock = acceleratedClock(SPEED, epoch);
    const runaway = await loadScenario("cell-runaway");
    const simA = await startSimulation({ site, clock, scenario: runaway, portOverride: () => 0 });
    let simB = await startSimulation({ site, clock, scenario: runaway, portOverride: () => 0 });
    sims.push(simA, simB);
    const rec = await MqttRecorder.start(broker.url, `${prefix}/#`);
    recs.push(rec);
    procs.push(startDaemon(await daemonFile(A, keyA, undefined, op.pubFile, undefined, simA.ports), { speed: SPEED, epoch }));
    procs.push(startDaemon(await daemonFile(B, keyB, undefined, op.pubFile, undefined, simB.ports), { speed: SPEED, epoch }));
    const trig = `${prefix}/evacuate/batt-a`;
    const stage = `${prefix}/zone/batt-a/stage`;
    await Promise.all([A, B].map((inst) => rec.waitFor(ofInstance(trig, inst), 120_000, `${inst}'s trigger`)));

    // room1-a's room cools; room1-b's burns on.
    const portsA = simA.ports;
    await simA.stop();
    sims.push(await startSimulation({ site, clock, scenario: await loadScenario("normal"), portOverride: (id) => portsA.get(id) ?? 0 }));
    await untilEach(rec, aliceKey, { [A]: calmInZone, [B]: hotInZone }, "room1-a calm and room1-b hot");
    const mark = rec.messages.length;
    const after = (f: (m: Recorded) => boolean) => (m: Recorded) => rec.messages.indexOf(m) >= mark && f(m);
    const ctlSplit = await ctlProcess(["clear", "--zone", "batt-a", "--instances", "2", "--as", "alice", "--key", op.keyFile, "--broker", broker.url, "--site", "dc1", "--timeout", "30"]);
    expect(ctlSplit.code, ctlSplit.out).toBe(3);
    expect(ctlSplit.out).toContain(`[${A}] accepted`);
    expect(ctlSplit.out).toContain(`[${B}] refused (not_allowed)`);
    expect(ctlSplit.out).toContain(`the daemons disagree: ${A} accepted, ${B} refused`);
    // room1-a removed the trigger and published normal; room1-b answered both with its own.
    await rec.waitFor(after((m) => m.topic === trig && m.payload === ""), 30_000, "room1-a's removal of the trigger");
    await rec.waitFor(after((m) => ofInstance(stage, A)(m) && m.json?.["stage"] === "normal"), 30_000, "room1-a's normal");
    await rec.waitFor(after(ofInstance(trig, B)), 30_000, "room1-b's trigger again");
    await rec.waitFor(after((m) => ofInstance(stage, B)(m) && m.json?.["stage"] === "evacuate"), 30_000, "room1-b's evacuate again");
    const late = await MqttRecorder.start(broker.url, [trig, stage]);
    recs.push(late);
    await late.subscribe(`${prefix}/status`);
    await late.waitFor((m) => m.topic === `${prefix}/status`, 30_000, "retained status");
    expect(late.on(trig).at(-1)?.json).toMatchObject({ id: "dc1:batt-a:0001", instance: B });
    expect(late.on(stage).at(-1)?.json).toMatchObject({ stage: "evacuate", instance: B });

    // room1-b's room cools too: the clear, repeated, is accepted by both (room1-a: nothing to do).
    const portsB = simB.ports;
    await simB.stop();
    simB = await startSimulation({ site, clock, scenario: await loadScenario("normal"), portOverride: (id) => portsB.get(id) ?? 0 });
    sims.push(simB);
    await untilEach(rec, aliceKey, { [A]: calmInZone, [B]: calmInZone }, "both calm");
    const again = await ctlProcess(["clear", "--zone", "batt-a", "--instances", "2", "--as", "alice", "--key", op.keyFile, "--broker", broker.url, "--site", "dc1", "--timeout", "30"]);
    expect(again.code, again.out).toBe(0);
    const gone = await MqttRecorder.start(broker.url, [trig]);
    recs.push(gone);
    await gone.subscribe(`${prefix}/status`);
    await gone.waitFor((m) => m.topic === `${prefix}/status`, 30_000, "retained status");
    expect(gone.on(trig).filter((m) => m.payload !== "")).toEqual([]);
  }, 600_000);
});
