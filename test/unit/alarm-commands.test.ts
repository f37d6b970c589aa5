// Operator commands on the annunciator (ISA-18.2 shelving, suppression by design, out of service),
// the chattering filter and flood accounting, each as the behaviour an operator relies on.
import { describe, expect, it } from "vitest";
import { FLOOD_ALARM_ID } from "../../src/alarms/flood.js";
import { alarmMessage } from "../../src/outputs/mqtt/payloads.js";
import { topics } from "../../src/outputs/mqtt/topics.js";
import { annunciator, MIN, res, T0 } from "./alarm-helpers.js";

const states = (events: { alarm: { id: string; state: string } }[]) => events.map((e) => `${e.alarm.id}:${e.alarm.state}`);

describe("refused commands say why and change nothing", () => {
  it.each([
    ["an unknown alarm cannot be acknowledged", (a: ReturnType<typeof annunciator>) => a.acknowledge({ alarm: "nope" }, "alice", T0), 'unknown alarm "nope"'],
    ["an unknown zone cannot be acknowledged", (a: ReturnType<typeof annunciator>) => a.acknowledge({ zone: "z9" }, "alice", T0), 'unknown zone "z9"'],
    ["an unknown alarm cannot be shelved", (a: ReturnType<typeof annunciator>) => a.shelve("nope", MIN, "why", "bob", T0), 'unknown alarm "nope"'],
    ["shelving needs a duration", (a: ReturnType<typeof annunciator>) => a.shelve("og", 0, "why", "bob", T0), "shelving needs a duration above 0 (got 0 ms)"],
    ["shelving is limited", (a: ReturnType<typeof annunciator>) => a.shelve("og", 9 * 60 * MIN, "why", "bob", T0), "9 h is longer than the longest shelving allowed, 8 h (alarms.shelving.max_duration_s)"],
    ["shelving needs a reason", (a: ReturnType<typeof annunciator>) => a.shelve("og", MIN, " ", "bob", T0), "a reason is required"],
    ["a rule that can evacuate is life safety: never shelved", (a: ReturnType<typeof annunciator>) => a.shelve("ev", MIN, "why", "bob", T0), 'alarm "ev" is a life-safety (critical) alarm: it cannot be shelved; acknowledge it, or fix the condition'],
    ["a rule configured critical is never shelved", (a: ReturnType<typeof annunciator>) => a.shelve("hot", MIN, "why", "bob", T0), 'alarm "hot" is a life-safety (critical) alarm: it cannot be shelved; acknowledge it, or fix the condition'],
    ["a life-safety alarm is never out of service", (a: ReturnType<typeof annunciator>) => a.outOfService({ alarm: "ev" }, "broken", "carol", T0), 'alarm "ev" is a life-safety (critical) alarm: it cannot be taken out of service; take the faulty device out of service instead'],
    ["an unknown device cannot go out of service", (a: ReturnType<typeof annunciator>) => a.outOfService({ device: "cab9" }, "broken", "carol", T0), 'unknown device "cab9"'],
    ["maintenance of an unknown zone", (a: ReturnType<typeof annunciator>) => a.maintenance("z9", true, undefined, "work", "dave", T0), 'unknown zone "z9"'],
    ["maintenance ending in the past", (a: ReturnType<typeof annunciator>) => a.maintenance("z1", true, T0, "work", "dave", T0 + 1), 'maintenance of zone "z1" must end in the future (until ' + T0 + ")"],
    ["the site is not a zone one can maintain", (a: ReturnType<typeof annunciator>) => a.maintenance("site", true, undefined, "work", "dave", T0), 'unknown zone "site"'],
  ])("%s", (_name, command, reason) => {
    const a = annunciator();
    a.update([res("og", "alarm"), res("ev", "alarm")], T0);
    const before = a.exportState();
    expect(command(a)).toEqual({ ok: false, reason });
    expect(a.exportState()).toEqual(before);
  });

  it("an alarm escalated to critical cannot be shelved even if its rule is not life safety", () => {
    const a = annunciator();
    a.update([res("ev", "evacuate")], T0);
    expect(a.shelve("ev", MIN, "why", "bob", T0).ok).toBe(false);
  });
});

describe("acknowledge", () => {
  it("by alarm, by zone and all; nothing to acknowledge is ok with no events", () => {
    const a = annunciator();
    a.update([res("og", "alarm"), res("ev", "alarm"), res("t2", "alarm")], T0);
    const one = a.acknowledge({ alarm: "og" }, "alice", T0 + 1000);
    expect(one.ok && one.events.map((e) => [e.alarm.id, e.alarm.state, e.reason])).toEqual([["og", "ack", "acknowledged by alice"]]);
    expect(a.acknowledge({ alarm: "og" }, "alice", T0 + 2000)).toEqual({ ok: true, events: [] });
    const zone = a.acknowledge({ zone: "z1" }, "bob", T0 + 3000);
    expect(zone.ok && states(zone.events)).toEqual(["ev:ack"]);
    const all = a.acknowledge({ all: true }, "carol", T0 + 4000);
    expect(all.ok && states(all.events)).toEqual(["t2:ack"]);
    expect(a.get("t2")).toMatchObject({ ackedBy: "carol", ackedAt: T0 + 4000, reason: "acknowledged by carol" });
  });
});

