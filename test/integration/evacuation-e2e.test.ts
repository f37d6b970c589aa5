// End to end: the simulated room plays cell-runaway, the daemon (a process) signs its trigger, and
// three consumers are required for zone batt-a: `k8s` (a reference consumer whose action takes 2 s
// of room time per host, concurrency 4), `vm` (fails host k8s-node-33) and `ghost` (never answers).
// Asserts the signature, the re-announcements, evacuation-unacknowledged naming the ghost and
// evacuation-failed naming the host; measures first vent -> k8s done, and the margin to runaway.
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseDocument } from "yaml";
import { loadSiteConfig } from "../../src/config/load.js";
import type { SiteConfig } from "../../src/config/types.js";
import { verifyTrigger } from "../../src/evacuation/trigger-wire.js";
import { acceleratedClock } from "../../src/runtime/clock.js";
import { loadScenario, startSimulation, type Simulation } from "../../simulators/simulation.js";
import { startDaemon, type DaemonProcess } from "../support/daemon-process.js";
import { actionRuns, actionScript, keyPair, startConsumer, writeConsumerFile } from "../support/evacuation-rig.js";
import { startMosquitto, type Broker } from "../support/mosquitto.js";
import { MqttRecorder } from "../support/mqtt-recorder.js";
import { writeSiteFile } from "../support/site-file.js";

const SPEED = Number(process.env.FB_E2E_SPEED ?? 20);
const prefix = "firebreak/v1/dc1";
let broker: Broker;
let site: SiteConfig;
const procs: DaemonProcess[] = [];
let sim: Simulation | undefined;

beforeAll(async () => {
  broker = await startMosquitto();
  site = await loadSiteConfig("config/example-site.yaml");
});
afterAll(async () => {
  for (const p of procs) await p.stop();
  await sim?.stop();
  await broker?.destroy();
});

