// The panel's states drive the zone: pre-release evacuates at once with the deadline in the trigger,
// `released` is a stage of its own beyond evacuate, latched like it; signed and verified with the deadline.
import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { describeEvidence } from "../../src/alarms/describe.js";
import { envFor } from "../../src/evacuation/host-action.js";
import { dueAnnouncements, openTracking } from "../../src/evacuation/tracker.js";
import { triggerSigner, verifyTrigger } from "../../src/evacuation/trigger-wire.js";
import type { CoreEvent, EvacuationTrigger, ZoneStageChange } from "../../src/events.js";
import { evacuateMessage } from "../../src/outputs/mqtt/payloads.js";
import { topics } from "../../src/outputs/mqtt/topics.js";
import { good } from "../../src/points/point.js";
import { buildRoomWatch } from "../../src/runtime/core.js";
import { targetStage } from "../../src/zones/stage.js";
import { device, feed, siteConfig, stateRule, storeWith, T0, thresholdRule, zone } from "./fixtures-rules.js";

const keys = ["panel-1/preAlarm", "panel-1/preRelease", "panel-1/released", "panel-1/countdownS", "gas/ppm", "cell/tempC"];

function panelSite() {
  const config = siteConfig({
    zones: [zone("z1", { clearHoldMs: 0 })],
    devices: [device("panel-1", ["preAlarm", "preRelease", "released", "countdownS"]), device("gas", ["ppm"]), device("cell", ["tempC"])],
    rules: [
      stateRule({ id: "pre-alarm", points: ["panel-1/preAlarm"], states: [{ name: "pre_alarm", value: 1, stage: "pre_alarm" }] }),
      stateRule({ id: "pre-release", points: ["panel-1/preRelease"], knock: "panel", states: [{ name: "pre_release", value: 1, stage: "evacuate", countdownPoint: "panel-1/countdownS" }] }),
      stateRule({ id: "released", points: ["panel-1/released"], knock: "panel", states: [{ name: "released", value: 1, stage: "released" }] }),
      thresholdRule({ id: "gas", points: ["gas/ppm"], levels: [{ name: "high", value: 50, stage: "alarm" }] }),
      thresholdRule({ id: "hot", points: ["cell/tempC"], levels: [{ name: "high", value: 90, stage: "alarm" }] }),
    ],
  });
  const store = storeWith(keys);
  const watch = buildRoomWatch(config, store, T0);
  const quiet = { "panel-1/preAlarm": 0, "panel-1/preRelease": 0, "panel-1/released": 0, "panel-1/countdownS": 0, "gas/ppm": 0, "cell/tempC": 25 };
  feed(store, quiet, T0);
  watch.step(T0);
  return { config, store, watch, quiet };
}

const stagesOf = (events: CoreEvent[]) => events.filter((e): e is ZoneStageChange => e.type === "zone_stage").map((e) => e.stage);
const triggersOf = (events: CoreEvent[]) => events.filter((e): e is EvacuationTrigger => e.type === "evacuate");

