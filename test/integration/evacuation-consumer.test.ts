// The reference consumer as its own process against a real Mosquitto, fed triggers signed here:
// valid ones run the action once per host and are acknowledged (signed, verifiable); tampered,
// unknown-key, wrong-site and replayed ones run nothing and get no acknowledgment; re-announcement,
// duplicate delivery and the consumer's own kill -9 and restart never run a host twice.
import { join } from "node:path";
import mqtt from "mqtt";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { verifyAck } from "../../src/evacuation/ack-wire.js";
import { triggerSigner } from "../../src/evacuation/trigger-wire.js";
import type { EvacuationTrigger } from "../../src/events.js";
import { evacuateMessage } from "../../src/outputs/mqtt/payloads.js";
import { topics } from "../../src/outputs/mqtt/topics.js";
import type { DaemonProcess } from "../support/daemon-process.js";
import { actionRuns, actionScript, keyPair, startConsumer, writeConsumerFile, type KeyFiles } from "../support/evacuation-rig.js";
import { startMosquitto, type Broker } from "../support/mosquitto.js";
import { MqttRecorder } from "../support/mqtt-recorder.js";

const prefix = "firebreak/v1/dc1";
const t = topics("dc1");
let broker: Broker;
let daemonKey: KeyFiles;
let consumerKey: KeyFiles;
let rogue: KeyFiles;
let script: string;
const running: DaemonProcess[] = [];

beforeAll(async () => {
  broker = await startMosquitto();
  daemonKey = await keyPair("daemon");
  consumerKey = await keyPair("k8s", daemonKey.dir);
  rogue = await keyPair("rogue", daemonKey.dir);
  script = await actionScript(daemonKey.dir);
});
afterEach(async () => {
  for (const p of running.splice(0)) await p.stop();
});
afterAll(async () => {
  await broker?.destroy();
});

const hosts = ["k8s-node-31", "k8s-node-32", "k8s-node-33", "k8s-node-34"];
function trigger(zone: string, incident: number): EvacuationTrigger {
  const now = Date.now();
  return {
    type: "evacuate", id: `dc1:${zone}:${String(incident).padStart(4, "0")}`, zone, incident, racks: ["R12", "R13"], hosts,
    rackOf: { "k8s-node-31": "R12", "k8s-node-32": "R12", "k8s-node-33": "R13", "k8s-node-34": "R13" },
    reason: "offgas + cell temperature deviation", evidence: [], issuedAt: now, ackBy: now + 60_000,
  };
}
const signed = (tr: EvacuationTrigger, opts: { at?: number; site?: string; kid?: string; key?: KeyFiles } = {}) =>
  evacuateMessage(topics(opts.site ?? "dc1"), tr, opts.at ?? Date.now(), undefined, "main", { site: opts.site ?? "dc1", kid: opts.kid ?? "dc1-1", signer: triggerSigner((opts.key ?? daemonKey).privateKey) }).payload;

async function publish(topic: string, payload: string): Promise<void> {
  const c = await mqtt.connectAsync(broker.url);
  await c.publishAsync(topic, payload, { qos: 1, retain: false });
  await c.endAsync();
}

async function consumer(log: string, o: { concurrency: number; sleepS: number; stateFile?: string }) {
  const file = await writeConsumerFile({ id: "k8s", mqttUrl: broker.url, key: consumerKey.key, trusted: [{ kid: "dc1-1", pub: daemonKey.pub }], script, log, ...o });
  const p = startConsumer(file);
  running.push(p);
  await p.waitForOutput("consumer subscribed to triggers", 60_000);
  return { p, file };
}

const acks = (rec: MqttRecorder, zone: string) => rec.on(t.evacuateAck(zone, "k8s")).map((m) => m.json!);

