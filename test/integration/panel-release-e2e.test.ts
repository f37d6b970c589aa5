// End to end: the simulated room (real Modbus TCP) plays `panel-release`; the daemon (a process,
// against a real Mosquitto) reads the clean-agent panel through the example site's `state` rules.
// The zone must evacuate when the panel starts its pre-release countdown, with the deadline in the
// signed trigger, and go to `released` (a stage of its own) when the panel releases.
import { readFile, writeFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseDocument } from "yaml";
import { loadSiteConfig } from "../../src/config/load.js";
import type { SiteConfig } from "../../src/config/types.js";
import { verifyTrigger } from "../../src/evacuation/trigger-wire.js";
import { acceleratedClock } from "../../src/runtime/clock.js";
import { loadScenario, startSimulation, type SimEvent, type Simulation } from "../../simulators/simulation.js";
import { startDaemon, type DaemonProcess } from "../support/daemon-process.js";
import { keyPair } from "../support/evacuation-rig.js";
import { startMosquitto, type Broker } from "../support/mosquitto.js";
import { MqttRecorder } from "../support/mqtt-recorder.js";
import { writeSiteFile } from "../support/site-file.js";

const SPEED = Number(process.env.FB_E2E_SPEED ?? 10);
const prefix = "firebreak/v1/dc1";
/** The scenario's pre-release countdown, s (simulators/scenarios/panel-release.yaml). */
const COUNTDOWN_S = 30;
/** Poll interval of the example site's devices, room ms: a state is seen within one poll (and one more on a loaded machine). */
const POLL_MS = 1000;
let broker: Broker;
let site: SiteConfig;
let daemon: DaemonProcess | undefined;
let sim: Simulation | undefined;

beforeAll(async () => {
  broker = await startMosquitto();
  site = await loadSiteConfig("config/example-site.yaml");
});
afterAll(async () => {
  await daemon?.stop();
  await sim?.stop();
  await broker?.destroy();
});

describe("panel-release, end to end", () => {
  it("evacuates at the start of the countdown with the deadline in the signed trigger, and reaches `released` at release", async () => {
    const key = await keyPair("daemon");
    const epoch = Date.now();
    const clock = acceleratedClock(SPEED, epoch);
    const steps: SimEvent[] = [];
    // The scenario is played once the daemon judges the zone (the daemon's start-up is no part of it).
    sim = await startSimulation({ site, clock, portOverride: () => 0 });
    sim.on("scenario-step", (e) => steps.push(e));
    const file = await writeSiteFile({ ports: sim.ports, mqttUrl: broker.url, staleAfterMs: 10_000 });
    const doc = parseDocument(await readFile(file, "utf8"));
    doc.setIn(["evacuation"], doc.createNode({ signing_key_file: key.key, kid: "dc1-test", ack_window_s: 60, reannounce_interval_s: 15, consumers: [] }));
    await writeFile(file, doc.toString());
    const rec = await MqttRecorder.start(broker.url, `${prefix}/#`);
    daemon = startDaemon(file, { speed: SPEED, epoch });

    const stageMsg = (stage: string) => (m: { topic: string; json?: Record<string, unknown> }) => m.topic === `${prefix}/zone/batt-a/stage` && m.json?.["stage"] === stage;
    await rec.waitFor(stageMsg("normal"), 60_000, "batt-a judged normal");
    sim.play(await loadScenario("panel-release"));
    const evacuate = await rec.waitFor(stageMsg("evacuate"), 60_000, "batt-a at evacuate");
    const countdown = steps.find((s) => s.command?.kind === "panel" && s.command.state === "pre_release");
    expect(countdown, "the scenario's countdown step ran before the zone evacuated").toBeDefined();
    const countdownAt = countdown!.at;
    // Evacuate came from the countdown: not before it, and within a poll or two of it; pre_alarm first.
    const evacuatedAt = Date.parse(String(evacuate.json!["since"]));
    expect(evacuatedAt).toBeGreaterThanOrEqual(countdownAt);
    expect(evacuatedAt - countdownAt).toBeLessThan(3 * POLL_MS);
    expect(evacuate.json).toMatchObject({ previous: "pre_alarm" });
    expect(rec.on(`${prefix}/zone/batt-a/stage`).some((m) => m.json?.["stage"] === "pre_alarm")).toBe(true);

    // The trigger: signed, verified, with the deadline of the countdown (from the panel's reading).
    const trig = await rec.waitFor((m) => m.topic === `${prefix}/evacuate/batt-a` && m.json !== undefined, 30_000, "the trigger");
    const v = verifyTrigger(trig.payload, { site: "dc1", keys: new Map([["dc1-test", key.publicKey]]), now: clock.now(), maxAgeMs: 120_000 });
    expect(v.ok).toBe(true);
    if (!v.ok) return;
    expect(v.trigger).toMatchObject({ id: "dc1:batt-a:0001", zone: "batt-a", kid: "dc1-test" });
    expect(v.trigger.reason).toContain("panel-1 pre-release");
    expect(typeof v.trigger.deadline).toBe("string");
    const deadline = Date.parse(v.trigger.deadline!);
    // Read within a poll of the countdown's start; the panel rounds its seconds left up.
    expect(deadline - (countdownAt + COUNTDOWN_S * 1000)).toBeGreaterThanOrEqual(-POLL_MS);
    expect(deadline - (countdownAt + COUNTDOWN_S * 1000)).toBeLessThanOrEqual(2 * POLL_MS);

    // Release: `released`, beyond evacuate, at the deadline (within a poll or two), same incident.
    const released = await rec.waitFor(stageMsg("released"), 60_000, "batt-a released");
    const releasedAt = Date.parse(String(released.json!["since"]));
    expect(released.json).toMatchObject({ previous: "evacuate", skipped: [] });
    expect(releasedAt).toBeGreaterThanOrEqual(deadline - 2 * POLL_MS);
    expect(releasedAt - deadline).toBeLessThan(3 * POLL_MS);
    const releasedAlarm = await rec.waitFor((m) => m.topic === `${prefix}/alarm/panel-released` && m.json?.["active"] === true, 30_000, "panel-released alarm");
    expect(releasedAlarm.json).toMatchObject({ priority: "critical", stage: "released", class: "condition" });
    const ids = new Set(rec.on(`${prefix}/evacuate/batt-a`).filter((m) => m.json !== undefined).map((m) => m.json!["id"]));
    expect([...ids]).toEqual(["dc1:batt-a:0001"]);
    console.log(`panel-release e2e (room time, speed ${SPEED}): countdown -> evacuate ${evacuatedAt - countdownAt} ms; deadline - (countdown + ${COUNTDOWN_S} s) ${deadline - countdownAt - COUNTDOWN_S * 1000} ms; released - deadline ${releasedAt - deadline} ms`);
    await rec.stop();
  }, 180_000);
});