describe("the panel's states and the released stage", () => {
  it("pre-release evacuates the zone at once, the trigger carrying the deadline from the countdown's reading; release then goes beyond, with no second trigger", () => {
    const { store, watch } = panelSite();
    const t1 = T0 + 10_000;
    feed(store, { "panel-1/preAlarm": 1 }, t1);
    expect(stagesOf(watch.step(t1, true))).toEqual(["pre_alarm"]);
    const readAt = T0 + 20_000;
    feed(store, { "panel-1/preRelease": 1, "panel-1/countdownS": 30 }, readAt);
    const judgedAt = readAt + 250; // the pass runs after the poll: the deadline counts from the reading
    const ev = watch.step(judgedAt, true);
    expect(stagesOf(ev)).toEqual(["evacuate"]);
    const [trigger] = triggersOf(ev);
    expect(trigger).toMatchObject({ zone: "z1", issuedAt: judgedAt, deadline: readAt + 30_000, reason: "panel-1 pre-release + panel-1 pre-alarm" });
    // The countdown runs down: the zone holds at evacuate, no new trigger.
    feed(store, { "panel-1/countdownS": 20 }, readAt + 10_000);
    expect(triggersOf(watch.step(readAt + 10_000, true))).toEqual([]);
    // Release: a stage of its own beyond evacuate, skipping nothing, and the same incident.
    const t3 = readAt + 30_000;
    feed(store, { "panel-1/preRelease": 0, "panel-1/countdownS": 0, "panel-1/released": 1 }, t3);
    const rel = watch.step(t3, true);
    expect(rel.filter((e) => e.type === "zone_stage")).toEqual([expect.objectContaining({ stage: "released", previous: "evacuate", skipped: [] })]);
    expect(triggersOf(rel)).toEqual([]);
    const alarm = rel.find((e) => e.type === "alarm" && e.alarm.id === "released");
    expect(alarm).toMatchObject({ alarm: { priority: "critical", stage: "released", active: true } });
  });

  it("released latches: it holds with the panel back to normal until an operator clears, and a clear is refused while it is still reported", () => {
    const { store, watch, quiet } = panelSite();
    feed(store, { "panel-1/released": 1 }, T0 + 1000);
    const ev = watch.step(T0 + 1000, true);
    // Straight from normal to released (no countdown seen): the zone still evacuates first, by its trigger.
    expect(ev.filter((e) => e.type === "zone_stage")).toEqual([expect.objectContaining({ stage: "released", skipped: ["watch", "pre_alarm", "alarm", "evacuate"] })]);
    expect(triggersOf(ev)).toHaveLength(1);
    expect(triggersOf(ev)[0]!.deadline).toBeUndefined();
    expect(watch.clearZone("z1", T0 + 2000, "op").ok).toBe(false);
    feed(store, quiet, T0 + 3000);
    expect(stagesOf(watch.step(T0 + 3000, true))).toEqual([]);
    expect(watch.step(T0 + 100_000)).not.toContainEqual(expect.objectContaining({ type: "zone_stage" }));
    const cleared = watch.clearZone("z1", T0 + 100_000, "op");
    expect(cleared.ok).toBe(true);
    expect(stagesOf(cleared.events)).toEqual(["normal"]);
  });

  it("two knocks at alarm never lower a zone the panel reports released", () => {
    const { store, watch, config } = panelSite();
    feed(store, { "panel-1/released": 1, "gas/ppm": 60, "cell/tempC": 95 }, T0 + 1000);
    expect(stagesOf(watch.step(T0 + 1000, true))).toEqual(["released"]);
    const z = config.zones.get("z1")!;
    const results = [
      { rule: "released", zone: "z1", kind: "state" as const, active: true, stage: "released" as const, evidence: [], faults: [] },
      { rule: "gas", zone: "z1", kind: "threshold" as const, active: true, stage: "alarm" as const, evidence: [], faults: [] },
      { rule: "hot", zone: "z1", kind: "threshold" as const, active: true, stage: "alarm" as const, evidence: [], faults: [] },
    ];
    expect(targetStage(z, results).stage).toBe("released");
  });

  it("a countdown that starts while the zone already evacuates gives the open trigger its deadline (same id and issuedAt), and only an earlier one moves it", () => {
    const { store, watch } = panelSite();
    feed(store, { "gas/ppm": 60, "cell/tempC": 95 }, T0 + 1000);
    const first = triggersOf(watch.step(T0 + 1000, true));
    expect(first).toHaveLength(1);
    expect(first[0]!.deadline).toBeUndefined();
    store.update("panel-1/preRelease", good(1, T0 + 2000));
    store.update("panel-1/countdownS", good(30, T0 + 2000));
    const again = triggersOf(watch.step(T0 + 2000, true));
    expect(again).toEqual([{ ...first[0]!, deadline: T0 + 32_000 }]);
    // Next poll: the same deadline within a second of rounding: nothing announced.
    store.update("panel-1/countdownS", good(29, T0 + 3400));
    expect(triggersOf(watch.step(T0 + 3400, true))).toEqual([]);
    // The panel restarts a shorter countdown: an earlier deadline is announced.
    store.update("panel-1/countdownS", good(5, T0 + 4000));
    expect(triggersOf(watch.step(T0 + 4000, true)).map((t) => [t.id, t.issuedAt, t.deadline])).toEqual([[first[0]!.id, first[0]!.issuedAt, T0 + 9000]]);
    expect(watch.snapshot().triggers[0]!.deadline).toBe(T0 + 9000);
  });
});

