import { describe, expect, it } from "vitest";
import { bad } from "../../src/points/point.js";
import { voteEvaluator } from "../../src/rules/vote.js";
import { feed, storeWith, STALE_MS, T0, voteRule } from "./fixtures-rules.js";

const D = ["smoke-1/alarm", "smoke-2/alarm", "smoke-3/alarm"];

describe("vote rule (k of n detectors)", () => {
  it.each([
    // readings of the three detectors, 2 of 3 needed
    [[0, 0, 0], false],
    [[1, 0, 0], false],
    [[1, 1, 0], true],
    [[1, 1, 1], true],
  ])("detectors reading %j: active %s", (values, active) => {
    const store = storeWith(D);
    const rule = voteEvaluator(voteRule({ id: "v", points: D, votes: 2 }));
    feed(store, Object.fromEntries(D.map((k, i) => [k, values[i]!])), T0);
    const r = rule.evaluate(store, T0);
    expect(r.active).toBe(active);
    expect(r.stage).toBe(active ? "alarm" : undefined);
    expect(r.evidence.length).toBe(active ? values.filter((v) => v === 1).length : 0);
    expect(r.faults).toEqual([]);
  });

  it("votes on an analog level (at_least) and on a bit", () => {
    const ppm = ["gas-1/ppm", "gas-2/ppm"];
    const store = storeWith([...ppm, ...D]);
    const level = voteEvaluator(voteRule({ id: "gas", points: ppm, votes: 2, when: { atLeast: 50 }, stage: "evacuate" }));
    feed(store, { "gas-1/ppm": 55, "gas-2/ppm": 49.9 }, T0);
    expect(level.evaluate(store, T0).active).toBe(false);
    feed(store, { "gas-1/ppm": 55, "gas-2/ppm": 50 }, T0 + 1000);
    expect(level.evaluate(store, T0 + 1000)).toMatchObject({ active: true, stage: "evacuate" });
    const bit = voteEvaluator(voteRule({ id: "b", points: D.slice(0, 2), votes: 2, when: { bit: 3 } }));
    feed(store, { [D[0]!]: 8, [D[1]!]: 9 }, T0 + 2000);
    expect(bit.evaluate(store, T0 + 2000).active).toBe(true);
    feed(store, { [D[0]!]: 8, [D[1]!]: 7 }, T0 + 3000);
    expect(bit.evaluate(store, T0 + 3000).active).toBe(false);
  });

  it("blind_detector vote: a blind detector counts as voting once one that can see votes, and is a fault with its reason", () => {
    const store = storeWith(D);
    const rule = voteEvaluator(voteRule({ id: "v", points: D, votes: 2, blindDetector: "vote" }));
    feed(store, { [D[0]!]: 0, [D[2]!]: 0 }, T0);
    store.update(D[1]!, bad("comm_fail", T0));
    // Nobody that can see votes: the blind one alone never raises the stage.
    const quiet = rule.evaluate(store, T0);
    expect(quiet.active).toBe(false);
    expect(quiet.faults).toEqual([expect.objectContaining({ point: D[1], quality: "bad", reason: "comm_fail" })]);
    feed(store, { [D[0]!]: 1 }, T0 + 1000);
    const r = rule.evaluate(store, T0 + 1000);
    expect(r).toMatchObject({ active: true, stage: "alarm" });
    expect(r.evidence).toEqual([expect.objectContaining({ point: D[0], value: 1 }), expect.objectContaining({ point: D[1], reason: "comm_fail", counted: expect.stringContaining("as voting") })]);
    expect(r.faults).toEqual([expect.objectContaining({ point: D[1], reason: "comm_fail" })]);
  });

  it("blind_detector abstain: a blind detector does not vote, and too few seeing detectors is a fault of its own", () => {
    const store = storeWith(D);
    const rule = voteEvaluator(voteRule({ id: "v", points: D, votes: 2, blindDetector: "abstain" }));
    feed(store, { [D[0]!]: 1, [D[2]!]: 0 }, T0);
    store.update(D[1]!, bad("comm_fail", T0));
    const r = rule.evaluate(store, T0);
    expect(r.active).toBe(false);
    expect(r.faults).toEqual([expect.objectContaining({ point: D[1], reason: "comm_fail" })]);
    // A second detector goes stale (silence alone, fake time): 1 of 3 can see, 2 needed.
    feed(store, { [D[0]!]: 1 }, T0 + STALE_MS);
    const later = rule.evaluate(store, T0 + STALE_MS + 1);
    expect(later.active).toBe(false);
    expect(later.faults.map((f) => f.reason)).toEqual(["comm_fail", "stale", "too_few_detectors"]);
    expect(String(later.faults[2]!["detail"])).toContain("1 of 3 detectors can see; 2 votes needed");
  });

  it("a detector reading no integer where a value is asked is blind, not a 'no'", () => {
    const store = storeWith(D.slice(0, 2));
    const rule = voteEvaluator(voteRule({ id: "v", points: D.slice(0, 2), votes: 2, blindDetector: "abstain" }));
    feed(store, { [D[0]!]: 1, [D[1]!]: 0.5 }, T0);
    expect(rule.evaluate(store, T0).faults).toEqual([expect.objectContaining({ point: D[1], reason: "not_a_state" }), expect.objectContaining({ reason: "too_few_detectors" })]);
  });

  it("each detector's vote waits out the on-delay (fake time)", () => {
    const store = storeWith(D.slice(0, 2));
    const rule = voteEvaluator(voteRule({ id: "v", points: D.slice(0, 2), votes: 2, onDelayMs: 2000 }));
    feed(store, { [D[0]!]: 1, [D[1]!]: 1 }, T0);
    expect(rule.evaluate(store, T0).active).toBe(false);
    expect(rule.pending!()).toBe(true);
    feed(store, { [D[0]!]: 1, [D[1]!]: 1 }, T0 + 2000);
    expect(rule.evaluate(store, T0 + 2000).active).toBe(true);
  });
});