describe("evacuation with consumers, end to end", () => {
  it("signed trigger, re-announced until accepted, escalated for a silent and a failing consumer; k8s drains all hosts well before runaway", async () => {
    const daemonKey = await keyPair("daemon");
    const k8s = await keyPair("k8s", daemonKey.dir);
    const vm = await keyPair("vm", daemonKey.dir);
    const ghost = await keyPair("ghost", daemonKey.dir);
    const script = await actionScript(daemonKey.dir);
    const epoch = Date.now();
    const clock = acceleratedClock(SPEED, epoch);
    sim = await startSimulation({ site, clock, scenario: await loadScenario("cell-runaway"), portOverride: () => 0 });
    const file = await writeSiteFile({ ports: sim.ports, mqttUrl: broker.url, staleAfterMs: 10_000 });
    const doc = parseDocument(await readFile(file, "utf8"));
    doc.setIn(["evacuation"], doc.createNode({
      signing_key_file: daemonKey.key, kid: "dc1-test", ack_window_s: 60, reannounce_interval_s: 15,
      consumers: [{ id: "k8s", public_key_file: k8s.pub }, { id: "vm", public_key_file: vm.pub, zones: ["batt-a"] }, { id: "ghost", public_key_file: ghost.pub, zones: ["batt-a"] }],
    }));
    await writeFile(file, doc.toString());

    const runsK8s = join(daemonKey.dir, "k8s.log");
    const trusted = [{ kid: "dc1-test", pub: daemonKey.pub }];
    // 2 s of room time per host: the script sleeps 2/SPEED real seconds.
    const k8sFile = await writeConsumerFile({ id: "k8s", mqttUrl: broker.url, key: k8s.key, trusted, script, log: runsK8s, sleepS: 2 / SPEED, concurrency: 4 });
    const vmFile = await writeConsumerFile({ id: "vm", mqttUrl: broker.url, key: vm.key, trusted, script, log: join(daemonKey.dir, "vm.log"), sleepS: 0, concurrency: 4, failHost: "k8s-node-33" });
    const rec = await MqttRecorder.start(broker.url, `${prefix}/#`);
    let ventAt: number | undefined;
    let runawayAt: number | undefined;
    sim.on("vent", (e) => (ventAt ??= e.at));
    sim.on("runaway", (e) => (runawayAt ??= e.at));
    const daemon = startDaemon(file, { speed: SPEED, epoch });
    procs.push(daemon);
    for (const f of [k8sFile, vmFile]) procs.push(startConsumer(f, { speed: SPEED, epoch }));

    const first = await rec.waitFor((m) => m.topic === `${prefix}/evacuate/batt-a` && m.json !== undefined, 90_000, "the trigger");
    const keys = new Map([["dc1-test", daemonKey.publicKey]]);
    const v = verifyTrigger(first.payload, { site: "dc1", keys, now: clock.now(), maxAgeMs: 60_000 });
    expect(v.ok).toBe(true);
    expect(first.json).toMatchObject({ id: "dc1:batt-a:0001", site: "dc1", kid: "dc1-test", rackOf: { "k8s-node-33": "R13" } });

    const done = await rec.waitFor((m) => m.topic === `${prefix}/evacuate/batt-a/ack/k8s` && m.json?.state === "done", 60_000, "k8s done");
    const doneAt = Date.parse(String(done.json!["ts"]));
    const failedAlarm = await rec.waitFor((m) => m.topic === `${prefix}/alarm/evacuation-failed:batt-a` && m.json?.active === true, 30_000, "evacuation-failed");
    expect(failedAlarm.json).toMatchObject({ priority: "critical", zone: "batt-a" });
    expect(String(failedAlarm.json!["message"])).toContain("k8s-node-33");

    // The ghost never accepts: re-announced (same id and issuedAt, new ts, each verifying), then escalated.
    const unack = await rec.waitFor((m) => m.topic === `${prefix}/alarm/evacuation-unacknowledged:batt-a` && m.json?.active === true, 60_000, "evacuation-unacknowledged");
    expect(String(unack.json!["message"])).toContain("ghost");
    const announcements = rec.on(`${prefix}/evacuate/batt-a`).filter((m) => m.json !== undefined);
    expect(announcements.length).toBeGreaterThanOrEqual(3);
    expect(new Set(announcements.map((m) => `${String(m.json!["id"])} ${String(m.json!["issuedAt"])}`)).size).toBe(1);
    expect(new Set(announcements.map((m) => m.json!["ts"])).size).toBe(announcements.length);
    for (const m of announcements) expect(verifyTrigger(m.payload, { site: "dc1", keys, now: Date.parse(String(m.json!["ts"])), maxAgeMs: 1000 }).ok).toBe(true);
    const k8sState = (m: { json?: Record<string, unknown> }) => (m.json?.["consumers"] as Record<string, { state: string }> | undefined)?.["k8s"]?.state;
    const status = await rec.waitFor((m) => m.topic === `${prefix}/evacuate/batt-a/status` && m.json?.state === "failed" && k8sState(m) === "done", 30_000, "status with k8s done");
    expect(status.json).toMatchObject({ id: "dc1:batt-a:0001", required: ["k8s", "vm", "ghost"], missing: ["ghost"], failedHosts: ["k8s-node-33"] });

    // Each host's action ran once for k8s, though the trigger was announced again and again.
    expect((await actionRuns(runsK8s)).map((l) => l.split(" ")[0]).sort()).toEqual(["k8s-node-31", "k8s-node-32", "k8s-node-33", "k8s-node-34"]);

    await rec.waitFor(() => runawayAt !== undefined, 120_000, "runaway").catch(() => undefined);
    const fmt = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
    const figures = {
      speed: SPEED,
      issuedAfterVent: ventAt === undefined ? "n/a" : fmt(Date.parse(String(first.json!["issuedAt"])) - ventAt),
      ventToK8sDone: ventAt === undefined ? "n/a" : fmt(doneAt - ventAt),
      marginBeforeRunaway: runawayAt === undefined ? "n/a (no runaway seen)" : fmt(runawayAt - doneAt),
      announcements: announcements.length,
    };
    console.log(`evacuation e2e (room time): ${JSON.stringify(figures)}`);
    expect(ventAt).toBeDefined();
    if (runawayAt !== undefined) expect(runawayAt - doneAt).toBeGreaterThan(60_000);
    await rec.stop();
  });
});
