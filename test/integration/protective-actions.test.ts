// Protective actions end to end: the simulated room plays cell-runaway over real TCP, the daemon runs
// as a process with a real Mosquitto, and three actions are bound to zone batt-a at `evacuate`
// behind a two-knock interlock: open string 1 of cab1 (carried out, confirmed by read-back: the
// contactor bit and the string's current go to 0), open string 1 of cab2 (the simulated cab2
// ignores writes: `failed`, and the critical action-unconfirmed alarm naming device and point), and
// open string 2 of cab1 as a dry run (published, never written). Then a restart: nothing is repeated.
import { readFile, writeFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseDocument } from "yaml";
import { loadSiteConfig } from "../../src/config/load.js";
import type { SiteConfig } from "../../src/config/types.js";
import { acceleratedClock } from "../../src/runtime/clock.js";
import { loadScenario, startSimulation, type Simulation } from "../../simulators/simulation.js";
import { startDaemon, type DaemonProcess } from "../support/daemon-process.js";
import { startMosquitto, type Broker } from "../support/mosquitto.js";
import { MqttRecorder, type Recorded } from "../support/mqtt-recorder.js";
import { writeSiteFile } from "../support/site-file.js";

const SPEED = 20;
const prefix = "firebreak/v1/dc1";
let broker: Broker;
let site: SiteConfig;
const procs: DaemonProcess[] = [];
let sim: Simulation | undefined;
let rec: MqttRecorder | undefined;

beforeAll(async () => {
  broker = await startMosquitto();
  site = await loadSiteConfig("config/example-site.yaml");
});
afterAll(async () => {
  for (const p of procs) await p.stop();
  await rec?.stop();
  await sim?.stop();
  await broker?.destroy();
});

const contactor = (id: string, device: string, s: number, dryRun: boolean) => ({
  id,
  kind: "open_string_contactor",
  device,
  write: { point: `s${s}/setCon`, value: 2 },
  expect: [{ point: `s${s}/contactorClosed`, value: 0 }, { point: `s${s}/currentA`, value: 0, tolerance: 0.05 }],
  on: { zone: "batt-a", stage: "evacuate" },
  enabled: true,
  dry_run: dryRun,
  interlock: { zone_stage: "evacuate", min_knocks: 2 },
  // Room time: read back every 2 s, at most 8 times within 30 s (a poll of the device is 1 s).
  verify: { retries: 8, interval_ms: 2000, timeout_ms: 30_000 },
});

const actionEvent = (action: string, outcome: string) => (m: Recorded) => m.topic === `${prefix}/events` && m.json?.["type"] === "action" && m.json["action"] === action && m.json["outcome"] === outcome;