describe("the reference consumer", () => {
  it("runs the action once per host, acknowledges accepted, progress and done (signed), and runs nothing again for a re-announcement or a duplicate", async () => {
    const log = join(daemonKey.dir, "runs-a.log");
    const rec = await MqttRecorder.start(broker.url, `${prefix}/#`);
    const { p } = await consumer(log, { concurrency: 4, sleepS: 0.2 });
    const tr = trigger("batt-a", 1);
    const first = signed(tr);
    await publish(t.evacuate("batt-a"), first);
    await rec.waitFor((m) => m.topic === t.evacuateAck("batt-a", "k8s") && m.json?.state === "done", 60_000, "done ack");
    const states = acks(rec, "batt-a").map((a) => a["state"]);
    expect(states[0]).toBe("accepted");
    expect(states.filter((s) => s === "progress").length).toBe(3);
    expect(states.at(-1)).toBe("done");
    const keys = new Map([["k8s", consumerKey.publicKey]]);
    for (const m of rec.on(t.evacuateAck("batt-a", "k8s"))) expect(verifyAck("batt-a", "k8s", Buffer.from(m.payload), keys).ok).toBe(true);
    expect(acks(rec, "batt-a").at(-1)).toMatchObject({ id: "dc1:batt-a:0001", hosts: { done: expect.arrayContaining(hosts) as unknown, failed: [] } });
    const runs = await actionRuns(log);
    expect(runs.sort()).toEqual(hosts.map((h, i) => `${h} ${i < 2 ? "R12" : "R13"} batt-a dc1:batt-a:0001`).sort());

    // The same announcement twice (QoS 1 duplicate) and a re-announcement: answered, never run again.
    const before = acks(rec, "batt-a").length;
    await publish(t.evacuate("batt-a"), first);
    await publish(t.evacuate("batt-a"), signed({ ...tr, announcement: 2 }, { at: Date.now() + 1 }));
    await rec.waitForCount((m) => m.topic === t.evacuateAck("batt-a", "k8s"), before + 2, 10_000);
    expect(acks(rec, "batt-a").slice(before).map((a) => a["state"])).toEqual(["done", "done"]);
    expect(await actionRuns(log)).toHaveLength(4);
    await rec.stop();
    expect(p.output()).not.toMatch(/"level":(50|60)/);
  }, 180_000);

  it("refuses tampered, unknown-key, forged, wrong-site and replayed triggers: nothing runs, nothing is acknowledged", async () => {
    const log = join(daemonKey.dir, "runs-b.log");
    const rec = await MqttRecorder.start(broker.url, `${prefix}/#`);
    const { p } = await consumer(log, { concurrency: 4, sleepS: 0 });
    const tr = trigger("batt-b", 1);
    const tampered = { ...(JSON.parse(signed(tr)) as Record<string, unknown>), hosts: ["k8s-node-31", "evil-host"] };
    await publish(t.evacuate("batt-b"), JSON.stringify(tampered));
    await publish(t.evacuate("batt-b"), signed(tr, { kid: "unknown-kid" }));
    await publish(t.evacuate("batt-b"), signed(tr, { key: rogue }));
    await publish(`firebreak/v1/dc2/evacuate/batt-b`, signed(tr, { site: "dc2" })); // not even subscribed
    await publish(t.evacuate("batt-b"), JSON.stringify({ ...(JSON.parse(signed(tr, { site: "dc2" })) as object) }));
    await publish(t.evacuate("batt-b"), signed(tr, { at: Date.now() - 3_600_000 })); // a captured trigger an hour later
    await publish(t.evacuate("batt-b"), "{not json");
    for (const code of ["bad_signature", "unknown_key", "wrong_site", "stale", "malformed"]) await p.waitForOutput(`trigger refused (${code})`, 10_000);
    expect(p.output().match(/trigger refused \(bad_signature\)/g)).toHaveLength(2);
    await new Promise((r) => setTimeout(r, 500));
    expect(acks(rec, "batt-b")).toEqual([]);
    expect(await actionRuns(log)).toEqual([]);
    await rec.stop();
  }, 180_000);

  it("kill -9 in the middle and a restart: every host's action started once; the one interrupted is reported failed, not run again", async () => {
    const log = join(daemonKey.dir, "runs-c.log");
    const stateFile = join(daemonKey.dir, "kill9.sqlite");
    const rec = await MqttRecorder.start(broker.url, `${prefix}/#`);
    const first = await consumer(log, { concurrency: 1, sleepS: 1, stateFile });
    const tr = trigger("batt-c", 1);
    await publish(t.evacuate("batt-c"), signed(tr));
    const deadline = Date.now() + 15_000;
    while ((await actionRuns(log)).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(await actionRuns(log)).toHaveLength(2);
    await first.p.kill();
    running.splice(running.indexOf(first.p), 1);
    // Redelivered while it was down, and announced again after: neither may run a host twice.
    await publish(t.evacuate("batt-c"), signed({ ...tr, announcement: 2 }, { at: Date.now() }));
    const file = first.file;
    const again = startConsumer(file);
    running.push(again);
    const final = await rec.waitFor((m) => m.topic === t.evacuateAck("batt-c", "k8s") && (m.json?.state === "failed" || m.json?.state === "done"), 20_000, "final ack");
    expect(final.json).toMatchObject({ state: "failed", hosts: { failed: ["k8s-node-32"] } });
    expect(String(final.json?.["reason"])).toMatch(/interrupted/);
    const runs = (await actionRuns(log)).map((l) => l.split(" ")[0]);
    expect(runs.sort()).toEqual([...hosts].sort());
    await rec.stop();
  }, 180_000);
});