describe("shelving", () => {
  it("hides an alarm while tracking its condition, and expires by its until", () => {
    const a = annunciator();
    a.update([res("og", "alarm")], T0);
    const s = a.shelve("og", 30 * MIN, "calibrating", "bob", T0 + 1000);
    expect(s.ok && s.events.map((e) => [e.previous, e.alarm.state, e.reason])).toEqual([["unack", "shelved", "shelved by bob for 30 min: calibrating"]]);
    expect(a.get("og")).toMatchObject({ state: "shelved", active: true, shelved: { by: "bob", at: T0 + 1000, until: T0 + 1000 + 30 * MIN, reason: "calibrating" } });
    // The condition clears and comes back while shelved: tracked, still shelved.
    expect(a.update([res("og", "off")], T0 + 2000).map((e) => [e.alarm.state, e.alarm.active, e.reason])).toEqual([["shelved", false, "condition cleared (still shelved)"]]);
    a.update([res("og", "alarm")], T0 + 3000);
    expect(a.tick(T0 + 1000 + 30 * MIN - 1)).toEqual([]);
    const expired = a.tick(T0 + 1000 + 30 * MIN);
    expect(expired.map((e) => [e.previous, e.alarm.state, e.reason])).toEqual([["shelved", "unack", "shelf expired; condition active: og: alarm, det1/ppm = 1.0"]]);
    expect(a.get("og")?.shelved).toBeUndefined();
  });

  it("unshelving a clear alarm returns it to normal, and shelving a never-active alarm works", () => {
    const a = annunciator();
    expect(a.shelve("t2", MIN, "sensor swap", "bob", T0).ok).toBe(true);
    expect(a.get("t2")).toMatchObject({ state: "shelved", active: false });
    const u = a.unshelve("t2", "bob", T0 + 1000);
    expect(u.ok && u.events.map((e) => [e.alarm.state, e.reason])).toEqual([["normal", "unshelved by bob"]]);
    expect(a.unshelve("t2", "bob", T0 + 2000)).toEqual({ ok: true, events: [] });
  });

  it("an alarm escalating to critical breaks through its shelf", () => {
    const a = annunciator();
    a.update([res("t2", "alarm")], T0);
    a.shelve("t2", MIN, "noisy", "bob", T0);
    const hot = a.update([res("hot", "pre_alarm")], T0 + 1000);
    expect(states(hot)).toEqual(["hot:unack"]); // hot is configured critical: latched and visible at once
    expect(a.get("hot")).toMatchObject({ priority: "critical", latched: true });
  });
});

describe("maintenance (suppressed by design)", () => {
  it("suppresses the zone's standing and new alarms, never life-safety ones; ends where the condition says", () => {
    const a = annunciator();
    a.update([res("og", "alarm"), res("ev", "evacuate")], T0);
    const m = a.maintenance("z1", true, T0 + 60 * MIN, "replacing detector", "dave", T0 + 1000);
    expect(m.ok && m.events.map((e) => [e.alarm.id, e.alarm.state, e.reason])).toEqual([
      ["og", "suppressed", "zone z1 in maintenance until " + new Date(T0 + 60 * MIN).toISOString() + " (by dave): replacing detector"],
    ]);
    expect(a.get("ev")?.state).toBe("unack"); // critical: never suppressed
    expect(states(a.update([res("comm", "off")], T0 + 2000))).toEqual([]); // normal and clear: nothing to hide
    expect(states(a.update([res("comm", "off", 1)], T0 + 3000))).toEqual(["comm:fault:suppressed"]);
    a.update([res("og", "off")], T0 + 4000);
    const end = a.tick(T0 + 60 * MIN);
    expect(end.map((e) => [e.alarm.id, e.alarm.state, e.reason])).toEqual([
      ["og", "normal", "maintenance of zone z1 ended (until " + new Date(T0 + 60 * MIN).toISOString() + ")"],
      ["comm:fault", "unack", "maintenance of zone z1 ended (until " + new Date(T0 + 60 * MIN).toISOString() + "); condition active: comm: 1 input(s) not good, e.g. det1 bad/stale"],
    ]);
  });

  it("taking a zone out of maintenance by hand", () => {
    const a = annunciator();
    a.update([res("t2", "alarm")], T0);
    a.maintenance("z2", true, undefined, "work", "dave", T0);
    const off = a.maintenance("z2", false, undefined, "", "dave", T0 + 1000);
    expect(off.ok && off.events.map((e) => [e.alarm.state, e.reason])).toEqual([["unack", "zone z2 out of maintenance (by dave); condition active: t2: alarm, cab2/tempC = 1.0"]]);
    expect(a.maintenance("z2", false, undefined, "", "dave", T0 + 2000)).toEqual({ ok: true, events: [] });
  });
});