describe("the trigger's deadline on the wire", () => {
  const key = generateKeyPairSync("ed25519");
  const NOW = Date.parse("2026-11-25T03:12:09.412Z");
  const trigger: EvacuationTrigger = {
    type: "evacuate",
    id: "dc1:z1:0001",
    zone: "z1",
    incident: 1,
    racks: ["R1"],
    hosts: ["node-1"],
    reason: "panel-1 pre-release",
    evidence: [{ rule: "pre-release", point: "panel-1/preRelease", value: 1, quality: "good", state: "pre_release", countdownS: 30, deadline: NOW + 29_600 }],
    issuedAt: NOW,
    ackBy: NOW + 60_000,
    deadline: NOW + 29_600,
  };
  const signing = { site: "dc1", kid: "k1", signer: triggerSigner(key.privateKey) };
  const ctx = { site: "dc1", keys: new Map([["k1", key.publicKey]]), now: NOW, maxAgeMs: 300_000 };

  it("is an ISO time, signed with the rest, carried through verification, and kept by a re-announcement", () => {
    const msg = evacuateMessage(topics("dc1"), trigger, NOW, undefined, "main", signing);
    const v = verifyTrigger(msg.payload, ctx);
    expect(v.ok).toBe(true);
    if (!v.ok) return;
    expect(v.trigger.deadline).toBe(new Date(NOW + 29_600).toISOString());
    // A changed deadline breaks the signature.
    const tampered = { ...(JSON.parse(msg.payload) as Record<string, unknown>), deadline: new Date(NOW + 600_000).toISOString() };
    expect(verifyTrigger(JSON.stringify(tampered), ctx)).toMatchObject({ ok: false, code: "bad_signature" });
    // The tracker re-announces the trigger it holds: same id, issuedAt and deadline, signed anew.
    const tracked = openTracking({}, trigger, ["k8s"], NOW);
    const due = dueAnnouncements(tracked, NOW + 15_000, 15_000);
    expect(due.triggers).toHaveLength(1);
    const again = verifyTrigger(evacuateMessage(topics("dc1"), due.triggers[0]!, NOW + 15_000, undefined, "main", signing).payload, { ...ctx, now: NOW + 15_000 });
    expect(again.ok && again.trigger.deadline).toBe(new Date(NOW + 29_600).toISOString());
    expect(again.ok && again.trigger["announcement"]).toBe(2);
  });

  it("a trigger without a deadline has no deadline field, and a malformed one is refused", () => {
    const { deadline: _d, ...plain } = trigger;
    const msg = evacuateMessage(topics("dc1"), plain, NOW, undefined, "main", signing);
    expect(JSON.parse(msg.payload)).not.toHaveProperty("deadline");
    const bad = { ...(JSON.parse(msg.payload) as Record<string, unknown>), deadline: "in 30 s" };
    expect(verifyTrigger(JSON.stringify(bad), ctx)).toMatchObject({ ok: false, code: "malformed" });
  });

  it("reaches a consumer's host action as FIREBREAK_DEADLINE (empty when the trigger has none)", () => {
    const job = { host: "node-1", zone: "z1", trigger: "dc1:z1:0001", site: "dc1", incident: 1 };
    expect(envFor({ ...job, deadline: "2026-11-25T03:12:39.012Z" }, {}).FIREBREAK_DEADLINE).toBe("2026-11-25T03:12:39.012Z");
    expect(envFor(job, {}).FIREBREAK_DEADLINE).toBe("");
  });

  it("reads as a time in alarm and zone messages, not as a number of ms", () => {
    const text = describeEvidence(trigger.evidence[0]!);
    expect(text).toContain(`deadline ${new Date(NOW + 29_600).toISOString()}`);
    expect(text).toContain("countdownS 30.0");
  });
});