describe("protective actions, interlocked and verified", () => {
  it("a contactor write is confirmed by read-back, an ignored one raises action-unconfirmed, a dry run writes nothing, and a restart repeats nothing", async () => {
    const epoch = Date.now();
    const clock = acceleratedClock(SPEED, epoch);
    sim = await startSimulation({ site, clock, scenario: await loadScenario("cell-runaway"), portOverride: () => 0 });
    sim.inject({ kind: "ignore_writes", device: "cab2", on: true });
    const file = await writeSiteFile({ ports: sim.ports, mqttUrl: broker.url, staleAfterMs: 10_000 });
    const doc = parseDocument(await readFile(file, "utf8"));
    doc.setIn(["actions"], doc.createNode([contactor("open-cab1-s1", "cab1", 1, false), contactor("open-cab2-s1", "cab2", 1, false), contactor("dry-cab1-s2", "cab1", 2, true)]));
    await writeFile(file, doc.toString());

    rec = await MqttRecorder.start(broker.url, `${prefix}/#`);
    const daemon = startDaemon(file, { speed: SPEED, epoch });
    procs.push(daemon);

    const evacuate = await rec.waitFor((m) => m.topic === `${prefix}/zone/batt-a/stage` && m.json?.["stage"] === "evacuate", 120_000, "batt-a at evacuate");
    const decided = await rec.waitFor(actionEvent("open-cab1-s1", "decided"), 30_000, "open-cab1-s1 decided");
    expect(decided.json).toMatchObject({ device: "cab1", point: "s1/setCon", value: 2, zone: "batt-a", stage: "evacuate", dryRun: false, knocks: expect.arrayContaining(["off-gas", "cell-temperature"]) });
    expect(Date.parse(String(decided.json!["since"]))).toBeGreaterThanOrEqual(Date.parse(String(evacuate.json!["since"])));

    // Carried out and confirmed: the device shows the contactor open and the string's current stopped.
    const confirmed = await rec.waitFor(actionEvent("open-cab1-s1", "confirmed"), 60_000, "open-cab1-s1 confirmed");
    expect(confirmed.json!["readBack"]).toEqual([
      { point: "s1/contactorClosed", expected: 0, value: 0, quality: "good", ok: true },
      { point: "s1/currentA", expected: 0, value: 0, quality: "good", ok: true },
    ]);
    const cab1Writes = sim.writes().filter((w) => w.device === "cab1");
    expect(cab1Writes).toHaveLength(1);
    expect(cab1Writes[0]).toMatchObject({ table: "holding", values: [2], effect: "opened the contactor of string 1" });

    // cab2 echoes the write and does nothing: not confirmed, the critical alarm names device and point.
    const failed = await rec.waitFor(actionEvent("open-cab2-s1", "failed"), 60_000, "open-cab2-s1 failed");
    expect(failed.json).toMatchObject({ code: "unconfirmed", device: "cab2", point: "s1/setCon" });
    // The string still carries its float current: the read-back saw the contactor closed.
    expect(failed.json!["readBack"]).toEqual([
      { point: "s1/contactorClosed", expected: 0, value: 1, quality: "good", ok: false },
      { point: "s1/currentA", expected: 0, value: 0.4, quality: "good", ok: false },
    ]);
    const alarm = await rec.waitFor((m) => m.topic === `${prefix}/alarm/action-unconfirmed:open-cab2-s1` && m.json?.["active"] === true, 30_000, "action-unconfirmed alarm");
    // Retained: a console that connects now sees it.
    const late = await MqttRecorder.start(broker.url, `${prefix}/alarm/action-unconfirmed:open-cab2-s1`);
    const retained = await late.waitFor((m) => m.retain && m.json?.["active"] === true, 10_000, "the retained alarm");
    await late.stop();
    expect(retained.json!["state"]).toBe("unack");
    expect(alarm.json).toMatchObject({ priority: "critical", zone: "batt-a", class: "condition", latched: true });
    expect(String(alarm.json!["message"])).toContain("cab2/s1/setCon");
    expect(sim.writes().filter((w) => w.device === "cab2").map((w) => w.effect)).toEqual([expect.stringMatching(/^ignored/)]);

    // The dry run is published and audited, and nothing reaches string 2 of cab1.
    const dry = await rec.waitFor(actionEvent("dry-cab1-s2", "dry_run"), 30_000, "dry run");
    expect(dry.json).toMatchObject({ dryRun: true, device: "cab1", point: "s2/setCon", value: 2 });
    expect(String(dry.json!["detail"])).toContain("nothing written");
    expect(sim.writes().filter((w) => w.effect.includes("string 2"))).toEqual([]);
    expect(rec.messages.filter(actionEvent("dry-cab1-s2", "decided"))).toEqual([]);

    // A restart in the same episode: the audit says every action was performed; nothing is written again.
    await daemon.stop();
    const writesBefore = sim.writes().length;
    rec.clear();
    const again = startDaemon(file, { speed: SPEED, epoch });
    procs.push(again);
    await again.waitForOutput("was performed before the restart in this episode: not repeated", 30_000);
    await again.waitForOutput("rules evaluating", 60_000);
    // Negative evidence needs a window: 40 s of room time (2 s real) of evaluations after the restart.
    await new Promise((r) => setTimeout(r, 2000));
    expect(sim.writes()).toHaveLength(writesBefore);
    expect(rec.messages.filter((m) => m.topic === `${prefix}/events` && m.json?.["type"] === "action" && ["decided", "dry_run", "written"].includes(String(m.json["outcome"])))).toEqual([]);
    console.log(`protective actions (room time): evacuate ${String(evacuate.json!["since"])}, decided ${String(decided.json!["since"])}, confirmed ${String(confirmed.json!["since"])} (${(Date.parse(String(confirmed.json!["since"])) - Date.parse(String(decided.json!["since"]))) / 1000} s after the decision), cab2 failed ${String(failed.json!["since"])}`);
  });
});