describe("out of service", () => {
  it("a device out of service hides the trouble alarms that concern only it, never a condition alarm", () => {
    const a = annunciator();
    a.update([res("og", "alarm", 1), res("comm", "comm_loss" as never)], T0);
    const o = a.outOfService({ device: "det1" }, "sent for repair", "carol", T0 + 1000);
    expect(o.ok && o.events.map((e) => [e.alarm.id, e.alarm.state])).toEqual([
      ["og:fault", "out_of_service"],
      ["comm", "out_of_service"],
    ]);
    expect(a.get("og")?.state).toBe("unack");
    expect(a.get("comm")).toMatchObject({ outOfService: { by: "carol", at: T0 + 1000, reason: "sent for repair", devices: ["det1"] }, reason: "device det1 out of service by carol: sent for repair" });
    const back = a.returnToService({ device: "det1" }, "carol", T0 + 2000);
    expect(back.ok && back.events.map((e) => [e.alarm.id, e.alarm.state])).toEqual([
      ["og:fault", "unack"],
      ["comm", "unack"],
    ]);
  });

  it("an alarm out of service returns to what its condition says", () => {
    const a = annunciator();
    a.update([res("t2", "alarm")], T0);
    a.outOfService({ alarm: "t2" }, "bad sensor", "carol", T0);
    a.update([res("t2", "off")], T0 + 1000);
    const back = a.returnToService({ alarm: "t2" }, "carol", T0 + 2000);
    expect(back.ok && back.events.map((e) => [e.alarm.state, e.reason])).toEqual([["normal", "returned to service by carol"]]);
  });
});

describe("chattering", () => {
  it("is annunciated once, then silent, then one event when it calms", () => {
    const a = annunciator({ chatter: { maxChanges: 4, windowMs: MIN } });
    const seen: string[] = [];
    for (let i = 0; i < 12; i++) seen.push(...states(a.update([res("t2", i % 2 === 0 ? "alarm" : "off")], T0 + i * 1000)));
    // on, off, on, off: 4 changes; the 5th is chattering and announced once; the rest are silent.
    expect(seen).toEqual(["t2:unack", "t2:rtn_unack", "t2:unack", "t2:rtn_unack", "t2:unack"]);
    expect(a.get("t2")).toMatchObject({ state: "rtn_unack", chattering: { count: 12, since: T0 + 4000 } });
    expect(a.tick(T0 + 11_000 + MIN - 1)).toEqual([]);
    const calm = a.tick(T0 + 11_000 + MIN);
    expect(calm.map((e) => [e.previous, e.alarm.state, e.alarm.chattering, e.reason])).toEqual([["unack", "rtn_unack", undefined, "chattering ended: no change for 1 min"]]);
  });
});

describe("flood", () => {
  it("more than 10 annunciations in 10 minutes raise alarm-flood; it ends below the end rate", () => {
    const a = annunciator({ flood: { per10Min: 2, endBelowPer10Min: 2 } });
    a.update([res("og", "alarm")], T0);
    a.update([res("t2", "alarm")], T0 + 1000);
    expect(a.floodCount()).toBe(2);
    expect(a.get(FLOOD_ALARM_ID)).toBeUndefined();
    const third = a.update([res("ev", "alarm")], T0 + 2000);
    expect(third.map((e) => [e.alarm.id, e.alarm.state, e.alarm.priority, e.alarm.zone, e.alarm.class])).toEqual([
      ["ev", "unack", "high", "z1", "condition"],
      [FLOOD_ALARM_ID, "unack", "high", "site", "trouble"],
    ]);
    expect(a.get(FLOOD_ALARM_ID)?.message).toBe("alarm flood: 3 alarms annunciated in the last 10 min (ISA-18.2 benchmark: 2 per 10 min)");
    expect(a.tick(T0 + 10 * MIN)).toEqual([]); // og left the window: 2 left, not below 2
    const end = a.tick(T0 + 10 * MIN + 1000);
    expect(end.map((e) => [e.alarm.id, e.alarm.state])).toEqual([[FLOOD_ALARM_ID, "rtn_unack"]]);
    expect(a.floodCount()).toBe(1);
  });
});

describe("payload", () => {
  it("publishes reason, shelf and acknowledgment with ISO times", () => {
    const a = annunciator();
    a.update([res("og", "alarm")], T0);
    a.acknowledge({ alarm: "og" }, "alice", T0 + 1000);
    a.shelve("og", 30 * MIN, "calibrating", "bob", T0 + 2000);
    const body = JSON.parse(alarmMessage(topics("dc1"), a.get("og")!, T0 + 3000).payload) as Record<string, unknown>;
    expect(body).toMatchObject({
      state: "shelved",
      reason: "shelved by bob for 30 min: calibrating",
      ackedBy: "alice",
      ackedAt: new Date(T0 + 1000).toISOString(),
      shelved: { by: "bob", at: new Date(T0 + 2000).toISOString(), until: new Date(T0 + 2000 + 30 * MIN).toISOString(), reason: "calibrating" },
    });
  });
});
