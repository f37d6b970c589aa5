// The pure ack tracker: re-announcement, the ackBy escalation, failure, and what is ignored.
import { describe, expect, it } from "vitest";
import { applyAck, closeTracking, dueAnnouncements, escalationInputs, openTracking, requiredFor, statusOf, type TrackerState } from "../../src/evacuation/tracker.js";
import type { EvacuationTrigger } from "../../src/events.js";

const T0 = 1_000_000;
const trigger: EvacuationTrigger = { type: "evacuate", id: "dc1:batt-a:0001", zone: "batt-a", incident: 1, racks: ["R12"], hosts: ["h1", "h2"], reason: "r", evidence: [], issuedAt: T0, ackBy: T0 + 60_000 };
const ack = (state: "accepted" | "progress" | "done" | "failed", tsMs: number, done: string[] = [], failed: string[] = [], id = trigger.id) => ({ id, state, hosts: { done, failed }, tsMs, ...(state === "failed" ? { reason: "drain timed out" } : {}) });
const open = (): TrackerState => openTracking({}, trigger, ["k8s", "vm"], T0);
const active = (s: TrackerState, now: number) => Object.fromEntries(escalationInputs("batt-a", s["batt-a"], now).map((i) => [i.rule, i.active]));

describe("evacuation tracker", () => {
  it("re-announces at the interval until every required consumer accepted, with the same id and issuedAt", () => {
    let s = open();
    expect(dueAnnouncements(s, T0 + 14_999, 15_000).triggers).toEqual([]);
    const d = dueAnnouncements(s, T0 + 15_000, 15_000);
    expect(d.triggers).toEqual([{ ...trigger, announcement: 2 }]);
    s = d.state;
    s = (applyAck(s, "batt-a", "k8s", ack("accepted", 1), T0 + 16_000) as { state: TrackerState }).state;
    expect(dueAnnouncements(s, T0 + 30_000, 15_000).triggers.map((t) => t.announcement)).toEqual([3]);
    s = (applyAck(s, "batt-a", "vm", ack("accepted", 2), T0 + 31_000) as { state: TrackerState }).state;
    expect(dueAnnouncements(s, T0 + 90_000, 15_000).triggers).toEqual([]);
  });

  it("raises evacuation-unacknowledged once ackBy passes with a required consumer missing, and clears when it accepts", () => {
    let s = open();
    s = (applyAck(s, "batt-a", "k8s", ack("accepted", 1), T0 + 1000) as { state: TrackerState }).state;
    expect(active(s, T0 + 59_999)).toEqual({ "evacuation-unacknowledged": false, "evacuation-failed": false });
    expect(statusOf(s["batt-a"]!, T0 + 59_999)).toMatchObject({ state: "waiting", missing: ["vm"] });
    expect(active(s, T0 + 60_000)["evacuation-unacknowledged"]).toBe(true);
    expect(escalationInputs("batt-a", s["batt-a"], T0 + 60_000)[0]).toMatchObject({ priority: "critical", message: expect.stringContaining("vm") });
    expect(statusOf(s["batt-a"]!, T0 + 60_000).state).toBe("unacknowledged");
    s = (applyAck(s, "batt-a", "vm", ack("accepted", 2), T0 + 61_000) as { state: TrackerState }).state;
    expect(active(s, T0 + 61_000)["evacuation-unacknowledged"]).toBe(false);
  });

  it("a consumer's failure raises evacuation-failed naming the hosts; all done is done", () => {
    let s = open();
    s = (applyAck(s, "batt-a", "k8s", ack("done", 5, ["h1", "h2"]), T0) as { state: TrackerState }).state;
    s = (applyAck(s, "batt-a", "vm", ack("progress", 5, ["h1"]), T0) as { state: TrackerState }).state;
    expect(statusOf(s["batt-a"]!, T0).state).toBe("progress");
    s = (applyAck(s, "batt-a", "vm", ack("failed", 6, ["h1"], ["h2"]), T0) as { state: TrackerState }).state;
    expect(active(s, T0)["evacuation-failed"]).toBe(true);
    expect(escalationInputs("batt-a", s["batt-a"], T0)[1]!.message).toMatch(/h2.*drain timed out/);
    expect(statusOf(s["batt-a"]!, T0)).toMatchObject({ state: "failed", failedHosts: ["h2"] });
  });

  it("ignores an ack for another trigger, an older or duplicate one, and hosts not in the trigger", () => {
    let s = open();
    expect(applyAck(s, "batt-a", "k8s", ack("accepted", 1, [], [], "dc1:batt-a:0000"), T0).applied).toBe(false);
    expect(applyAck(s, "batt-b", "k8s", ack("accepted", 1), T0).applied).toBe(false);
    s = (applyAck(s, "batt-a", "k8s", ack("done", 10, ["h1", "h2", "intruder"]), T0) as { state: TrackerState }).state;
    expect(s["batt-a"]!.acks["k8s"]!.done).toEqual(["h1", "h2"]);
    expect(applyAck(s, "batt-a", "k8s", ack("accepted", 10), T0).applied).toBe(false);
    expect(applyAck(s, "batt-a", "k8s", ack("accepted", 9), T0).applied).toBe(false);
  });

  it("closing ends the tracking: the escalation conditions clear; reopening the same id changes nothing", () => {
    const s = open();
    expect(openTracking(s, { ...trigger, announcement: 2 }, ["k8s"], T0 + 5)).toBe(s);
    expect(closeTracking(s, "batt-a")).toEqual({});
    expect(escalationInputs("batt-a", undefined, T0 + 120_000).every((i) => !i.active)).toBe(true);
  });

  it("required consumers: those listing the zone, and those listing none", () => {
    expect(requiredFor("batt-a", [{ id: "a", zones: ["batt-a"] }, { id: "b", zones: ["batt-b"] }, { id: "c" }])).toEqual(["a", "c"]);
    expect(statusOf(openTracking({}, trigger, [], T0)["batt-a"]!, T0 + 120_000).state).toBe("no_consumers");
  });
});
